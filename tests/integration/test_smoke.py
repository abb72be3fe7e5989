from livechat_ext import LiveChat
from tests.helpers import Client, make_settings, serve


async def test_auth_join_ping(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        c = await Client.connect(srv.ws_url, srv.token("alice"))
        joined = await c.join("U1")
        assert joined["type"] == "conversation_joined"
        pong = await c.request("ping", "pong")
        assert pong["type"] == "pong"
        await c.close()
