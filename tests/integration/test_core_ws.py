"""The WebSocket endpoint in a real uvicorn with real WebSocket clients."""

from __future__ import annotations

import json
import os
import time

import jwt
import pytest
import websockets

from livechat_ext import LiveChat
from livechat_ext.models import MessageKind
from livechat_ext.store import NewInbound
from tests.helpers import (
    SECRET,
    Client,
    eventually,
    make_settings,
    raw_silent_client,
    raw_ws_open,
    serve,
    serve_with_fake_line,
)


async def add_inbound(live_chat: LiveChat, user: str, text: str):
    """Store and fan out a user message the way the webhook does."""
    stored = await live_chat.store.add_inbound(NewInbound(user, MessageKind.TEXT, text))
    await live_chat.inbound._fan_out(stored.message)
    return stored.message


async def test_two_operators_see_each_others_messages_and_typing(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        alice = await Client.connect(srv.ws_url, srv.token("alice"))
        bob = await Client.connect(srv.ws_url, srv.token("bob"))
        await alice.join("U1")
        await bob.join("U1")

        await alice.send("typing_start", line_user_id="U1")
        typing = await bob.wait_type("user_typing", admin_id="alice", is_typing=True)
        assert typing["payload"]["line_user_id"] == "U1"

        ref = await alice.send("message_send", line_user_id="U1", text="hello", client_msg_id="a1")
        sent = await alice.wait_for(lambda f: f["type"] == "message_sent" and f.get("ref") == ref)
        got = await bob.wait_type("message_received")
        assert got["payload"]["message"]["text"] == "hello"
        assert got["payload"]["message"]["sender"] == {"type": "operator", "id": "alice"}
        assert got["payload"]["message"]["id"] == sent["payload"]["message"]["id"]
        assert sent["payload"]["message"]["status"] == "sent"
        # sending stops typing, and the sender never gets its own typing or message echo
        await bob.wait_type("user_typing", admin_id="alice", is_typing=False)
        assert alice.of_type("user_typing") == []
        assert alice.of_type("message_received") == []

        await bob.send("message_send", line_user_id="U1", text="hi alice", client_msg_id="b1")
        back = await alice.wait_type("message_received")
        assert back["payload"]["message"]["text"] == "hi alice"
        assert [p.messages[0]["text"] for p in await srv.fake.wait_for_pushes(2)] == [
            "hello",
            "hi alice",
        ]
        await alice.close()
        await bob.close()


async def test_sender_other_tabs_get_the_message(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        tab1 = await Client.connect(srv.ws_url, srv.token("alice"))
        tab2 = await Client.connect(srv.ws_url, srv.token("alice"))
        await tab1.join("U1")
        await tab2.join("U1")
        await tab1.send("message_send", line_user_id="U1", text="x", client_msg_id="c1")
        await tab1.wait_type("message_sent")
        assert (await tab2.wait_type("message_received"))["payload"]["message"]["text"] == "x"
        await tab1.close()
        await tab2.close()


async def test_catch_up_returns_exactly_the_missed_messages(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, history_limit=3))) as srv:
        lc = srv.live_chat
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("U9")
        for i in range(2):
            await add_inbound(lc, "U9", f"before {i}")
        await op.wait_for(
            lambda f: f["type"] == "message_received" and f["payload"]["message"]["seq"] == 2
        )
        await op.close()
        missed = [await add_inbound(lc, "U9", f"missed {i}") for i in range(5)]

        again = await Client.connect(srv.ws_url, srv.token("alice"))
        first = await again.join("U9", after_seq=2)
        p = first["payload"]
        assert [m["text"] for m in p["messages"]] == ["missed 0", "missed 1", "missed 2"]
        assert p["has_more"] is True and p["last_seq"] == 7
        second = await again.join("U9", after_seq=p["messages"][-1]["seq"])
        assert [m["text"] for m in second["payload"]["messages"]] == ["missed 3", "missed 4"]
        assert second["payload"]["has_more"] is False
        assert [m["id"] for m in p["messages"] + second["payload"]["messages"]] == [
            m.id for m in missed
        ]
        latest = await again.join("U9")  # without after_seq: the latest, oldest first
        assert [m["seq"] for m in latest["payload"]["messages"]] == [5, 6, 7]
        assert latest["payload"]["has_more"] is True
        empty = await again.join("U-nobody")
        assert empty["payload"] == {
            "line_user_id": "U-nobody",
            "last_seq": 0,
            "last_rev": 0,
            "messages": [],
            "has_more": False,
            "typing": [],
        }
        await again.close()


async def test_third_tab_keeps_operator_online_until_last_closes(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, presence_grace=0))) as srv:
        presence = srv.live_chat.team.presence
        watcher = await Client.connect(srv.ws_url, srv.token("watcher"))
        tabs = [await Client.connect(srv.ws_url, srv.token("alice")) for _ in range(3)]
        await watcher.wait_presence("alice", "online")
        snapshot = (await watcher.auth(srv.token("watcher")))["payload"]["operators"]
        alice = {"admin_id": "alice", "status": "online", "last_seen": None, "name": "alice"}
        assert alice in snapshot
        for tab in tabs[:2]:
            await tab.close()
        await eventually(lambda: presence.connections("alice") == 1)
        await watcher.request("ping", "pong")  # anything announced by now has arrived
        # with no grace, a wrong count would have announced offline already
        probe = await Client.connect(srv.ws_url, srv.token("probe"))
        ops = {
            o["admin_id"]: o["status"]
            for o in (await probe.auth(srv.token("probe")))["payload"]["operators"]
        }
        assert ops["alice"] == "online"
        assert watcher.presence_of("alice")[-1]["status"] == "online"
        await tabs[2].close()
        offline = await watcher.wait_presence("alice", "offline")
        assert offline["last_seen"].endswith("Z")
        statuses = [p["status"] for p in watcher.presence_of("alice")]
        assert statuses == ["online", "offline"]
        await watcher.close()
        await probe.close()


async def test_reload_within_grace_is_not_announced(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, presence_grace=30))) as srv:
        watcher = await Client.connect(srv.ws_url, srv.token("watcher"))
        tab = await Client.connect(srv.ws_url, srv.token("alice"))
        await watcher.wait_presence("alice", "online")
        await tab.close()
        tab = await Client.connect(srv.ws_url, srv.token("alice"))
        await tab.close()
        assert srv.live_chat.team.presence.is_online("alice")
        assert [p["status"] for p in watcher.presence_of("alice")] == ["online"]
        await watcher.close()


async def test_origin_allow_list(tmp_path):
    settings = make_settings(tmp_path, allowed_origins="https://admin.example")
    async with serve(LiveChat(settings)) as srv:
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(srv.ws_url, origin="https://evil.example")
        assert info.value.response.status_code == 403
        ok = await Client.connect(srv.ws_url, srv.token("a"), origin="https://admin.example")
        await ok.close()
        same = await Client.connect(
            srv.ws_url, srv.token("a"), origin=f"http://127.0.0.1:{srv.port}"
        )
        await same.close()
        plain = await Client.connect(srv.ws_url, srv.token("a"))  # no Origin: not a browser
        await plain.close()


async def test_frame_too_large_closes_1009(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, max_frame_bytes=1024))) as srv:
        c = await Client.connect(srv.ws_url, srv.token("a"))
        await c.send_raw(json.dumps({"type": "ping", "pad": "x" * 2000}))
        assert await c.wait_closed() == 1009


async def test_close_codes_are_counted_as_they_happened(tmp_path):
    """`livechat_connection_closes_total` said 1000 for every close the server
    did not make: an abrupt drop is 1006, uvicorn's own 1009 is 1009, and a
    client's code is its code."""
    from livechat_ext.web.deploy import uvicorn_options

    settings = make_settings(tmp_path, max_frame_bytes=1024)
    options = uvicorn_options(settings)
    async with serve(LiveChat(settings), **options) as srv:
        registry = srv.live_chat.metrics.registry

        def closed(code: str) -> float:
            sample = registry.get_sample_value("livechat_connection_closes_total", {"code": code})
            return sample or 0.0

        dropped = await Client.connect(srv.ws_url, srv.token("a"))
        dropped.ws.transport.abort()  # the network is gone: no close frame
        await eventually(lambda: closed("1006") == 1)
        leaving = await Client.connect(srv.ws_url, srv.token("b"))
        await leaving.ws.close(code=1001)  # a browser tab going away
        await eventually(lambda: closed("1001") == 1)
        big = await Client.connect(srv.ws_url, srv.token("c"))
        await big.send_raw(json.dumps({"type": "ping", "pad": "x" * 2000}))
        assert await big.wait_closed() == 1009  # closed by uvicorn, from the frame's header
        await eventually(lambda: closed("1009") == 1)
        _reader, writer = await raw_ws_open(srv.port)
        writer.write(bytes([0x88, 0x80]) + os.urandom(4))  # a close frame without a status
        await eventually(lambda: closed("1005") == 1)
        writer.close()
        assert closed("1000") == 0


async def test_bad_frames_get_errors_and_keep_the_socket(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        c = await Client.connect(srv.ws_url)
        await c.send_raw("{nope")
        assert (await c.wait_type("error"))["payload"]["code"] == "invalid_json"
        await c.send_raw(b"\x00\x01")
        await c.wait_type("error", code="bad_frame")
        await c.send_raw('{"type": "join_conversation", "line_user_id": "U1", "ref": "j"}')
        err = await c.wait_type("error", code="not_authenticated")
        assert err["ref"] == "j"
        assert (await c.request("ping", "pong"))["type"] == "pong"  # allowed before auth
        await c.auth(srv.token("a"))
        await c.send_raw('{"type": "warp"}')
        await c.wait_type("error", code="unknown_type")
        bad = await c.request("message_send", "message_sent", line_user_id="U1", text="")
        assert bad["payload"]["code"] == "invalid_message"
        assert {d["field"] for d in bad["payload"]["details"]} == {
            "payload.text",
            "payload.client_msg_id",
        }
        assert (await c.request("ping", "pong"))["type"] == "pong"
        await c.close()


async def test_auth_by_query_parameter_and_bad_token(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        good = await Client.connect(f"{srv.ws_url}?token={srv.token('q')}")
        ok = await good.wait_type("auth_success")
        assert ok["payload"]["admin_id"] == "q" and ok["payload"]["heartbeat_interval"] == 30
        await good.close()
        bad = await Client.connect(f"{srv.ws_url}?token=garbage")
        err = await bad.wait_type("auth_error")
        assert err["payload"]["code"] == "invalid_token"
        assert await bad.wait_closed() == 4001
        first = await Client.connect(srv.ws_url)
        refused = await first.request("auth", "auth_success", token="not-a-jwt")
        assert refused["type"] == "auth_error"
        assert await first.wait_closed() == 4001


async def test_auth_timeout_closes_4001(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, auth_timeout=0.2))) as srv:
        c = await Client.connect(srv.ws_url)
        err = await c.wait_type("auth_error")
        assert err["payload"]["code"] == "auth_timeout"
        assert await c.wait_closed() == 4001


def _token(admin_id: str, ttl: float) -> str:
    return jwt.encode({"sub": admin_id, "exp": time.time() + ttl}, SECRET, algorithm="HS256")


async def test_token_expiry_while_connected_and_in_band_refresh(tmp_path):
    # Both sessions start with tokens that expire at the same instant; one refreshes
    # in band. When the other is closed for expiry, that instant has passed, so the
    # refreshed one is alive only because the refresh extended it. The margin is for
    # a loaded machine: both must authenticate, and one refresh, before it.
    expires = time.time() + 3.0

    def token(admin_id: str) -> str:
        return jwt.encode({"sub": admin_id, "exp": expires}, SECRET, algorithm="HS256")

    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        refreshed = await Client.connect(srv.ws_url, token("a"))
        expiring = await Client.connect(srv.ws_url, token("b"))
        again = await refreshed.auth(_token("a", 60))  # extends the session
        assert again["type"] == "auth_success"
        err = await expiring.wait_type("auth_error", timeout=10)
        assert err["payload"]["code"] == "token_expired"
        assert await expiring.wait_closed() == 4001
        assert time.time() > expires - 0.1  # (timers run on the monotonic clock)
        assert (await refreshed.request("ping", "pong"))["type"] == "pong"
        other = await refreshed.request("auth", "auth_success", token=_token("mallory", 60))
        assert other["type"] == "auth_error"  # a session cannot change operator
        assert await refreshed.wait_closed() == 4001


async def test_heartbeat_timeout_closes_4002(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, heartbeat_interval=0.2))) as srv:
        silent = await Client.connect(srv.ws_url, srv.token("a"))
        assert await silent.wait_closed() == 4002


async def test_rate_limit_then_4008(tmp_path):
    settings = make_settings(tmp_path, rate_limit_per_second=1, rate_limit_burst=2)
    async with serve(LiveChat(settings)) as srv:
        c = await Client.connect(srv.ws_url)
        for _ in range(40):
            await c.send_raw('{"type": "ping"}')
        assert await c.wait_closed() == 4008
        assert len(c.of_type("pong")) >= 2
        assert {f["payload"]["code"] for f in c.of_type("error")} == {"rate_limited"}


async def test_authorize_hook_forbids(tmp_path):
    async def only_own(operator, line_user_id):
        return line_user_id.startswith(operator.admin_id)

    lc = LiveChat(make_settings(tmp_path), authorize=only_own)
    async with serve(lc) as srv:
        c = await Client.connect(srv.ws_url, srv.token("U1"))
        assert (await c.join("U1-mine"))["type"] == "conversation_joined"
        for type_, extra in [
            ("join_conversation", {}),
            ("typing_start", {}),
            ("message_send", {"text": "x", "client_msg_id": "m"}),
        ]:
            err = await c.request(type_, "none", line_user_id="U2", **extra)
            assert err["payload"]["code"] == "forbidden", type_
        assert err["payload"]["client_msg_id"] == "m"
        await c.close()


async def test_internal_error_keeps_the_connection(tmp_path):
    calls = 0

    async def flaky(operator, line_user_id):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("host bug")
        return True

    async with serve(LiveChat(make_settings(tmp_path), authorize=flaky)) as srv:
        c = await Client.connect(srv.ws_url, srv.token("a"))
        err = await c.request("join_conversation", "conversation_joined", line_user_id="U1")
        assert err["payload"]["code"] == "internal_error"
        assert "host bug" not in json.dumps(err)
        assert (await c.join("U1"))["type"] == "conversation_joined"
        await c.close()


async def test_typing_expires(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path, typing_timeout=0.2))) as srv:
        a = await Client.connect(srv.ws_url, srv.token("a"))
        b = await Client.connect(srv.ws_url, srv.token("b"))
        await b.join("U1")
        await a.send("typing_start", line_user_id="U1")
        await b.wait_type("user_typing", admin_id="a", is_typing=True)
        await b.wait_type("user_typing", admin_id="a", is_typing=False)  # expiry, a says nothing
        await a.send("typing_start", line_user_id="U1")  # typing again after an expiry
        await b.wait_for(
            lambda f: (
                f["type"] == "user_typing"
                and f["payload"]["is_typing"]
                and len(b.of_type("user_typing")) == 3
            )
        )
        await a.close()
        await b.close()


async def test_typing_shows_on_join_and_stops_on_disconnect(tmp_path):
    # a timeout far longer than the test: what ends the typing here is the close
    # (a short one would make the join's snapshot race the expiry on a busy machine)
    async with serve(LiveChat(make_settings(tmp_path, typing_timeout=60))) as srv:
        a = await Client.connect(srv.ws_url, srv.token("a"))
        b = await Client.connect(srv.ws_url, srv.token("b"))
        await b.join("U1")
        await a.send("typing_start", line_user_id="U1")
        await b.wait_type("user_typing", admin_id="a", is_typing=True)
        assert (await b.join("U1"))["payload"]["typing"] == ["a"]
        await a.close()
        await b.wait_type("user_typing", admin_id="a", is_typing=False)
        assert len(b.of_type("user_typing")) == 2
        await b.close()


async def test_notify_one_operator_or_all(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        a = await Client.connect(srv.ws_url, srv.token("a"))
        b = await Client.connect(srv.ws_url, srv.token("b"))
        await srv.live_chat.notify("shift", "Shift", "yours now", admin_id="a")
        await srv.live_chat.notify("all", "All", "hello everyone", data={"x": 1})
        note = await b.wait_type("notification", kind="all")
        assert note["payload"]["data"] == {"x": 1}
        await a.wait_type("notification", kind="shift")
        assert [n["payload"]["kind"] for n in b.of_type("notification")] == ["all"]
        await a.close()
        await b.close()


async def test_leave_conversation_stops_delivery(tmp_path):
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        a = await Client.connect(srv.ws_url, srv.token("a"))
        await a.join("U1")
        left = await a.request("leave_conversation", "conversation_left", line_user_id="U1")
        assert left["payload"] == {"line_user_id": "U1"}
        await add_inbound(srv.live_chat, "U1", "after leave")
        # the broadcast conversation_updated still arrives; the room event does not
        await a.wait_type("conversation_updated")
        assert a.of_type("message_received") == []
        await a.close()


async def test_slow_reader_does_not_delay_others(tmp_path):
    settings = make_settings(tmp_path, send_queue_size=32)
    async with serve(LiveChat(settings)) as srv:
        lc = srv.live_chat
        stuck = await raw_silent_client(
            srv.port,
            [
                json.dumps({"type": "auth", "token": srv.token("stuck")}),
                json.dumps({"type": "join_conversation", "line_user_id": "U1"}),
            ],
        )
        fast = await Client.connect(srv.ws_url, srv.token("fast"))
        await fast.join("U1")
        await eventually(lambda: lc.hub.members("conversation:U1") == 2)
        body = "y" * 200_000
        for i in range(150):  # 30 MB: far more than the kernel's socket buffers hold
            await lc.notify("bulk", str(i), body)
            # each one reaches the reading client while the other one reads nothing
            await fast.wait_for(
                lambda f, t=str(i): f["type"] == "notification" and f["payload"]["title"] == t
            )
        titles = [f["payload"]["title"] for f in fast.of_type("notification")]
        assert titles == [str(i) for i in range(150)]
        # the stuck one overflowed its queue and was cut off; the fast one still gets news
        await eventually(lambda: lc.hub.members("conversation:U1") == 1, timeout=10)
        message = await add_inbound(lc, "U1", "still instant")
        got = await fast.wait_type("message_received")
        assert got["payload"]["message"]["id"] == message.id
        assert fast.close_code is None
        await fast.close()
        stuck.transport.abort()
