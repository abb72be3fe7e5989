"""The README's host example runs: its own webhook route, the handoff check, authorize."""

from __future__ import annotations

import httpx

from examples.host_app import AUTO_REPLIES, authorize, create_app
from livechat_ext import LiveChat
from livechat_ext.line import sign
from livechat_ext.line.testing import text_event, webhook_body
from tests.helpers import CHANNEL_SECRET, Client, make_settings, serve


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
