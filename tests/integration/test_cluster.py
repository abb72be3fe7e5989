"""Two real server processes on different ports sharing Redis and the store."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from livechat_ext.line import sign
from livechat_ext.line.testing import text_event, webhook_body
from tests.cluster import PrivateRedis, cluster, fake_line_server
from tests.helpers import CHANNEL_SECRET, Client, eventually


async def registered_on_nodes(redis_url: str, prefix: str, admin_id: str, n: int) -> None:
    """Wait until `admin_id` is recorded in the cluster state of `n` nodes (the
    state a node writes after a connection authenticates; no client sees it)."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)

    async def count() -> int:
        keys = [k async for k in client.scan_iter(f"{prefix}:node:*:ops")]
        return sum([bool(await client.hexists(k, admin_id)) for k in keys])

    try:
        for _ in range(500):
            if await count() >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{admin_id} not registered on {n} nodes")
    finally:
        await client.aclose()


async def post(node, events) -> int:
    body = webhook_body(events)
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{node.http_url}/line/webhook",
            content=body,
            headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
        )
    return r.status_code


async def broker_back(node, timeout: float = 20.0) -> None:
    """Wait until the node's health says its broker is connected again."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as http:
        while (await http.get(f"{node.http_url}/live-chat/health")).json()["broker"] != "ok":
            assert asyncio.get_running_loop().time() < deadline, "the broker did not come back"
            await asyncio.sleep(0.05)


async def history(node, token: str, user: str, limit: int = 500) -> list[dict]:
    async with httpx.AsyncClient() as http:
        r = await http.get(
            f"{node.http_url}/live-chat/api/conversations/{user}/messages",
            params={"limit": limit},
            headers={"Authorization": f"Bearer {token}"},
        )
    r.raise_for_status()
    return r.json()["messages"]


async def test_webhook_on_b_reaches_operator_on_a_and_typing_and_presence_cross(
    tmp_path, store_backend, redis_url
):
    async with cluster(tmp_path, store_backend, redis_url) as c:
        a, b = c.nodes
        alice = await Client.connect(a.ws_url, c.token("alice"))
        bob_watch = await Client.connect(b.ws_url, c.token("bob"))
        await bob_watch.wait_presence("bob", "online")
        await alice.join("Ux")
        await bob_watch.join("Ux")
        assert await post(b, [text_event("Ux", "via B")]) == 200
        got = await alice.wait_type("message_received")
        assert got["payload"]["message"]["text"] == "via B"
        await alice.send("typing_start", line_user_id="Ux")
        await bob_watch.wait_type("user_typing", admin_id="alice", is_typing=True)
        carol = await Client.connect(b.ws_url, c.token("carol"))
        await alice.wait_presence("carol", "online")
        snapshot = {
            o["admin_id"]: o["status"]
            for o in (await carol.auth(c.token("carol")))["payload"]["operators"]
        }
        assert snapshot["alice"] == "online"  # alice is on the other process
        joined = await carol.join("Ux")
        assert joined["payload"]["typing"] == ["alice"]
        await carol.close()
        await alice.wait_presence("carol", "offline")
        for client in (alice, bob_watch):
            await client.close()


async def test_operator_on_both_processes_is_online_once(tmp_path, store_backend, redis_url):
    async with cluster(tmp_path, store_backend, redis_url) as c:
        a, b = c.nodes
        watcher = await Client.connect(a.ws_url, c.token("watcher"))
        on_a = await Client.connect(a.ws_url, c.token("dana"))
        await watcher.wait_presence("dana", "online")
        on_b = await Client.connect(b.ws_url, c.token("dana"))
        await registered_on_nodes(redis_url, c.prefix, "dana", 2)
        await on_a.close()
        # dana still has a connection on B: a round trip through B proves the order
        await on_b.request("ping", "pong")
        await watcher.request("ping", "pong")
        await on_b.close()
        await watcher.wait_presence("dana", "offline")
        statuses = [p["status"] for p in watcher.presence_of("dana")]
        assert statuses == ["online", "offline"], watcher.presence()
        for node in (a, b):  # both processes agree she is gone
            probe = await Client.connect(node.ws_url, c.token("probe"))
            ops = {
                o["admin_id"]: o["status"]
                for o in probe.of_type("auth_success")[0]["payload"]["operators"]
            }
            assert ops.get("dana", "offline") == "offline", (node.port, ops)
            assert ops["watcher"] == "online"
            await probe.close()
        await watcher.close()


async def test_redelivered_webhook_to_both_is_stored_once(tmp_path, store_backend, redis_url):
    async with cluster(tmp_path, store_backend, redis_url) as c:
        a, b = c.nodes
        op = await Client.connect(a.ws_url, c.token("op"))
        await op.join("Ud")
        event = text_event("Ud", "once only")
        codes = await asyncio.gather(
            post(a, [event]),
            post(b, [dict(event, deliveryContext={"isRedelivery": True})]),
            post(b, [event]),
        )
        assert codes == [200, 200, 200]
        assert [m["text"] for m in await history(a, c.token("op"), "Ud")] == ["once only"]
        await post(a, [text_event("Ud", "marker")])
        await op.wait_for(
            lambda f: (
                f["type"] == "message_received" and f["payload"]["message"]["text"] == "marker"
            )
        )
        assert [f["payload"]["message"]["text"] for f in op.of_type("message_received")] == [
            "once only",
            "marker",
        ]
        await op.close()


async def test_fifty_concurrent_sends_from_both_processes(tmp_path, store_backend, redis_url):
    async with fake_line_server() as (fake, base):
        async with cluster(
            tmp_path,
            store_backend,
            redis_url,
            LIVECHAT_LINE_API_BASE_URL=base,
            LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN="cluster-access-token",
            LIVECHAT_RATE_LIMIT_BURST="100",
        ) as c:
            a, b = c.nodes
            ops = [
                await Client.connect(n.ws_url, c.token(f"op{i}"))
                for i, n in enumerate((a, b, a, b))
            ]
            sends = [
                ops[i % 4].request(
                    "message_send",
                    "message_sent",
                    line_user_id="Uc",
                    text=f"m{i}",
                    client_msg_id=f"c{i}",
                    timeout=60,
                )
                for i in range(50)
            ]
            answers = await asyncio.gather(*sends)
            assert {a["type"] for a in answers} == {"message_sent"}
            seqs = sorted(a["payload"]["message"]["seq"] for a in answers)
            assert seqs == list(range(1, 51))
            stored = await history(b, c.token("op0"), "Uc")
            assert [m["seq"] for m in stored] == list(range(1, 51))
            assert sorted(m["text"] for m in stored) == sorted(f"m{i}" for i in range(50))
            # the same client_msg_id sent to both processes pushes once
            twice = await asyncio.gather(
                ops[0].request(
                    "message_send",
                    "message_sent",
                    line_user_id="Uc",
                    text="dup",
                    client_msg_id="same",
                ),
                ops[1].request(
                    "message_send",
                    "message_sent",
                    line_user_id="Uc",
                    text="dup",
                    client_msg_id="same",
                ),
            )
            await fake.wait_for_pushes(51)
            assert [p.messages[0]["text"] for p in fake.pushes].count("dup") == 1
            assert any(t["type"] == "message_sent" for t in twice)
            for op in ops:
                await op.close()


async def test_sigkill_takes_operators_offline_elsewhere(tmp_path, store_backend, redis_url):
    async with cluster(tmp_path, store_backend, redis_url, LIVECHAT_PRESENCE_TTL="2") as c:
        a, b = c.nodes
        doomed = await Client.connect(a.ws_url, c.token("erin"))
        watcher = await Client.connect(b.ws_url, c.token("watcher"))
        snapshot = {
            o["admin_id"]: o["status"]
            for o in (await watcher.auth(c.token("watcher")))["payload"]["operators"]
        }
        assert snapshot["erin"] == "online"
        a.kill()
        # LIVECHAT_PRESENCE_TTL=2: dead 2 s after its last beat, reaped at B's next beat
        # (every 2/3 s); the bound allows for a loaded machine
        offline = await watcher.wait_presence("erin", "offline", timeout=6)
        assert offline["last_seen"]
        assert doomed.close_code is None or doomed.close_code != 1000
        await watcher.close()


async def test_redis_restart_during_traffic_loses_no_stored_message(tmp_path, store_backend):
    redis = PrivateRedis()
    await redis.start()
    try:
        async with cluster(tmp_path, store_backend, redis.url) as c:
            a, b = c.nodes
            op = await Client.connect(a.ws_url, c.token("op"))
            await op.join("Ur")
            sent = []
            for i in range(60):
                if i == 20:
                    redis.stop()
                if i == 40:
                    await redis.start()
                event = text_event("Ur", f"r{i}")
                assert await post(b if i % 2 else a, [event]) == 200
                sent.append(f"r{i}")
            stored = [m["text"] for m in await history(a, c.token("op"), "Ur")]
            assert stored == sent  # every webhook stored once, in order
            # after the outage, the operator catches up on what the broker missed
            seen = {f["payload"]["message"]["text"] for f in op.of_type("message_received")}
            last_seq = max(f["payload"]["message"]["seq"] for f in op.of_type("message_received"))
            caught, after = [], 0
            while True:  # page on as a client does after a reconnect
                page = (await op.join("Ur", after_seq=after))["payload"]
                caught += page["messages"]
                if not page["has_more"]:
                    break
                after = page["messages"][-1]["seq"]
            assert [m["text"] for m in caught] == sent
            assert seen <= set(sent)
            assert last_seq >= 1
            # and live delivery across processes works again, once both nodes are
            # back on Redis (pub/sub keeps nothing for a subscriber that is away:
            # a message published before A resubscribes is caught up, not pushed)
            for node in (a, b):
                await broker_back(node)
            assert await post(b, [text_event("Ur", "after")]) == 200
            await op.wait_for(
                lambda f: (
                    f["type"] == "message_received" and f["payload"]["message"]["text"] == "after"
                ),
                timeout=15,
            )
            # what B queued during the outage reaches A after A read those messages
            # from the store: none of them is received a second time (PROTOCOL.md)
            frames = op.of_type("message_received")
            received = Counter(f["payload"]["message"]["seq"] for f in frames)
            assert not [seq for seq, n in received.items() if n > 1], "received twice"
            await op.close()
    finally:
        redis.stop()


async def test_uvicorn_workers_share_one_port(tmp_path, store_backend, redis_url, redis_prefix):
    """`livechat-ext serve --workers 2`: connections land on either worker, and a
    webhook reaches every operator whichever worker took it."""
    import subprocess
    import sys

    from tests.cluster import node_env, wait_workers
    from tests.conftest import free_port

    port = free_port()
    env = node_env(store_backend, redis_url, redis_prefix)
    log_path = f"{tmp_path}/workers.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livechat_ext.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                "--log-level",
                "info",  # the supervisor's word on its workers, should this fail
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_workers(url, proc, log_path, 2)
        from livechat_ext import LiveChatSettings, mint_token
        from tests.helpers import SECRET

        token = mint_token(LiveChatSettings(jwt_secret=SECRET), "w")
        ops = [
            await Client.connect(f"ws://127.0.0.1:{port}/ws/live-chat", token) for _ in range(12)
        ]
        for op in ops:
            await op.join("Uw")
        sessions = {op.of_type("auth_success")[0]["payload"]["session_id"] for op in ops}
        assert len(sessions) == 12
        body = webhook_body([text_event("Uw", "to every worker")])
        for _ in range(3):  # several posts: the kernel spreads them over the workers
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"{url}/line/webhook",
                    content=body,
                    headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
                )
            assert r.status_code == 200
        for op in ops:
            got = await op.wait_type("message_received", timeout=10)
            assert got["payload"]["message"]["text"] == "to every worker"
        await asyncio.gather(*(op.request("ping", "pong") for op in ops))
        assert all(len(op.of_type("message_received")) == 1 for op in ops)
        for op in ops:
            await op.close()
    except BaseException:
        print(open(log_path).read()[-6000:])  # pytest shows it with the failure
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def test_the_team_workflow_crosses_nodes(tmp_path, store_backend, redis_url):
    """1.1 on two processes: assignment, read state, notes, message updates and
    catch-up by rev reach operators on the other node, each message once."""
    from livechat_ext.line.testing import unsend_event

    async with fake_line_server() as (fake, base):
        async with cluster(
            tmp_path,
            store_backend,
            redis_url,
            LIVECHAT_LINE_API_BASE_URL=base,
            LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN="cluster-access-token",
        ) as c:
            a, b = c.nodes
            alice = await Client.connect(a.ws_url, c.token("alice"))
            bob = await Client.connect(b.ws_url, c.token("bob"))
            await registered_on_nodes(redis_url, c.prefix, "alice", 1)
            await alice.join("Uw")
            await bob.join("Uw")
            events = [
                text_event("Uw", "hello", message_id="501", markAsReadToken="rt-1"),
                text_event("Uw", "anyone?", markAsReadToken="rt-2"),
            ]
            assert await post(b, events) == 200
            await alice.wait_for(lambda f: len(alice.of_type("message_received")) == 2)

            await bob.request("conversation_assign", "", line_user_id="Uw", admin_id="alice")
            notice = await alice.wait_type("notification", kind="assigned")
            assert notice["payload"]["line_user_id"] == "Uw"
            await alice.wait_for(
                lambda f: (
                    f["type"] == "conversation_updated"
                    and f["payload"]["conversation"]["assignee"] == "alice"
                )
            )

            read = await alice.request("mark_read", "", line_user_id="Uw", seq=2)
            assert read["payload"]["conversation"]["unread_count"] == 0
            await eventually(lambda: fake.read_tokens == ["rt-2"])
            await bob.wait_for(lambda f: len(bob.of_type("message_updated")) == 2)
            assert all(
                f["payload"]["message"]["data"]["read"] for f in bob.of_type("message_updated")
            )

            await bob.request(
                "note_send", "message_sent", line_user_id="Uw", text="VIP", client_msg_id="n1"
            )
            note = await alice.wait_for(
                lambda f: (
                    f["type"] == "message_received" and f["payload"]["message"]["kind"] == "note"
                )
            )
            assert note["payload"]["message"]["direction"] == "internal"

            sent = await alice.request(
                "message_send", "message_sent", line_user_id="Uw", text="on it", client_msg_id="c1"
            )
            assert sent["type"] == "message_sent"
            await bob.wait_for(
                lambda f: (
                    f["type"] == "message_updated"
                    and f["payload"]["message"]["client_msg_id"] == "c1"
                )
            )
            received = [f["payload"]["message"]["id"] for f in bob.of_type("message_received")]
            assert len(received) == len(set(received)) == 3  # each once; his own note: none
            frames = alice.of_type("message_received") + alice.of_type("message_updated")
            seen = max(f["payload"]["message"]["rev"] for f in frames)
            await alice.close()

            # while alice is away: bob resolves on B, the user unsends through A
            await bob.request("conversation_resolve", "", line_user_id="Uw")
            assert await post(a, [unsend_event("Uw", "501")]) == 200
            await bob.wait_for(
                lambda f: (
                    f["type"] == "message_updated"
                    and f["payload"]["message"]["data"].get("unsent") is True
                )
            )
            back = await Client.connect(b.ws_url, c.token("alice"))
            caught = await back.request(
                "join_conversation", "conversation_joined", line_user_id="Uw", after_rev=seen
            )
            missed = caught["payload"]["messages"]
            assert [(m["seq"], m["text"]) for m in missed] == [(1, None)]
            assert caught["payload"]["last_rev"] == missed[-1]["rev"]
            listed = await history(b, c.token("alice"), "Uw")
            assert [m["kind"] for m in listed] == ["text", "text", "note", "text"]
            assert len(fake.pushes) == 1  # the note never went to LINE
            await back.close()
            await bob.close()


async def test_names_cross_nodes_with_presence_and_typing(tmp_path, store_backend, redis_url):
    """A node shows an operator of another node by the name from their token:
    presence and typing events carry it through the broker."""
    from livechat_ext import mint_token

    async with cluster(tmp_path, store_backend, redis_url) as c:
        a, b = c.nodes
        bob = await Client.connect(b.ws_url, mint_token(c.settings, "bob", name="Bob"))
        alice = await Client.connect(a.ws_url, mint_token(c.settings, "alice", name="Alice T."))
        online = await bob.wait_presence("alice", "online")
        assert online["name"] == "Alice T."
        await alice.join("Un")
        await bob.join("Un")
        await alice.send("typing_start", line_user_id="Un")
        typing = await bob.wait_type("user_typing", admin_id="alice", is_typing=True)
        assert typing["payload"]["name"] == "Alice T."
        carol = await Client.connect(b.ws_url, c.token("carol"))
        names = {
            o["admin_id"]: o["name"]
            for o in (await carol.auth(c.token("carol")))["payload"]["operators"]
        }
        assert names == {"alice": "Alice T.", "bob": "Bob", "carol": "carol"}
        for client in (alice, bob, carol):
            await client.close()
