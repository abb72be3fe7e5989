"""Hostile input and faults: caps, oversized and replayed webhooks, secrets in
logs, metrics, resuming pending sends, shutdown close codes, a store outage."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import httpx
import pytest
import websockets

from livechat_ext import LiveChat
from livechat_ext.line import sign
from livechat_ext.line.testing import text_event, webhook_body
from livechat_ext.models import MessageStatus
from tests.cluster import Node, fake_line_server, node_env
from tests.conftest import free_port
from tests.helpers import (
    CHANNEL_SECRET,
    Client,
    eventually,
    make_settings,
    serve,
    serve_with_fake_line,
)


async def test_connection_caps_per_client_and_in_total(tmp_path):
    settings = make_settings(tmp_path, max_connections_per_client=3, max_connections=5)
    async with serve(LiveChat(settings)) as srv:
        kept = [await Client.connect(srv.ws_url, srv.token(f"a{i}")) for i in range(3)]
        extra = await Client.connect(srv.ws_url)
        assert await extra.wait_closed() == 1013
        assert (await kept[0].request("ping", "pong"))["type"] == "pong"  # others unharmed
        await kept[0].close()
        await eventually(lambda: len(srv.live_chat.hub.connections) == 2)
        again = await Client.connect(srv.ws_url, srv.token("a9"))  # a place freed up
        for c in [*kept[1:], again]:
            await c.close()


async def test_unauthenticated_sockets_cannot_lock_operators_out(tmp_path):
    """Sockets that never authenticate (one address, as behind a proxy) have an
    allowance of their own: past it the oldest is closed 1013, and they neither
    use up the address's operator places nor keep an operator from connecting."""
    settings = make_settings(
        tmp_path, max_connections_per_client=2, max_unauthenticated_per_client=3, auth_timeout=1
    )
    async with serve(LiveChat(settings)) as srv:
        idle = [await Client.connect(srv.ws_url) for _ in range(5)]
        assert [await c.wait_closed() for c in idle[:2]] == [1013, 1013]  # the oldest made room
        operators = [await Client.connect(srv.ws_url, srv.token(f"op{i}")) for i in range(2)]
        assert [op.frames[0]["type"] for op in operators] == ["auth_success"] * 2
        assert await idle[4].wait_closed(timeout=10) == 4001  # auth_timeout as before
        assert (await operators[0].request("ping", "pong"))["type"] == "pong"
        for op in operators:
            await op.close()


async def test_operator_places_are_taken_when_sockets_authenticate(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, max_connections_per_client=2))) as srv:
        sockets = [await Client.connect(srv.ws_url) for _ in range(3)]
        for i, c in enumerate(sockets):
            await c.send("auth", token=srv.token(f"op{i}"))
        for c in sockets[:2]:
            await c.wait_type("auth_success")
        assert await sockets[2].wait_closed() == 1013  # the address's places are taken
        await sockets[0].close()
        await eventually(lambda: len(srv.live_chat.hub.connections) == 1)
        again = await Client.connect(srv.ws_url, srv.token("op9"))  # a place freed up
        assert again.frames[0]["type"] == "auth_success"
        for c in (sockets[1], again):
            await c.close()


async def test_a_refused_tab_does_not_take_the_operator_offline(tmp_path):
    """An operator's extra tab refused for the address's cap (1013) was never
    counted online: its close must not take one off the tab that is."""
    async with serve(LiveChat(make_settings(tmp_path, max_connections_per_client=2))) as srv:
        dana = await Client.connect(srv.ws_url, srv.token("dana"))
        extra = await Client.connect(srv.ws_url)  # opened while a place was free
        watcher = await Client.connect(srv.ws_url, srv.token("watcher"))
        await extra.send("auth", token=srv.token("dana"))  # the places are taken now
        assert await extra.wait_closed() == 1013
        await eventually(lambda: len(srv.live_chat.hub.connections) == 2)
        assert srv.live_chat.team.presence.local_counts() == {"dana": 1, "watcher": 1}
        await dana.close()  # her last tab: now she goes offline, once
        gone = await watcher.wait_presence("dana", "offline")
        assert gone["last_seen"]
        assert watcher.presence_of("dana") == [gone]
        await watcher.close()


async def test_conversation_cap_per_connection(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, max_conversations_per_connection=3))) as srv:
        c = await Client.connect(srv.ws_url, srv.token("a"))
        for i in range(3):
            assert (await c.join(f"U{i}"))["type"] == "conversation_joined"
        refused = await c.join("U99")
        assert refused["payload"]["code"] == "rate_limited"
        assert (await c.join("U1"))["type"] == "conversation_joined"  # rejoining is fine
        await c.request("leave_conversation", "conversation_left", line_user_id="U0")
        assert (await c.join("U99"))["type"] == "conversation_joined"
        await c.close()


async def test_webhook_oversized_replayed_and_malformed(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, webhook_max_bytes=4096))) as srv:
        url = f"{srv.http_url}/line/webhook"
        event = text_event("Uw", "hello")
        body = webhook_body([event])
        headers = {"X-Line-Signature": sign(body, CHANNEL_SECRET)}
        huge = webhook_body([text_event("Uw", "x" * 5000)])
        async with httpx.AsyncClient() as http:
            too_big = await http.post(
                url, content=huge, headers={"X-Line-Signature": sign(huge, CHANNEL_SECRET)}
            )
            assert too_big.status_code == 413

            async def chunks():
                yield huge[:3000]
                yield huge[3000:]

            streamed = await http.post(
                url,
                content=chunks(),  # no Content-Length
                headers={"X-Line-Signature": sign(huge, CHANNEL_SECRET)},
            )
            assert streamed.status_code == 413
            for bad in (b"[]", b'{"events": "nope"}', b'{"destination": "x"}', b"\xff\xfe"):
                r = await http.post(
                    url, content=bad, headers={"X-Line-Signature": sign(bad, CHANNEL_SECRET)}
                )
                assert r.status_code == 400, bad
            assert (await http.post(url, content=body, headers=headers)).status_code == 200
            replay = await http.post(url, content=body, headers=headers)  # captured and replayed
            assert replay.status_code == 200
        page = await srv.live_chat.store.history("Uw", limit=10)
        assert [m.text for m in page.messages] == ["hello"]
        conversations = await srv.live_chat.store.list_conversations(limit=10)
        assert [c.line_user_id for c in conversations.conversations] == ["Uw"]


async def test_tokens_never_reach_the_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    await _connect_with_query_tokens(tmp_path, caplog.handler)
    server_side = ("uvicorn", "livechat_ext", "sqlalchemy", "aiosqlite", "asyncpg", "httpx")
    text = "\n".join(
        r.getMessage() for r in caplog.records if r.name.split(".")[0] in server_side
    )  # not the test's own client
    assert "WebSocket /ws/live-chat" in text  # uvicorn did log the handshake
    assert "token=[redacted]" in text
    for secret in (*_seen_tokens, CHANNEL_SECRET):
        assert secret not in text


_seen_tokens: list[str] = []


async def _connect_with_query_tokens(tmp_path, handler: logging.Handler) -> None:
    async with serve(LiveChat(make_settings(tmp_path)), log_level="debug") as srv:
        # uvicorn's loggers do not propagate to the root, and uvicorn configures
        # them when the server is created: listen on its logger from now on
        uvicorn_logger = logging.getLogger("uvicorn")
        uvicorn_logger.addHandler(handler)
        token = srv.token("secretive")
        encoded = srv.token("encoded")  # `%74oken` is `token` to the server: logged raw
        _seen_tokens[:] = [token, encoded, "not-a-real-jwt"]
        for url in (f"{srv.ws_url}?token={token}", f"{srv.ws_url}?%74oken={encoded}"):
            c = await Client.connect(url)
            await c.wait_type("auth_success")
            await c.close()
        bad = await Client.connect(f"{srv.ws_url}?token=not-a-real-jwt")
        await bad.wait_closed()
        uvicorn_logger.removeHandler(handler)


async def test_error_frames_leak_no_internals(tmp_path):
    async def broken(operator, line_user_id):
        raise RuntimeError("password=hunter2 at /srv/app/secret.py line 3")

    async with serve(LiveChat(make_settings(tmp_path), authorize=broken)) as srv:
        c = await Client.connect(srv.ws_url, srv.token("a"))
        err = await c.join("U1")
        assert err["payload"] == {"code": "internal_error", "message": "internal error"}
        await c.close()


async def test_metrics_count_connections_frames_and_line_calls(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        c = await Client.connect(srv.ws_url, srv.token("a"))
        await c.join("Um")
        await c.request(
            "message_send", "message_sent", line_user_id="Um", text="hi", client_msg_id="m1"
        )
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"{srv.http_url}/live-chat/metrics")).text
        assert "livechat_connections 1.0" in text
        assert "livechat_operators 1.0" in text
        assert 'livechat_frames_in_total{type="message_send"} 1.0' in text
        assert 'livechat_frames_out_total{type="message_sent"} 1.0' in text
        assert 'livechat_line_api_calls_total{call="push",outcome="ok"} 1.0' in text
        assert "livechat_fanout_seconds_count" in text
        other = LiveChat(make_settings(tmp_path, store_url=f"sqlite+aiosqlite:///{tmp_path}/o.db"))
        assert "livechat_frames_in_total{" not in other.metrics.render().decode()
        await c.close()


async def test_pending_messages_are_sent_on_the_next_start(tmp_path):
    settings = make_settings(tmp_path)
    first = LiveChat(settings)  # a run that stored a message and died before sending it
    await first.store.start()
    await first.store.create_schema()
    left = await first.store.add_outbound("Up", "left-behind", "alice", "sent after restart")
    await first.store.close()
    async with fake_line_server() as (fake, base):
        restarted = LiveChat(
            make_settings(
                tmp_path, line_api_base_url=base, line_channel_access_token="cluster-access-token"
            )
        )
        async with serve(restarted) as srv:
            watcher = await Client.connect(srv.ws_url, srv.token("bob"))
            await watcher.join("Up")
            pushes = await fake.wait_for_pushes(1)
            assert [p.messages[0]["text"] for p in pushes] == ["sent after restart"]
            stored = await srv.live_chat.store.get_message(left.message.id)
            if stored is None or stored.status is not MessageStatus.SENT:
                await watcher.wait_type("conversation_updated")
                stored = await srv.live_chat.store.get_message(left.message.id)
            assert stored is not None and stored.status is MessageStatus.SENT
            await watcher.close()


async def test_sigterm_closes_sockets_with_a_restart_code(tmp_path, store_backend):
    env = node_env(store_backend, "memory://", "unused")
    node = Node(free_port(), env, log_path=f"{tmp_path}/node.log")
    await node.start()
    try:
        from livechat_ext import LiveChatSettings, mint_token
        from tests.helpers import SECRET

        token = mint_token(LiveChatSettings(jwt_secret=SECRET), "a")
        clients = [await Client.connect(node.ws_url, token) for _ in range(3)]
        node.proc.send_signal(signal.SIGTERM)
        codes = [await c.wait_closed(timeout=15) for c in clients]
        assert set(codes) <= {1001, 1012}, codes
        # uvicorn re-raises the signal once it has shut down cleanly
        assert node.proc.wait(15) in (0, -signal.SIGTERM)
        assert "Traceback" not in Path(node.log_path).read_text()
    finally:
        node.kill()


async def test_store_outage_answers_errors_and_non_200(tmp_path, postgres_url):
    import asyncpg

    async with serve_with_fake_line(tmp_path, store_url=postgres_url) as srv:
        c = await Client.connect(srv.ws_url, srv.token("a"))
        name = postgres_url.rsplit("/", 1)[1]
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            err = await c.request(
                "message_send",
                "message_sent",
                line_user_id="Uo",
                text="during outage",
                client_msg_id="o1",
                timeout=20,
            )
            assert err["type"] == "error" and err["payload"]["client_msg_id"] == "o1"
            body = webhook_body([text_event("Uo", "lost?")])
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"{srv.http_url}/line/webhook",
                    content=body,
                    headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
                    timeout=30,
                )
                assert r.status_code == 503  # LINE redelivers
                health = await http.get(f"{srv.http_url}/live-chat/health", timeout=30)
                assert health.status_code == 503 and health.json()["store"] == "down"
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        # back: the redelivery is stored and the send goes through
        async with httpx.AsyncClient() as http:
            r = await http.post(
                f"{srv.http_url}/line/webhook",
                content=body,
                headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
            )
        assert r.status_code == 200
        ok = await c.request(
            "message_send",
            "message_sent",
            line_user_id="Uo",
            text="during outage",
            client_msg_id="o1",
            timeout=20,
        )
        assert ok["type"] == "message_sent"
        await c.close()


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
async def test_cross_site_origins_refused(tmp_path, origin):
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(srv.ws_url, origin=origin)
        assert info.value.response.status_code == 403


async def test_a_dead_nodes_pending_send_is_taken_over(tmp_path):
    """A node claimed a send and died: once its lease runs out a live node delivers it."""
    async with serve_with_fake_line(tmp_path, send_lease=1) as srv:
        store = srv.live_chat.store
        stored = await store.add_outbound("Ud", "orphan", "alice", "left by a dead node")
        assert await store.claim(stored.message.id, 0.5)  # the dead node's claim
        pushes = await srv.fake.wait_for_pushes(1, timeout=15)
        assert [p.messages[0]["text"] for p in pushes] == ["left by a dead node"]
        assert len(srv.fake.pushes) == 1
