"""A room's frame is built once and written to every socket (web/direct_write.py),
only where nothing between the plugin and uvicorn could see or change a frame."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from websockets.frames import Frame, Opcode

from livechat_ext import LiveChat
from livechat_ext.models import MessageKind
from livechat_ext.store import NewInbound
from tests.helpers import Client, eventually, make_settings, serve

OPERATORS = 4


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
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
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
    settings = make_settings(tmp_path)
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

    live_chat = LiveChat(make_settings(tmp_path))
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
