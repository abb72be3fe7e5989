"""A room's frame is built once and written to every socket (web/direct_write.py),
only where nothing between the plugin and uvicorn could see or change a frame."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.frames import Frame, Opcode

from livechat_ext import LiveChat
from livechat_ext.line import sign
from livechat_ext.line.testing import image_event, webhook_body
from livechat_ext.models import MessageKind
from livechat_ext.store import NewInbound
from tests.helpers import (
    Client,
    eventually,
    make_settings,
    raw_ws_open,
    serve,
    serve_with_fake_line,
    text_frame_header,
)

OPERATORS = 4
MEDIA_USER = "U" + "b" * 32


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The payload of every text frame websockets builds in this process."""
    frames: list[bytes] = []
    serialize = Frame.serialize

    def counting(self: Frame, **kwargs: Any) -> bytes:
        if self.opcode is Opcode.TEXT:
            frames.append(bytes(self.data))
        return serialize(self, **kwargs)

    monkeypatch.setattr(Frame, "serialize", counting)
    return frames


async def _room(srv: Any, **connect: Any) -> list[Client]:
    clients = []
    for i in range(OPERATORS):
        client = await Client.connect(srv.ws_url, srv.token(f"op{i}"), **connect)
        await client.join("U1")
        clients.append(client)
    await eventually(lambda: srv.live_chat.hub.members("conversation:U1") == OPERATORS)
    return clients


async def _message(live_chat: LiveChat, clients: list[Client], text: str) -> list[dict[str, Any]]:
    stored = await live_chat.store.add_inbound(NewInbound("U1", MessageKind.TEXT, text))
    assert stored is not None
    await live_chat.inbound._fan_out(stored.message)
    return [
        await c.wait_for(
            lambda f: f["type"] == "message_received" and f["payload"]["message"]["text"] == text
        )
        for c in clients
    ]


def _builds_of(frames: list[bytes], text: str) -> int:
    return sum(1 for data in frames if b'"message_received"' in data and text.encode() in data)


async def test_a_rooms_frame_is_built_once_for_all_its_sockets(tmp_path, built):
    async with serve(LiveChat(make_settings(tmp_path, direct_write=True))) as srv:
        clients = await _room(srv)
        got = await _message(srv.live_chat, clients, "once for everyone")
        # every operator got the same frame, and it was built one time, not four
        assert len({json.dumps(frame, sort_keys=True) for frame in got}) == 1
        assert _builds_of(built, "once for everyone") == 1
        for client in clients:
            await client.close()


async def test_with_permessage_deflate_each_socket_compresses_its_own(tmp_path, built):
    """A socket that negotiated deflate needs its own compressed bytes: the ASGI
    send builds its frame, as for any socket the direct write cannot serve."""
    settings = make_settings(tmp_path, direct_write=True)
    async with serve(LiveChat(settings), ws_per_message_deflate=True) as srv:
        clients = await _room(srv, compression="deflate")
        assert all(c.ws.protocol.extensions for c in clients)  # deflate is on
        got = await _message(srv.live_chat, clients, "compressed per socket")
        assert len(got) == OPERATORS
        assert _builds_of(built, "compressed per socket") == OPERATORS
        for client in clients:
            await client.close()


async def test_a_host_middleware_that_wraps_sends_sees_every_frame(tmp_path, built):
    """A host's ASGI middleware around the WebSocket's send (tracing, logging)
    is not bypassed: every frame to every socket goes through it."""
    seen: list[str] = []

    class Wiretap:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def tapped(message: Any) -> None:
                if message["type"] == "websocket.send" and message.get("text"):
                    seen.append(message["text"])
                await send(message)

            await self.app(scope, receive, tapped if scope["type"] == "websocket" else send)

    live_chat = LiveChat(make_settings(tmp_path, direct_write=True))
    app = FastAPI()
    app.include_router(live_chat.router)
    app.add_middleware(Wiretap)
    async with serve(live_chat, app=app) as srv:
        clients = await _room(srv)
        await _message(live_chat, clients, "through the wiretap")
        tapped = [t for t in seen if "message_received" in t and "through the wiretap" in t]
        assert len(tapped) == OPERATORS
        assert _builds_of(built, "through the wiretap") == OPERATORS
        for client in clients:
            await client.close()


async def _read_frame(reader: asyncio.StreamReader) -> str:
    """One unmasked text frame from the server."""
    head = await reader.readexactly(2)
    assert head[0] & 0x0F == 0x1, head  # a text frame, never fragmented
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return (await reader.readexactly(length)).decode()


async def _titles(reader: asyncio.StreamReader, count: int) -> list[str]:
    titles: list[str] = []
    while len(titles) < count:
        frame = json.loads(await _read_frame(reader))
        if frame["type"] == "notification":
            titles.append(frame["payload"]["title"])
    return titles


async def test_frames_keep_their_order_when_a_socket_pauses_and_resumes(tmp_path):
    """A reader that stops reading pauses its transport: frames then queue for
    the ASGI send, those pushed meanwhile behind them; once it reads again they
    go out in order, and the ones after take the direct write again."""
    settings = make_settings(tmp_path, send_queue_size=1000, direct_write=True)
    async with serve(LiveChat(settings)) as srv:
        live_chat = srv.live_chat
        reader, writer = await raw_ws_open(srv.port)
        auth = json.dumps({"type": "auth", "token": srv.token("slow")}).encode()
        header = text_frame_header(len(auth))  # a client's frame: masked
        mask = header[-4:]
        writer.write(header + bytes(b ^ mask[i % 4] for i, b in enumerate(auth)))
        assert json.loads(await _read_frame(reader))["type"] == "auth_success"
        [conn] = [c for c in live_chat.hub.connections.values() if c.admin_id == "slow"]
        body = "z" * 300_000
        for i in range(60):  # 18 MB unread: more than the kernel's socket buffers hold
            await live_chat.notify("bulk", str(i), body)
        assert conn._backlog, "the paused socket's frames wait for the ASGI send"
        for i in range(60, 65):  # pushed while it is paused: behind the others
            await live_chat.notify("bulk", str(i), "small")
        titles = await _titles(reader, 65)
        await eventually(lambda: not conn._backlog and conn._writer is None)
        for i in range(65, 70):  # the direct write again
            await live_chat.notify("bulk", str(i), "small")
        titles += await _titles(reader, 5)
        assert titles == [str(i) for i in range(70)]
        writer.close()


async def test_each_operator_gets_content_urls_signed_for_them(tmp_path):
    """A photo's frame differs per operator (their own signed URLs), so it is
    made for each socket; the room's other frames are still built once."""
    async with serve_with_fake_line(tmp_path, direct_write=True) as srv:
        event = image_event(MEDIA_USER)
        srv.fake.add_content(str(event["message"]["id"]), b"\x89PNG", "image/png")
        ops = []
        for admin in ("op1", "op2"):
            op = await Client.connect(srv.ws_url, srv.token(admin))
            await op.join(MEDIA_USER)
            ops.append(op)
        body = webhook_body([event])
        async with httpx.AsyncClient(base_url=srv.http_url) as http:
            answer = await http.post(
                "/line/webhook",
                content=body,
                headers={
                    "X-Line-Signature": sign(body, srv.live_chat.settings.line_channel_secret)
                },
            )
        assert answer.status_code == 200
        urls = []
        for admin, op in zip(("op1", "op2"), ops, strict=True):
            received = await op.wait_type("message_received")
            url = received["payload"]["message"]["data"]["content_url"]
            assert f"op={admin}&" in url
            urls.append(url)
        assert urls[0].split("sig=")[1] != urls[1].split("sig=")[1]
        for op in ops:
            await op.close()


async def test_on_by_default_and_off_every_frame_takes_the_asgi_send(tmp_path, built):
    """The direct write is on unless a host turns it off (`LIVECHAT_DIRECT_WRITE=false`):
    then every socket's frame is built by the server, once per socket."""
    for part in ("on", "off"):
        (tmp_path / part).mkdir()
    async with serve(LiveChat(make_settings(tmp_path / "on"))) as srv:
        clients = await _room(srv)
        await _message(srv.live_chat, clients, "written directly")
        assert _builds_of(built, "written directly") == 1
        for client in clients:
            await client.close()
    async with serve(LiveChat(make_settings(tmp_path / "off", direct_write=False))) as srv:
        clients = await _room(srv)
        await _message(srv.live_chat, clients, "through asgi")
        assert _builds_of(built, "through asgi") == OPERATORS
        for client in clients:
            await client.close()
