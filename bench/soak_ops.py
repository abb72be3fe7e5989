"""The soak's operators: real WebSocket clients that behave like the bundled
JavaScript client (reconnect with backoff, re-join each conversation with
`after_seq` = the highest seq seen, page while `has_more`, resend unanswered
sends with the same `client_msg_id`) and record what they saw for the checks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

import websockets

PING_EVERY = 20.0  # the server closes a socket silent for twice its heartbeat (30 s)


@dataclass
class Seen:
    """One operator's record of one conversation, over all its connections."""

    highest: int = 0  # what a reconnect catches up from (as the JS client keeps it)
    highest_by: str = ""  # the frame that brought it
    seqs: set[int] = field(default_factory=set)
    # (seq, the highest before, the frame that brought that, the frame of seq)
    out_of_order: list[tuple[int, int, str, str]] = field(default_factory=list)
    own_late: int = 0  # one's own message confirmed after later ones: known, not skipped
    catching_up: bool = False
    held: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # live, in catch-up

    def note(self, message: dict[str, Any], by: str) -> None:
        """A message seen in a frame of kind `by` (a live frame, a page of a join,
        or the confirmation of one's own message)."""
        seq = int(message["seq"])
        if seq in self.seqs:
            return  # a repeat (a status change, or the join boundary): not new
        if seq < self.highest and by == "message_sent":
            self.own_late += 1  # the sender wrote it: no catch-up needed
        elif seq < self.highest:
            self.out_of_order.append((seq, self.highest, self.highest_by, by))
        self.seqs.add(seq)
        if seq > self.highest:
            self.highest, self.highest_by = seq, by


@dataclass
class Operator:
    admin_id: str
    url: str
    token: str
    conversations: list[str]
    seen: dict[str, Seen] = field(default_factory=dict)
    view: dict[str, str] = field(default_factory=dict)  # presence, current connection
    pending: dict[str, tuple[str, str]] = field(default_factory=dict)  # client_msg_id -> sent
    answered: dict[str, int] = field(default_factory=dict)  # client_msg_id -> seq
    failed: dict[str, str] = field(default_factory=dict)
    connections: int = 0
    close_codes: list[int | None] = field(default_factory=list)
    repeats: int = 0  # the same (message id, status) received twice on one connection
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False
    _reloading: bool = False
    _back: asyncio.Event | None = None  # set when a reload's new session is ready
    _ws: Any = None
    _joins: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _auth: asyncio.Future[dict[str, Any]] | None = None
    _delivered: set[tuple[str, str]] = field(default_factory=set)
    _ref: int = 0

    def __post_init__(self) -> None:
        self.seen = {user: Seen() for user in self.conversations}

    async def run(self) -> None:
        """Stay connected until `stop`, reconnecting with backoff as a client does."""
        delay = 0.2
        while not self.stopping:
            try:
                async with websockets.connect(self.url, max_size=None, open_timeout=5) as ws:
                    self._ws = ws
                    self.connections += 1
                    delay = 0.2
                    await self._session(ws)
                    self.close_codes.append(ws.close_code)
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                code = getattr(getattr(exc, "rcvd", None), "code", None)
                if self.connections:
                    self.close_codes.append(code)
            finally:
                self._ws = None
                self.ready.clear()
                self._fail_waiters()
            if self._reloading:  # a page reload: back at once
                self._reloading = False
            elif not self.stopping:
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)

    async def _session(self, ws: Any) -> None:
        reader = asyncio.create_task(self._read(ws))
        pinger = asyncio.create_task(self._ping(ws))
        try:
            self._auth = asyncio.get_running_loop().create_future()
            await self._send(ws, "auth", token=self.token)
            await asyncio.wait_for(asyncio.shield(self._auth), 10)
            for user in self.conversations:
                await self._catch_up(ws, user)
            for client_msg_id, (user, text) in list(self.pending.items()):
                await self._send(
                    ws, "message_send", line_user_id=user, text=text, client_msg_id=client_msg_id
                )
            self.ready.set()
            if self._back is not None and not self._reloading:
                self._back.set()
            await reader
        finally:
            pinger.cancel()
            reader.cancel()
            await asyncio.gather(reader, pinger, return_exceptions=True)

    async def _catch_up(self, ws: Any, user: str) -> None:
        seen = self.seen[user]
        seen.catching_up = True
        after = seen.highest if seen.seqs else None
        while True:
            joined = await self._join(ws, user, after)
            for message in joined["payload"]["messages"]:
                seen.note(message, "conversation_joined")
            if not joined["payload"]["has_more"]:
                break
            after = seen.highest
        seen.catching_up = False
        held, seen.held = seen.held, []
        for message, by in held:
            seen.note(message, by)

    async def _join(self, ws: Any, user: str, after: int | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"line_user_id": user}
        if after is not None:
            payload["after_seq"] = after
        ref = await self._send(ws, "join_conversation", **payload)
        future = self._joins[ref] = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(future, 15)

    async def _send(self, ws: Any, type_: str, **payload: Any) -> str:
        self._ref += 1
        ref = str(self._ref)
        await ws.send(json.dumps({"type": type_, "payload": payload, "ref": ref}))
        return ref

    async def _ping(self, ws: Any) -> None:
        while True:
            await asyncio.sleep(PING_EVERY)
            with contextlib.suppress(websockets.WebSocketException):
                await self._send(ws, "ping")

    async def _read(self, ws: Any) -> None:
        self._delivered = set()
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                self._frame(json.loads(raw))

    def _frame(self, frame: dict[str, Any]) -> None:
        kind, payload, ref = frame["type"], frame.get("payload", {}), frame.get("ref")
        if kind == "auth_success" and self._auth is not None and not self._auth.done():
            self.view = {o["admin_id"]: o["status"] for o in payload["operators"]}
            self._auth.set_result(frame)
        elif kind == "conversation_joined" and ref in self._joins:
            self._joins.pop(ref).set_result(frame)
        elif kind == "operator_status":
            self.view[payload["admin_id"]] = payload["status"]
        elif kind == "operators_changed":  # coalesced presence (PROTOCOL.md 1.1)
            for entry in payload["operators"]:
                self.view[entry["admin_id"]] = entry["status"]
        elif kind in ("message_received", "message_sent"):
            self._message(payload["message"], kind)
            if kind == "message_sent":
                self.pending.pop(payload["client_msg_id"], None)
                self.answered[payload["client_msg_id"]] = payload["message"]["seq"]
        elif kind == "error" and payload.get("client_msg_id"):
            if payload["code"] == "delivery_failed":
                self.failed[payload["client_msg_id"]] = payload["message"]
                self.pending.pop(payload["client_msg_id"], None)

    def _message(self, message: dict[str, Any], kind: str) -> None:
        key = (message["id"], message["status"])
        if kind == "message_received" and key in self._delivered:
            self.repeats += 1
        self._delivered.add(key)
        seen = self.seen.get(message["line_user_id"])
        if seen is None:
            return
        if seen.catching_up:
            seen.held.append((message, kind))
        else:
            seen.note(message, kind)

    def _fail_waiters(self) -> None:
        for future in [*self._joins.values(), self._auth]:
            if future is not None and not future.done():
                future.set_exception(ConnectionError("socket closed"))
        self._joins.clear()

    def reply(self, user: str, client_msg_id: str, text: str) -> None:
        """Send now if connected; otherwise (or unanswered) it goes again on reconnect."""
        self.pending[client_msg_id] = (user, text)
        ws = self._ws
        if ws is not None and self.ready.is_set():
            payload = {"line_user_id": user, "text": text, "client_msg_id": client_msg_id}
            asyncio.get_running_loop().create_task(self._try_send(ws, payload))

    async def _try_send(self, ws: Any, payload: dict[str, Any]) -> None:
        with contextlib.suppress(websockets.WebSocketException):
            await self._send(ws, "message_send", **payload)

    async def resend_pending(self) -> None:
        ws = self._ws
        if ws is None or not self.ready.is_set():
            return
        for client_msg_id, (user, text) in list(self.pending.items()):
            await self._try_send(
                ws, {"line_user_id": user, "text": text, "client_msg_id": client_msg_id}
            )

    async def reload(self) -> None:
        """Close the socket and connect again at once, as a page reload does;
        returns once the new connection has caught up."""
        ws = self._ws
        if ws is None:
            return
        self._reloading, self._back = True, asyncio.Event()
        await ws.close(code=1001)
        await asyncio.wait_for(self._back.wait(), 60)

    async def stop(self) -> None:
        self.stopping = True
        ws = self._ws
        if ws is not None:
            await ws.close()
