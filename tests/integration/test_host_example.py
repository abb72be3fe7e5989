"""The README's host example runs: its own webhook route, the handoff check, authorize."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from examples.host_app import AUTO_REPLIES, authorize, create_app
from livechat_ext import LiveChat
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
