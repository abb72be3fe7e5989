"""Operator messages out: store as `pending`, deliver once, confirm or fail."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from ..background import Tasks
from ..errors import DeliveryError, ErrorCode, StoreError
from ..metrics import Metrics
from ..operator import Operator
from ..realtime.connection import Connection
from ..realtime.hub import Hub, conversation_room

if TYPE_CHECKING:
    from .updates import ConversationUpdates
from ..models import Message, MessageKind, MessageStatus, utcnow
from ..protocol.server import MessageReceived, MessageSent, MessageUpdated, encode, error
from ..store.base import OutboundStore

log = logging.getLogger("livechat_ext.flows.outbound")

RETRY_KEY_WINDOW = timedelta(hours=24)
"""How long LINE remembers an `X-Line-Retry-Key`: a push after that with the same
key is a new push, and a message LINE had already accepted would go out twice."""
EXPIRED = "not sent: LINE's 24-hour retry window has passed; send it again as a new message"


class Delivery(Protocol):
    """Sends a stored outbound message to the LINE user."""

    async def deliver(self, message: Message) -> dict[str, Any]:
        """Deliver it; return fields to merge into the message's `data`.
        Raise `DeliveryError` when it cannot be delivered."""


class NoDelivery:
    """Used when no channel access token is configured: every send fails clearly."""

    async def deliver(self, message: Message) -> dict[str, Any]:
        raise DeliveryError("LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN is not configured")


@dataclass(frozen=True)
class Sticker:
    """A LINE sticker an operator sends instead of text (kind `sticker`)."""

    package_id: str
    sticker_id: str

    def data(self) -> dict[str, Any]:
        return {"package_id": self.package_id, "sticker_id": self.sticker_id}


@dataclass(frozen=True)
class _Result:
    message: Message
    error: DeliveryError | None
    fan_out: bool = True  # False when another node already fanned it out


class Outbound:
    """Runs deliveries in the background so a slow LINE API never blocks a
    connection's other frames; idempotent on (line_user_id, client_msg_id)."""

    def __init__(
        self,
        store: OutboundStore,
        hub: Hub,
        delivery: Delivery,
        *,
        lease: float,
        updates: ConversationUpdates,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_nameless: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.delivery = delivery
        self.lease = lease
        self.updates = updates
        self.metrics = metrics
        self.clock = clock
        self._on_nameless = on_nameless  # a conversation with no name: its profile is wanted
        self.deliveries = Tasks("outbound deliveries")
        self._inflight: dict[str, asyncio.Future[_Result | None]] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def submit(
        self,
        conn: Connection | None,
        operator: Operator,
        line_user_id: str,
        text: str | None,
        client_msg_id: str,
        ref: str | None,
        *,
        sticker: Sticker | None = None,
    ) -> list[str]:
        """Store the message (`text`, or a `sticker`) and start its delivery;
        returns the immediate replies."""
        stored = await self.store.add_outbound(
            line_user_id,
            client_msg_id,
            operator.admin_id,
            None if sticker else text,
            kind=MessageKind.STICKER if sticker else MessageKind.TEXT,
            data=sticker.data() if sticker else None,
        )
        message = stored.message
        if stored.created:  # the room sees it at once as pending, later its outcome as an update
            await self._fan_out(message, conn.id if conn else None, new=True)
            if stored.display_name is None and self._on_nameless is not None:
                self._on_nameless(line_user_id)  # an operator wrote first: fetch the name
        if message.status is MessageStatus.SENT:
            return [encode(MessageSent(client_msg_id=client_msg_id, message=message), ref)]
        running = self._inflight.get(message.id)
        if running is not None:
            self.deliveries.spawn(self._reply_when_done(conn, running, ref))
            return []
        if message.status is MessageStatus.FAILED:  # tried again: the room sees it pending
            message = await self.store.set_status(message.id, MessageStatus.PENDING)
            await self._fan_out(message, None)
        future: asyncio.Future[_Result | None] = asyncio.get_running_loop().create_future()
        self._inflight[message.id] = future
        self.deliveries.spawn(self._deliver(conn, message, future, ref))
        return []

    async def _reply_when_done(
        self, conn: Connection | None, future: asyncio.Future[_Result | None], ref: str | None
    ) -> None:
        result = await asyncio.shield(future)
        if conn is not None and result is not None:
            self._reply_in_order(conn, result.message, self._answer(result, ref))

    def _reply_in_order(self, conn: Connection, message: Message, frame: str) -> None:
        """Answer the sender once its room got every message before this one: the
        answer goes to it alone, and must not overtake one still on its way."""
        room = conversation_room(message.line_user_id)
        self.hub.order.after(room, message.seq, lambda: self._reply(conn, frame))

    def _reply(self, conn: Connection, frame: str) -> None:
        if conn.push(frame) and self.metrics is not None:
            self.metrics.frames_sent(frame)

    @staticmethod
    def _answer(result: _Result, ref: str | None) -> str:
        msg = result.message
        if result.error is None:
            return encode(MessageSent(client_msg_id=msg.client_msg_id or "", message=msg), ref)
        return error(
            ErrorCode.DELIVERY_FAILED,
            f"LINE did not accept the message: {result.error.message}",
            ref=ref,
            client_msg_id=msg.client_msg_id,
            details={
                "status": result.error.status,
                "line": result.error.detail,
                "transient": result.error.transient,
            },
        )

    async def _deliver(
        self,
        conn: Connection | None,
        message: Message,
        future: asyncio.Future[_Result | None],
        ref: str | None,
    ) -> None:
        result: _Result | None
        try:
            result = await self._deliver_once(message)
        except StoreError:
            log.exception("store failed while delivering %s", message.id)
            result = _Result(message, DeliveryError("storage is unavailable", transient=True))
        except Exception:
            log.exception("delivery of %s failed unexpectedly", message.id)
            result = await self._mark_failed(message, "internal error")
        except BaseException:
            future.cancel()
            raise
        finally:
            self._inflight.pop(message.id, None)
        if result is None:  # another node kept it past its lease: let the client try again
            result = _Result(
                message,
                DeliveryError("still being delivered elsewhere; send again", transient=True),
                fan_out=False,
            )
        if not future.done():
            future.set_result(result)
        if conn is not None:
            self._reply_in_order(conn, message, self._answer(result, ref))
        if result.fan_out:  # sent or failed: every tab in the room, the sender's too
            await self._fan_out(result.message, None)

    async def _deliver_once(self, message: Message) -> _Result | None:
        async with self._lock(message.line_user_id):
            # claim only once it is our turn, so waiting in line does not eat the lease
            if await self.store.claim(message.id, self.lease):
                return await self._send(message)
        return await self._outcome_elsewhere(message)

    def _lock(self, line_user_id: str) -> asyncio.Lock:
        lock = self._locks.get(line_user_id)
        if lock is None:
            lock = self._locks[line_user_id] = asyncio.Lock()
        return lock

    async def _push(self, message: Message) -> _Result:
        async with self._lock(message.line_user_id):  # one conversation's messages in order
            return await self._send(message)

    async def _send(self, message: Message) -> _Result:
        if self._retry_key_expired(message):
            # whether LINE took an earlier attempt is unknown: pushing now could send twice
            log.warning("message %s is older than LINE's retry window: not pushed", message.id)
            failed = await self.store.set_status(message.id, MessageStatus.FAILED, error=EXPIRED)
            return _Result(failed, DeliveryError(EXPIRED))
        try:
            data = await self.delivery.deliver(message)
        except DeliveryError as exc:
            failed = await self.store.set_status(
                message.id, MessageStatus.FAILED, error=exc.message
            )
            return _Result(failed, exc)
        sent = await self.store.set_status(message.id, MessageStatus.SENT, data=data)
        return _Result(sent, None)

    def _retry_key_expired(self, message: Message) -> bool:
        # the key must still hold when the last attempt ends, a lease after the claim
        age = self.clock() - message.created_at
        return age >= RETRY_KEY_WINDOW - timedelta(seconds=self.lease)

    async def _mark_failed(self, message: Message, reason: str) -> _Result:
        error = DeliveryError(reason, transient=True)
        try:
            failed = await self.store.set_status(message.id, MessageStatus.FAILED, error=reason)
        except StoreError:
            return _Result(message, error, fan_out=False)
        return _Result(failed, error)

    async def _outcome_elsewhere(self, message: Message) -> _Result | None:
        """Another node holds the delivery lease: wait for its outcome, or take
        over once its lease runs out (that node died mid-send)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lease + 1.0
        delay = 0.05
        while loop.time() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            current = await self.store.get_message(message.id)
            if current is None:
                return None
            if current.status is MessageStatus.SENT:
                return _Result(current, None, fan_out=False)
            if current.status is MessageStatus.FAILED:
                detail = DeliveryError(current.error or "delivery failed")
                return _Result(current, detail, fan_out=False)
            if await self.store.claim(message.id, self.lease):
                return await self._push(current)
        log.warning("message %s is still pending elsewhere; the client may resend", message.id)
        return None

    async def _fan_out(self, message: Message, exclude: str | None, *, new: bool = False) -> None:
        """A new message once (`message_received`), every later state as `message_updated`."""
        payload = MessageReceived(message=message) if new else MessageUpdated(message=message)
        await self.hub.publish(
            conversation_room(message.line_user_id),
            encode(payload),
            exclude=exclude,
            seq=message.seq,
        )
        await self.updates.changed(message.line_user_id)

    async def resume(self, older_than: datetime) -> int:
        """Deliver outbound messages left `pending` by an earlier run (a crash or a
        shutdown mid-send); returns how many this node took over. One older than
        LINE's retry window is marked `failed` instead (see `RETRY_KEY_WINDOW`)."""
        taken = 0
        for message in await self.store.undelivered_outbound(older_than):
            if message.id in self._inflight or not await self.store.claim(message.id, self.lease):
                continue
            taken += 1
            result = await self._push(message)
            await self._fan_out(result.message, None)
            if result.error is not None:
                log.warning(
                    "pending message %s failed on resume: %s", message.id, result.error.message
                )
        return taken

    async def close(self, drain: float = 3.0) -> None:
        """Wait briefly for running deliveries, then cancel what is left: it stays
        `pending` under its lease, for another node or the next start to send."""
        await self.deliveries.close(drain=drain, grace=1.0)


class LineDelivery:
    """Pushes a text or sticker message through the LINE Messaging API with a retry key
    derived from (`line_user_id`, `client_msg_id`), so a retry never sends twice."""

    def __init__(self, client: Any, metrics: Metrics | None = None) -> None:
        self.client = client
        self.metrics = metrics

    async def deliver(self, message: Message) -> dict[str, Any]:
        from ..line import retry_key_for

        key = retry_key_for(message.line_user_id, message.client_msg_id or message.id)
        with self.metrics.line_call("push") if self.metrics else contextlib.nullcontext():
            if message.kind is MessageKind.STICKER:
                sticker = {
                    "type": "sticker",
                    "packageId": str(message.data.get("package_id", "")),
                    "stickerId": str(message.data.get("sticker_id", "")),
                }
                result = await self.client.push(message.line_user_id, [sticker], retry_key=key)
            else:
                result = await self.client.push_text(
                    message.line_user_id, message.text or "", retry_key=key
                )
        data: dict[str, Any] = {}
        if result.message_ids:
            data["line_message_id"] = result.message_ids[0]
        if result.request_id:
            data["line_request_id"] = result.request_id
        return data
