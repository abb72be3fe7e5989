"""The README's host example runs: its own webhook route, the handoff check, authorize."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from examples.host_app import AUTO_REPLIES, authorize, create_app
from livechat_ext import LiveChat, LiveChatSettings
from livechat_ext.line import sign
from livechat_ext.line.testing import text_event, webhook_body
from tests.cluster import Node, node_env
from tests.conftest import free_port
from tests.helpers import (
    CHANNEL_SECRET,
    Client,
    make_settings,
    raw_ws_open,
    read_close_code,
    serve,
    text_frame_header,
)


async def test_host_example_hands_off_to_humans(tmp_path):
    live_chat = LiveChat(make_settings(tmp_path, webhook_path="off"), authorize=authorize)
    app = create_app(live_chat)
    async with serve(live_chat, app) as srv:

        async def post(text: str) -> int:
            body = webhook_body([text_event("Uhost", text)])
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"{srv.http_url}/callback",
                    content=body,
                    headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
                )
            return r.status_code

        AUTO_REPLIES.clear()
        assert await post("hello bot") == 200
        assert AUTO_REPLIES == [("Uhost", "Thanks! An operator will be with you shortly.")]
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Uhost")
        assert await post("is a human there?") == 200
        got = await op.wait_type("message_received")
        assert got["payload"]["message"]["text"] == "is a human there?"
        assert len(AUTO_REPLIES) == 1  # the bot stayed quiet
        async with httpx.AsyncClient() as http:  # the plugin's own route is off
            assert (
                await http.post(f"{srv.http_url}/line/webhook", content=b"{}")
            ).status_code == 404
        vip = await op.request("join_conversation", "conversation_joined", line_user_id="Uvip1")
        assert vip["payload"]["code"] == "forbidden"
        await op.close()


ROOT = Path(__file__).resolve().parents[2]


async def test_the_documented_serve_line_refuses_big_frames_and_headers_early(
    tmp_path, store_backend
):
    """`livechat-ext serve --app examples.host_app:create_app --factory`, as the
    example says to run it: an unauthenticated socket announcing a frame one byte
    over LIVECHAT_MAX_FRAME_BYTES is closed 1009 from the frame's header on (none
    of its payload is ever sent), and endless headers are cut off."""
    env = node_env(store_backend, "memory://", "unused", LIVECHAT_MAX_FRAME_BYTES="4096")
    app_args = ("--app", "examples.host_app:create_app", "--factory", "--app-dir", str(ROOT))
    node = Node(free_port(), env, log_path=f"{tmp_path}/host.log", serve_args=app_args)
    await node.start()
    try:
        reader, writer = await raw_ws_open(node.port)
        writer.write(text_frame_header(4097))
        await writer.drain()
        assert await asyncio.wait_for(read_close_code(reader), 10) == 1009
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(b"GET /live-chat/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000)
        await writer.drain()  # and the headers never end
        answer = await asyncio.wait_for(reader.read(), 10)
        assert answer.startswith(b"HTTP/1.1 400"), answer
        writer.close()
        async with httpx.AsyncClient() as http:  # the server itself is fine
            assert (await http.get(f"{node.http_url}/live-chat/health")).status_code == 200
    finally:
        node.stop()


def readme_host_app(monkeypatch, settings: LiveChatSettings) -> tuple[LiveChat, FastAPI]:
    """The README's own-route snippet, run as written (its settings from the environment)."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n", readme.index("2. Keep your own route")) + len("```python\n")
    code = readme[start : readme.index("```", start)]
    for name, value in settings.model_dump().items():
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            monkeypatch.setenv(f"LIVECHAT_{name.upper()}", str(value))
    monkeypatch.setenv("LIVECHAT_WEBHOOK_PATH", "off")
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["live_chat"], namespace["app"]


async def _post_unfinished(port: int, path: str, head: str, body: bytes) -> tuple[bytes, bytes]:
    """A POST whose body never ends: the head, part of a body, then nothing.
    The server's status line, and the rest of what it sends until it hangs up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode() + body)
    await writer.drain()
    try:
        status = await asyncio.wait_for(reader.readline(), 15)
        rest = await asyncio.wait_for(reader.read(), 15)  # then it closes the connection
    finally:
        writer.close()
    return status, rest


@pytest.mark.parametrize("route", ["built-in", "example", "readme"])
async def test_webhook_bodies_are_read_with_a_deadline_and_a_size_limit(
    tmp_path, monkeypatch, route
):
    settings = make_settings(tmp_path, webhook_max_bytes=4096, webhook_read_timeout=0.3)
    if route == "built-in":
        live_chat, app, path = LiveChat(settings), None, "/line/webhook"
    elif route == "example":
        live_chat = LiveChat(settings.model_copy(update={"webhook_path": None}))
        app, path = create_app(live_chat), "/callback"
    else:
        (live_chat, app), path = readme_host_app(monkeypatch, settings), "/callback"
    body = webhook_body([text_event("Uslow", "hello")])
    signed = f"X-Line-Signature: {sign(body, CHANNEL_SECRET)}\r\n"
    async with serve(live_chat, app) as srv:
        # a slow body: half of it, then silence
        status, _ = await _post_unfinished(
            srv.port, path, f"{signed}Content-Length: {len(body)}\r\n", body[: len(body) // 2]
        )
        assert b" 408 " in status
        # a huge declared body: refused before any of it is sent
        status, _ = await _post_unfinished(srv.port, path, "Content-Length: 200000000\r\n", b"")
        assert b" 413 " in status
        # a body without a declared length that goes past the limit and never ends
        chunk = b"x" * 5000
        status, _ = await _post_unfinished(
            srv.port,
            path,
            "Transfer-Encoding: chunked\r\n",
            f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n",
        )
        assert b" 413 " in status
        async with httpx.AsyncClient() as http:  # and a real webhook still goes through
            r = await http.post(
                f"{srv.http_url}{path}",
                content=body,
                headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
            )
        assert r.status_code == 200
        page = await srv.live_chat.store.history("Uslow", limit=5)
        assert [m.text for m in page.messages] == ["hello"]
