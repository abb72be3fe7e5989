"""Operators are shown by name: presence, the operator list and typing carry
the display name from the token (PROTOCOL.md 1.1 "Presence at scale"), and
`auth_success` says which run of the server answered."""

from __future__ import annotations

from livechat_ext import LiveChat
from tests.helpers import Client, make_settings, serve


async def test_presence_and_typing_carry_the_name_from_the_token(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, presence_grace=0))) as srv:
        watcher = await Client.connect(srv.ws_url, srv.token("watcher", name="Wanda"))
        alice = await Client.connect(srv.ws_url, srv.token("alice", name="Alice Tanaka"))
        online = await watcher.wait_presence("alice", "online")
        assert online["name"] == "Alice Tanaka"
        bob = await Client.connect(srv.ws_url, srv.token("bob"))  # a token without `name`
        online = await watcher.wait_presence("bob", "online")
        assert online["name"] == "bob"

        probe = await Client.connect(srv.ws_url)
        success = await probe.auth(srv.token("probe", name="Pat"))
        names = {o["admin_id"]: o["name"] for o in success["payload"]["operators"]}
        assert names == {"alice": "Alice Tanaka", "bob": "bob", "probe": "Pat", "watcher": "Wanda"}

        await watcher.join("Unamed")
        await alice.join("Unamed")
        await alice.send("typing_start", line_user_id="Unamed")
        typing = await watcher.wait_type("user_typing", admin_id="alice", is_typing=True)
        assert typing["payload"]["name"] == "Alice Tanaka"
        await alice.close()
        offline = await watcher.wait_presence("alice", "offline")
        assert offline["name"] == "Alice Tanaka"
        for client in (watcher, bob, probe):
            await client.close()


async def test_each_run_of_the_server_has_its_own_instance(tmp_path):
    """A client that sees `server_instance` change refetches what it shows: the
    server it talks to now may have another store (the demo restarted with
    --fresh), so its seqs mean nothing there."""
    settings = make_settings(tmp_path)
    instances = []
    for _ in range(2):
        async with serve(LiveChat(settings)) as srv:
            client = await Client.connect(srv.ws_url)
            first = await client.auth(srv.token("alice"))
            again = await client.auth(srv.token("alice"))  # the same run: the same instance
            assert first["payload"]["server_instance"] == again["payload"]["server_instance"]
            instances.append(first["payload"]["server_instance"])
            await client.close()
    assert instances[0] != instances[1] and all(instances)
