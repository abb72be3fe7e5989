"""Test helpers: a real uvicorn serving a LiveChat on a free port, and a small
WebSocket client that awaits frames by type (no sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI

from livechat_ext import LiveChat, LiveChatSettings, mint_token
from tests.conftest import free_port

SECRET = "test-jwt-secret-0123456789abcdef0123456789"
STORE = {"url": ""}  # set per test by tests/integration/conftest.py (SQLite or PostgreSQL)
CHANNEL_SECRET = "test-channel-secret"
# LiveChat needs an access token; tests without a fake LINE API send to a closed
# loopback port instead, so a send fails at once (and never leaves the machine)
NO_LINE = {
    "line_channel_access_token": "test-access-token",
    "line_api_base_url": "http://127.0.0.1:9",
    "line_data_base_url": "http://127.0.0.1:9",
    "line_max_attempts": 1,
}


def make_settings(tmp_path: Any, **overrides: Any) -> LiveChatSettings:
    values: dict[str, Any] = {
        "jwt_secret": SECRET,
        "line_channel_secret": CHANNEL_SECRET,
        "store_url": STORE["url"] or f"sqlite+aiosqlite:///{tmp_path}/livechat.db",
        "presence_grace": 0.2,
        "data_dir": tmp_path,
    }
    if "line_api_base_url" not in overrides:
        values.update(NO_LINE)
    values.update(overrides)
    return LiveChatSettings(**values)


@dataclass
class Server:
    live_chat: LiveChat
    port: int
    server: uvicorn.Server

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/live-chat"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, admin_id: str, **kwargs: Any) -> str:
        return mint_token(self.live_chat.settings, admin_id, **kwargs)


@contextlib.asynccontextmanager
async def serve(
    live_chat: LiveChat,
    app: FastAPI | None = None,
    port: int | None = None,
    log_level: str = "warning",
    **options: Any,
) -> AsyncIterator[Server]:
    """Run `live_chat` in a real uvicorn on a free port until the block ends
    (`options`: more `uvicorn.Config` arguments)."""
    if app is None:
        app = FastAPI()
        app.include_router(live_chat.router)
    port = port or free_port()
    # as `livechat-ext serve` (uvicorn_options): no permessage-deflate, so a
    # room's frames take the direct write (tests that want deflate ask for it)
    options = {"ws_ping_interval": None, "ws_per_message_deflate": False, **options}
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level=log_level, lifespan="on", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.01)  # uvicorn exposes no start event; poll its flag
    try:
        yield Server(live_chat, port, server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@dataclass
class Client:
    """A real WebSocket client that collects frames and awaits them by predicate."""

    ws: Any
    frames: list[dict[str, Any]] = field(default_factory=list)
    _cond: asyncio.Condition = field(default_factory=asyncio.Condition)
    _reader: asyncio.Task[None] | None = None
    close_code: int | None = None
    _ref: int = 0

    @classmethod
    async def connect(cls, url: str, token: str | None = None, **kwargs: Any) -> Client:
        ws = await websockets.connect(url, max_size=None, **kwargs)
        client = cls(ws)
        client._reader = asyncio.create_task(client._read())
        if token is not None:
            await client.auth(token)
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                async with self._cond:
                    self.frames.append(json.loads(raw))
                    self._cond.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            async with self._cond:
                self._cond.notify_all()

    async def send(self, type_: str, **payload: Any) -> str:
        self._ref += 1
        ref = str(self._ref)
        await self.ws.send(json.dumps({"type": type_, "payload": payload, "ref": ref}))
        return ref

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0, *, start: int = 0
    ) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            async with self._cond:
                while True:
                    for frame in self.frames[start:]:
                        if predicate(frame):
                            return frame
                    if self._reader is not None and self._reader.done():
                        raise ConnectionError(f"closed with {self.close_code}; got {self.frames}")
                    await self._cond.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_type(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        def ok(frame: dict[str, Any]) -> bool:
            if frame["type"] != type_:
                return False
            return all(frame["payload"].get(k) == v for k, v in match.items())

        return await self.wait_for(ok, timeout)

    async def request(
        self, type_: str, answer: str, timeout: float = 5.0, **payload: Any
    ) -> dict[str, Any]:
        ref = await self.send(type_, **payload)
        return await self.wait_for(lambda f: f.get("ref") == ref, timeout)

    async def auth(self, token: str) -> dict[str, Any]:
        return await self.request("auth", "auth_success", token=token)

    async def join(self, line_user_id: str, after_seq: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"line_user_id": line_user_id}
        if after_seq is not None:
            payload["after_seq"] = after_seq
        return await self.request("join_conversation", "conversation_joined", **payload)

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == type_]

    def presence(self) -> list[dict[str, Any]]:
        """Every presence change this client was told, in order: each
        `operator_status` payload and each entry of an `operators_changed` (1.1)."""
        return [entry for frame in self.frames for entry in presence_entries(frame)]

    def presence_of(self, admin_id: str) -> list[dict[str, Any]]:
        return [p for p in self.presence() if p["admin_id"] == admin_id]

    async def wait_presence(
        self, admin_id: str, status: str, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait until a presence frame (either kind) tells `admin_id` is `status`;
        that operator's entry."""

        def about(frame: dict[str, Any]) -> dict[str, Any] | None:
            for entry in presence_entries(frame):
                if entry["admin_id"] == admin_id and entry["status"] == status:
                    return entry
            return None

        return about(await self.wait_for(lambda f: about(f) is not None, timeout))  # type: ignore[return-value]

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader


def presence_entries(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The presence changes a frame carries: one for `operator_status`, the list
    of an `operators_changed`, none for any other frame."""
    if frame["type"] == "operator_status":
        return [frame["payload"]]
    if frame["type"] == "operators_changed":
        return list(frame["payload"]["operators"])
    return []


@dataclass
class LineServer(Server):
    fake: Any = None


@contextlib.asynccontextmanager
async def serve_with_fake_line(
    tmp_path: Any,
    settings: LiveChatSettings | None = None,
    *,
    authorize: Any = None,
    **overrides: Any,
) -> AsyncIterator[LineServer]:
    """The plugin and a fake LINE Messaging API on one real uvicorn (loopback),
    with `LIVECHAT_LINE_API_BASE_URL` pointing at the fake."""
    from livechat_ext.simulator import FakeLine, create_fake_line_app

    port = free_port()
    fake = FakeLine("test-access-token")
    base = f"http://127.0.0.1:{port}/fake-line"
    if settings is None:
        overrides.setdefault("line_channel_access_token", "test-access-token")
        overrides.setdefault("line_api_base_url", base)
        overrides.setdefault("line_data_base_url", base)
        settings = make_settings(tmp_path, **overrides)
    live_chat = LiveChat(settings, authorize=authorize)
    app = FastAPI()
    app.include_router(live_chat.router)
    app.mount("/fake-line", create_fake_line_app(fake))
    async with serve(live_chat, app, port) as srv:
        yield LineServer(srv.live_chat, srv.port, srv.server, fake)
        fake.close()


def idle(live_chat: LiveChat) -> bool:
    """No background work left: look-ups, loading animations, deliveries."""
    return not live_chat.tasks and not live_chat.outbound.deliveries


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until server-side state satisfies `predicate` (for state that has no
    event a client could await, such as clean-up after a close)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def raw_ws_open(
    port: int, path: str = "/ws/live-chat"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket handshake by hand, for clients that send what a library would not."""
    import base64
    import os

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.decode(errors="replace"))
    return reader, writer


def text_frame_header(length: int) -> bytes:
    """A masked text frame's header (FIN set) announcing `length` payload bytes,
    with its mask; the payload, masked with it, would follow."""
    import os
    import struct

    if length < 126:
        size = bytes([0x80 | length])
    elif length < 1 << 16:
        size = bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        size = bytes([0x80 | 127]) + struct.pack("!Q", length)
    return bytes([0x81]) + size + os.urandom(4)


async def read_close_code(reader: asyncio.StreamReader) -> int:
    """Read server frames until the close frame; its code."""
    import struct

    while True:
        first, second = await reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        if first & 0x0F == 0x8:
            return int(struct.unpack("!H", payload[:2])[0]) if length >= 2 else 1005


async def raw_silent_client(port: int, frames: list[str]) -> asyncio.StreamWriter:
    """A WebSocket client that sends `frames`, then never reads again: a peer
    that cannot keep up, down to the TCP buffers."""
    import socket

    _reader, writer = await raw_ws_open(port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for text in frames:
        data = text.encode()
        header = text_frame_header(len(data))
        mask = header[-4:]
        writer.write(header + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    await writer.drain()
    return writer
