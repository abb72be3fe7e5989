"""The LINE bridge against a fake LINE API on loopback (not respx), in a real uvicorn."""

from __future__ import annotations

import httpx
import pytest

from livechat_ext import InvalidSignatureError, LiveChat
from livechat_ext.line import sign
from livechat_ext.line.testing import (
    follow_event,
    group_text_event,
    image_event,
    location_event,
    postback_event,
    sticker_event,
    text_event,
    unfollow_event,
    webhook_body,
)
from livechat_ext.simulator import Profile
from tests.helpers import CHANNEL_SECRET, Client, eventually, idle, serve_with_fake_line

FAST = {"line_backoff_base": 0.01}


async def post_webhook(srv, events, *, secret: str = CHANNEL_SECRET, signature=None):
    body = webhook_body(events)
    headers = {"X-Line-Signature": signature if signature is not None else sign(body, secret)}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{srv.http_url}/line/webhook", content=body, headers=headers)


async def test_signed_webhook_reaches_two_operators_quickly(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        ops = [await Client.connect(srv.ws_url, srv.token(n)) for n in ("alice", "bob")]
        for op in ops:
            await op.join("Uabc")
        response = await post_webhook(srv, [text_event("Uabc", "help me")])
        assert response.status_code == 200
        for op in ops:  # the bound: under a second from webhook to operator
            got = await op.wait_type("message_received", timeout=1.0)
            message = got["payload"]["message"]
            assert message["text"] == "help me" and message["direction"] == "inbound"
            assert message["sender"] == {"type": "user", "id": "Uabc"}
            assert message["status"] == "received" and message["seq"] == 1
            updated = await op.wait_type("conversation_updated")
            assert updated["payload"]["conversation"]["last_message"]["id"] == message["id"]
        # someone was watching: no "new message" notification
        assert ops[0].of_type("notification") == []
        for op in ops:
            await op.close()


async def test_forged_and_unsigned_webhooks_store_nothing(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        forged = await post_webhook(srv, [text_event("Uevil", "x")], secret="wrong-secret")
        missing = await post_webhook(srv, [text_event("Uevil", "x")], signature="")
        assert forged.status_code == 400 and missing.status_code == 400
        async with httpx.AsyncClient() as http:
            bad_body = await http.post(
                f"{srv.http_url}/line/webhook",
                content=b"not json",
                headers={"X-Line-Signature": sign(b"not json", CHANNEL_SECRET)},
            )
        assert bad_body.status_code == 400
        page = await srv.live_chat.store.list_conversations(limit=10)
        assert page.conversations == []
        assert (await op.request("ping", "pong"))["type"] == "pong"
        assert op.of_type("message_received") == op.of_type("conversation_updated") == []
        with pytest.raises(InvalidSignatureError):
            await srv.live_chat.ingest_webhook(webhook_body([text_event("U1", "x")]), None)
        await op.close()


async def test_redelivered_event_is_fanned_out_once(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Ur")
        event = text_event("Ur", "once")
        again = dict(event, deliveryContext={"isRedelivery": True})
        assert (await post_webhook(srv, [event])).status_code == 200
        assert (await post_webhook(srv, [again, event])).status_code == 200
        second = text_event("Ur", "twice")
        assert (await post_webhook(srv, [second])).status_code == 200
        await op.wait_for(
            lambda f: f["type"] == "message_received" and f["payload"]["message"]["text"] == "twice"
        )
        texts = [f["payload"]["message"]["text"] for f in op.of_type("message_received")]
        assert texts == ["once", "twice"]
        page = await srv.live_chat.store.history("Ur", limit=10)
        assert [m.seq for m in page.messages] == [1, 2]
        await op.close()


async def test_answer_reaches_line_exactly_once_despite_resends_and_failures(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        srv.fake.fail_next(2, status=500)
        alice = await Client.connect(srv.ws_url, srv.token("alice"))
        bob = await Client.connect(srv.ws_url, srv.token("bob"))
        await bob.join("Uq")
        await alice.join("Uq")
        refs = [
            await alice.send(
                "message_send", line_user_id="Uq", text="on my way", client_msg_id="c-42"
            )
            for _ in range(3)
        ]
        for ref in refs:
            answer = await alice.wait_for(lambda f, r=ref: f.get("ref") == r)
            assert answer["type"] == "message_sent", answer
            assert answer["payload"]["client_msg_id"] == "c-42"
        pushes = srv.fake.pushes
        assert len(pushes) == 1
        assert pushes[0].to == "Uq" and pushes[0].messages[0]["text"] == "on my way"
        ids = {f["payload"]["message"]["id"] for f in alice.of_type("message_sent")}
        assert len(ids) == 1
        await bob.wait_type("message_received")
        # a later resend of the same id (say, after a reconnect) is answered from the store
        again = await alice.request(
            "message_send",
            "message_sent",
            line_user_id="Uq",
            text="on my way",
            client_msg_id="c-42",
        )
        assert again["payload"]["message"]["status"] == "sent"
        assert len(srv.fake.pushes) == 1
        # once as new (pending), then its outcome as an update: never received twice
        await bob.wait_type("message_updated")
        seen_by_bob = bob.of_type("message_received") + bob.of_type("message_updated")
        assert {f["payload"]["message"]["id"] for f in seen_by_bob} == ids
        assert [(f["type"], f["payload"]["message"]["status"]) for f in seen_by_bob] == [
            ("message_received", "pending"),
            ("message_updated", "sent"),
        ]
        # the sender's own connection sees the outcome too (the sender's tabs replace by id)
        mine = await alice.wait_type("message_updated")
        assert mine["payload"]["message"]["status"] == "sent"
        assert alice.of_type("message_received") == []
        await alice.close()
        await bob.close()


async def test_permanent_failure_then_retry_of_the_failed_message(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        srv.fake.fail_next(1, status=400, message="The request body has 1 error(s)")
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        failed = await op.request(
            "message_send", "message_sent", line_user_id="Uf", text="hello", client_msg_id="f-1"
        )
        assert failed["type"] == "error"
        p = failed["payload"]
        assert p["code"] == "delivery_failed" and p["client_msg_id"] == "f-1"
        assert p["details"]["status"] == 400 and p["details"]["transient"] is False
        page = await srv.live_chat.store.history("Uf", limit=5)
        assert page.messages[0].status.value == "failed"
        assert srv.fake.pushes == []
        retried = await op.request(
            "message_send", "message_sent", line_user_id="Uf", text="hello", client_msg_id="f-1"
        )
        assert retried["type"] == "message_sent"
        assert retried["payload"]["message"]["status"] == "sent"
        assert len(srv.fake.pushes) == 1
        await op.close()


async def test_exhausted_retries_answer_delivery_failed(tmp_path):
    async with serve_with_fake_line(tmp_path, line_max_attempts=2, **FAST) as srv:
        srv.fake.fail_next(2, status=503)
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        failed = await op.request(
            "message_send", "message_sent", line_user_id="Ux", text="hi", client_msg_id="x"
        )
        assert failed["payload"]["code"] == "delivery_failed"
        assert failed["payload"]["details"]["transient"] is True
        await op.close()


async def test_too_long_for_line_is_refused_before_sending(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        err = await op.request(
            "message_send",
            "message_sent",
            line_user_id="Ul",
            text="😀" * 2501,
            client_msg_id="long",
        )
        assert err["payload"]["code"] == "invalid_message"
        assert srv.fake.pushes == []
        assert (await srv.live_chat.store.history("Ul", limit=5)).messages == []
        await op.close()


async def test_every_kind_becomes_visible_and_groups_are_ignored(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Uk")
        events = [
            sticker_event("Uk", "446", "1988"),
            image_event("Uk"),
            location_event("Uk", title="Office", address="Tokyo", latitude=35.6, longitude=139.7),
            postback_event("Uk", "action=buy"),
            group_text_event("Cgroup", "Uk", "hi all"),
        ]
        assert (await post_webhook(srv, events)).status_code == 200
        await op.wait_for(lambda f: len(op.of_type("message_received")) == 4)
        kinds = [f["payload"]["message"]["kind"] for f in op.of_type("message_received")]
        assert kinds == ["sticker", "image", "location", "unsupported"]
        sticker, _, location, postback = (
            f["payload"]["message"] for f in op.of_type("message_received")
        )
        assert sticker["data"]["package_id"] == "446" and sticker["data"]["sticker_id"] == "1988"
        assert location["data"]["title"] == "Office"
        assert postback["data"]["event_type"] == "postback"
        assert postback["data"]["postback"] == {"data": "action=buy"}
        assert await srv.live_chat.store.get_conversation("Cgroup") is None
        await op.close()


async def test_new_conversation_fetches_profile_once_and_notifies(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        srv.fake.add_profile(
            Profile(user_id="Up", display_name="Pat", picture_url="https://example.com/p.png")
        )
        op = await Client.connect(srv.ws_url, srv.token("alice"))  # not in the room
        await post_webhook(srv, [text_event("Up", "first")])
        note = await op.wait_type("notification", kind="new_message")
        assert note["payload"]["line_user_id"] == "Up" and note["payload"]["body"] == "first"
        named = await op.wait_for(
            lambda f: (
                f["type"] == "conversation_updated"
                and f["payload"]["conversation"]["display_name"] == "Pat"
            )
        )
        assert named["payload"]["conversation"]["picture_url"] == "https://example.com/p.png"
        await post_webhook(srv, [text_event("Up", "second")])
        await op.wait_for(
            lambda f: f["type"] == "notification" and f["payload"]["body"] == "second"
        )
        assert (
            await op.wait_for(
                lambda f: f["type"] == "notification" and f["payload"]["body"] == "second"
            )
        )["payload"]["title"] == "Pat"
        await op.close()


def named_update(name: str):
    return lambda f: (
        f["type"] == "conversation_updated" and f["payload"]["conversation"]["display_name"] == name
    )


async def test_an_operator_writing_first_gets_the_users_display_name(tmp_path):
    """seq 1 is outbound: the conversation still gets its name, with no reply."""
    async with serve_with_fake_line(tmp_path) as srv:
        srv.fake.add_profile(Profile(user_id="Uop1", display_name="Rin", picture_url=None))
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        sent = await op.request(
            "message_send", "message_sent", line_user_id="Uop1", text="hello", client_msg_id="c1"
        )
        assert sent["payload"]["message"]["seq"] == 1
        await op.wait_for(named_update("Rin"))
        conversation = await srv.live_chat.store.get_conversation("Uop1")
        assert conversation is not None and conversation.display_name == "Rin"
        await op.close()


async def test_a_user_writing_into_a_nameless_conversation_gets_it_named(tmp_path):
    """A conversation an operator began without a name (LINE was unreachable for
    the profile then, or another node stored it): the user's reply fetches it."""
    async with serve_with_fake_line(tmp_path) as srv:
        await srv.live_chat.store.add_outbound("Uop2", "c1", "alice", "hello")
        srv.fake.add_profile(Profile(user_id="Uop2", display_name="Sam", picture_url=None))
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await post_webhook(srv, [text_event("Uop2", "hi back")])  # seq 2, inbound
        await op.wait_for(named_update("Sam"))
        await post_webhook(srv, [text_event("Uop2", "again")])
        note = await op.wait_for(
            lambda f: f["type"] == "notification" and f["payload"]["body"] == "again"
        )
        assert note["payload"]["title"] == "Sam"
        await op.close()


async def test_a_follow_then_a_first_message_asks_line_for_the_profile_once(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        srv.fake.add_profile(Profile(user_id="Upf", display_name="Quinn", picture_url=None))
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await post_webhook(srv, [follow_event("Upf")])
        await op.wait_for(
            lambda f: (
                f["type"] == "conversation_updated"
                and f["payload"]["conversation"]["display_name"] == "Quinn"
            )
        )
        await post_webhook(srv, [text_event("Upf", "hello")])  # seq 1: a first message
        await op.wait_for(lambda f: f["type"] == "notification" and f["payload"]["body"] == "hello")
        metrics = srv.live_chat.metrics
        await eventually(lambda: idle(srv.live_chat))  # the fetch had its turn
        asked = [
            metrics.registry.get_sample_value(
                "livechat_line_api_calls_total", {"call": "profile", "outcome": outcome}
            )
            or 0
            for outcome in ("ok", "transient", "error")
        ]
        assert sum(asked) == 1, asked
        await op.close()


async def test_failing_profile_never_blocks_the_message(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("not-a-user-id")  # the fake answers 404 for ids not starting with U
        event = text_event("not-a-user-id", "still here")
        assert (await post_webhook(srv, [event])).status_code == 200
        got = await op.wait_type("message_received")
        assert got["payload"]["message"]["text"] == "still here"
        await op.close()


async def test_follow_and_unfollow_update_and_notify(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await post_webhook(srv, [follow_event("Uf1")])
        await op.wait_type("notification", kind="follow")
        await post_webhook(srv, [unfollow_event("Uf1")])
        await op.wait_type("notification", kind="unfollow")
        conversation = await srv.live_chat.store.get_conversation("Uf1")
        assert conversation is not None and conversation.followed is False
        await op.close()


async def test_a_redelivered_follow_does_not_undo_a_later_unfollow(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        follow = follow_event("Uf2", event_id="ev-follow-1")
        await post_webhook(srv, [follow])
        await op.wait_type("notification", kind="follow")
        await post_webhook(srv, [unfollow_event("Uf2")])
        await op.wait_type("notification", kind="unfollow")
        late = follow_event("Uf2", event_id="ev-follow-1", redelivery=True)
        assert (await post_webhook(srv, [late])).status_code == 200
        await op.request("ping", "pong")
        conversation = await srv.live_chat.store.get_conversation("Uf2")
        assert conversation is not None and conversation.followed is False
        assert len(op.of_type("notification")) == 2  # the redelivery told nobody
        await op.close()


async def test_a_follow_that_failed_to_store_is_redelivered_not_lost(tmp_path, monkeypatch):
    from livechat_ext.errors import StoreError
    from livechat_ext.store import SqlStore

    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        real_insert = SqlStore._insert_conversation

        async def insert_fails(*args, **kwargs):
            raise StoreError("disk full")

        # the failure comes after the event id was written in the same transaction
        monkeypatch.setattr(SqlStore, "_insert_conversation", insert_fails)
        follow = follow_event("Uf3", event_id="ev-follow-3")
        assert (await post_webhook(srv, [follow])).status_code == 503  # LINE will redeliver
        monkeypatch.setattr(SqlStore, "_insert_conversation", real_insert)
        again = follow_event("Uf3", event_id="ev-follow-3", redelivery=True)
        assert (await post_webhook(srv, [again])).status_code == 200
        await op.wait_type("notification", kind="follow")
        conversation = await srv.live_chat.store.get_conversation("Uf3")
        assert conversation is not None and conversation.followed is True
        await op.close()


async def test_typing_starts_loading_animation_throttled(tmp_path):
    async with serve_with_fake_line(tmp_path, loading_seconds=20) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        for _ in range(5):
            await op.send("typing_start", line_user_id="Ut")
        await srv.fake.wait_for_loading(1)
        await op.request("ping", "pong")
        assert [(c.chat_id, c.loading_seconds) for c in srv.fake.loading_calls] == [("Ut", 20)]
        await op.close()


async def test_loading_failure_is_not_shown_to_the_operator(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.send("typing_start", line_user_id="Cgroup-not-1to1")  # the API answers 400
        await op.request("ping", "pong")
        assert op.of_type("error") == []
        await op.close()


async def test_is_live_handoff(tmp_path):
    async with serve_with_fake_line(tmp_path, handoff_window=600) as srv:
        lc: LiveChat = srv.live_chat
        assert await lc.is_live("Uh") is False
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Uh")
        assert await lc.is_live("Uh") is True
        await op.request(
            "message_send", "message_sent", line_user_id="Uh", text="human here", client_msg_id="h1"
        )
        await op.request("leave_conversation", "conversation_left", line_user_id="Uh")
        assert await lc.is_live("Uh") is True  # an operator wrote within the window
        lc.settings.handoff_window = 0
        assert await lc.is_live("Uh") is False
        await op.close()


async def test_broadcasts_about_a_conversation_respect_authorize(tmp_path):
    async def staff_only(operator, line_user_id):
        return not line_user_id.startswith("Ustaff") or operator.admin_id == "alice"

    async with serve_with_fake_line(tmp_path, authorize=staff_only) as srv:
        alice = await Client.connect(srv.ws_url, srv.token("alice"))
        bob = await Client.connect(srv.ws_url, srv.token("bob"))
        await post_webhook(srv, [text_event("Ustaff1", "my secret address is 1 Main St")])
        await post_webhook(srv, [text_event("Upublic", "hello all")])
        await alice.wait_type("notification", body="my secret address is 1 Main St")
        await alice.wait_type("notification", body="hello all")
        await bob.wait_type("notification", body="hello all")
        await bob.request("ping", "pong")
        assert [f for f in bob.frames if "Ustaff1" in str(f["payload"])] == []
        refused = await bob.join("Ustaff1")
        assert refused["payload"]["code"] == "forbidden"
        await srv.live_chat.notify("vip", "VIP", "waiting", line_user_id="Ustaff1")
        await alice.wait_type("notification", kind="vip")
        await bob.request("ping", "pong")
        assert bob.of_type("notification")[-1]["payload"]["body"] == "hello all"
        await alice.close()
        await bob.close()


async def test_room_sees_pending_then_outcome(tmp_path):
    async with serve_with_fake_line(tmp_path, line_max_attempts=1, **FAST) as srv:
        alice = await Client.connect(srv.ws_url, srv.token("alice"))
        bob = await Client.connect(srv.ws_url, srv.token("bob"))
        await bob.join("Up2")
        srv.fake.fail_next(1, status=400)
        failed = await alice.request(
            "message_send", "message_sent", line_user_id="Up2", text="first", client_msg_id="p1"
        )
        assert failed["payload"]["code"] == "delivery_failed"
        await bob.wait_for(
            lambda f: (
                f["type"] == "message_updated" and f["payload"]["message"]["status"] == "failed"
            )
        )
        await alice.request(
            "message_send", "message_sent", line_user_id="Up2", text="second", client_msg_id="p2"
        )
        await bob.wait_for(
            lambda f: (
                f["type"] == "message_updated"
                and f["payload"]["message"]["client_msg_id"] == "p2"
                and f["payload"]["message"]["status"] == "sent"
            )
        )
        # the failed one, sent again: pending, then sent, as updates of the same message
        retried = await alice.request(
            "message_send", "message_sent", line_user_id="Up2", text="first", client_msg_id="p1"
        )
        assert retried["type"] == "message_sent"
        await bob.wait_for(
            lambda f: (
                f["type"] == "message_updated"
                and f["payload"]["message"]["client_msg_id"] == "p1"
                and f["payload"]["message"]["status"] == "sent"
            )
        )
        statuses = [
            (f["type"], f["payload"]["message"]["client_msg_id"], f["payload"]["message"]["status"])
            for f in bob.frames
            if f["type"] in ("message_received", "message_updated")
        ]
        revs = [
            f["payload"]["message"]["rev"]
            for f in bob.frames
            if f["type"] in ("message_received", "message_updated")
        ]
        assert revs == sorted(set(revs))  # every change takes a new, higher rev
        assert statuses == [
            ("message_received", "p1", "pending"),
            ("message_updated", "p1", "failed"),
            ("message_received", "p2", "pending"),
            ("message_updated", "p2", "sent"),
            ("message_updated", "p1", "pending"),
            ("message_updated", "p1", "sent"),
        ]
        await alice.close()
        await bob.close()


async def test_unsend_hides_the_message_for_operators(tmp_path):
    from livechat_ext.line.testing import unsend_event

    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Uun")
        event = text_event("Uun", "oops, my password", message_id="4711")
        await post_webhook(srv, [event])
        first = await op.wait_type("message_received")
        assert first["payload"]["message"]["text"] == "oops, my password"
        await post_webhook(srv, [unsend_event("Uun", "4711")])
        hidden = await op.wait_for(
            lambda f: (
                f["type"] == "message_updated" and f["payload"]["message"]["data"].get("unsent")
            )
        )
        assert len(op.of_type("message_received")) == 1
        assert hidden["payload"]["message"]["id"] == first["payload"]["message"]["id"]
        assert hidden["payload"]["message"]["text"] is None
        await op.wait_type("notification", kind="unsend")
        rejoined = await op.join("Uun")
        assert [m["text"] for m in rejoined["payload"]["messages"]] == [None]
        await op.close()


async def test_an_unsend_that_failed_to_record_is_redelivered_not_lost(tmp_path, monkeypatch):
    from livechat_ext.errors import StoreError
    from livechat_ext.line.testing import unsend_event

    async with serve_with_fake_line(tmp_path) as srv:
        store = srv.live_chat.store
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Uun2")
        await post_webhook(srv, [text_event("Uun2", "my card number", message_id="4712")])
        await op.wait_type("message_received")
        real_record = store.record_event

        async def record_fails(event_id: str) -> bool:
            raise StoreError("disk full")

        monkeypatch.setattr(store, "record_event", record_fails)
        event = unsend_event("Uun2", "4712", event_id="ev-unsend-1")
        assert (await post_webhook(srv, [event])).status_code == 503  # LINE will redeliver
        page = await store.history("Uun2", limit=10)
        assert [m.text for m in page.messages] == [None]  # already hidden in the store
        monkeypatch.setattr(store, "record_event", real_record)
        again = unsend_event("Uun2", "4712", event_id="ev-unsend-1", redelivery=True)
        assert (await post_webhook(srv, [again])).status_code == 200
        await op.wait_type("notification", kind="unsend")
        assert (await post_webhook(srv, [again])).status_code == 200  # a second copy: no news
        await op.request("ping", "pong")
        assert len(op.of_type("notification")) == 1
        await op.close()


async def test_standby_chat_is_shown_but_not_answered(tmp_path):
    """LINE: in standby another channel answers the chat, so nothing is sent."""
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Usb")
        await post_webhook(srv, [text_event("Usb", "hello", mode="standby")])
        got = await op.wait_type("message_received")
        assert got["payload"]["message"]["data"]["mode"] == "standby"
        refused = await op.request(
            "message_send", "message_sent", line_user_id="Usb", text="hi", client_msg_id="sb1"
        )
        assert refused["payload"]["code"] == "forbidden"
        assert refused["payload"]["client_msg_id"] == "sb1"
        await op.send("typing_start", line_user_id="Usb")
        await op.request("ping", "pong")  # typing handled; its loading check runs in the
        await eventually(lambda: idle(srv.live_chat))  # background: let it end
        await post_webhook(srv, [text_event("Usb", "back to you")])  # active again
        await op.wait_for(
            lambda f: (
                f["type"] == "message_received" and f["payload"]["message"]["text"] == "back to you"
            )
        )
        sent = await op.request(
            "message_send", "message_sent", line_user_id="Usb", text="hi", client_msg_id="sb2"
        )
        assert sent["type"] == "message_sent"
        assert [p.messages[0]["text"] for p in srv.fake.pushes] == ["hi"]
        assert srv.fake.loading_calls == []  # typing in standby showed nothing
        await op.close()


async def test_a_new_users_notifications_name_them_not_their_id(tmp_path):
    """A follow or a first message from someone new is announced once LINE's
    profile gave their name; the raw user id is never the text operators read."""
    user, other = "U" + "1" * 32, "U" + "2" * 32
    async with serve_with_fake_line(tmp_path) as srv:
        srv.fake.add_profile(Profile(user, "Aiko Tanaka"))
        srv.fake.add_profile(Profile(other, "Kenji"))
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await post_webhook(srv, [follow_event(user)])
        follow = (await op.wait_type("notification", kind="follow"))["payload"]
        assert (follow["title"], follow["body"]) == ("Aiko Tanaka", "Aiko Tanaka added the account")
        await post_webhook(srv, [text_event(other, "hello")])
        first = (await op.wait_type("notification", kind="new_message"))["payload"]
        assert (first["title"], first["body"], first["line_user_id"]) == ("Kenji", "hello", other)
        await op.close()


def told(frame, text: str) -> bool:
    return frame["payload"]["body"] == text


def profile_calls(srv) -> float:
    registry = srv.live_chat.metrics.registry
    return sum(
        registry.get_sample_value(
            "livechat_line_api_calls_total", {"call": "profile", "outcome": outcome}
        )
        or 0
        for outcome in ("ok", "transient", "error")
    )


async def test_a_failing_profile_is_asked_again_only_after_a_back_off(tmp_path):
    """LINE unreachable for profiles: each message of the user used to ask again.
    Now the user waits PROFILE_RETRY_FIRST, then twice as long after each failure,
    and a name LINE gives at last is stored and shown."""
    from datetime import timedelta

    from livechat_ext.flows.inbound import PROFILE_RETRY_FIRST
    from livechat_ext.models import utcnow

    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        srv.fake.add_profile(Profile(user_id="Uback", display_name="Noa", picture_url=None))
        srv.fake.fail_next_profiles(1000, status=500)
        inbound = srv.live_chat.inbound
        shift = timedelta()
        inbound.clock = lambda: utcnow() + shift
        op = await Client.connect(srv.ws_url, srv.token("alice"))

        async def message(text: str) -> None:
            assert (await post_webhook(srv, [text_event("Uback", text)])).status_code == 200
            await op.wait_for(lambda f: f["type"] == "notification" and told(f, text))
            await eventually(lambda: idle(srv.live_chat))

        await message("first")
        asked = profile_calls(srv)
        assert asked >= 1  # the first message asked (the client retries transient failures)
        for i in range(5):
            await message(f"again {i}")
        assert profile_calls(srv) == asked  # backing off: nobody asked LINE again
        shift = PROFILE_RETRY_FIRST + timedelta(seconds=1)
        await message("after the first back-off")
        assert profile_calls(srv) == 2 * asked  # asked once more, failed again
        await message("too soon")  # the second back-off is twice as long
        assert profile_calls(srv) == 2 * asked
        shift = 3 * PROFILE_RETRY_FIRST + timedelta(seconds=2)
        srv.fake.reset()  # LINE answers again
        srv.fake.add_profile(Profile(user_id="Uback", display_name="Noa", picture_url=None))
        assert (await post_webhook(srv, [text_event("Uback", "at last")])).status_code == 200
        await op.wait_for(named_update("Noa"))
        await eventually(lambda: idle(srv.live_chat))
        assert profile_calls(srv) == 2 * asked + 1
        await op.close()


async def test_a_profile_line_has_not_is_asked_again_a_day_later(tmp_path):
    """A 404 (a user LINE gives no profile for) is not asked for on every message,
    nor remembered for ever."""
    from datetime import timedelta

    from livechat_ext.flows.inbound import PROFILE_MISSING_RETRY
    from livechat_ext.models import utcnow

    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        inbound = srv.live_chat.inbound
        shift = timedelta()
        inbound.clock = lambda: utcnow() + shift
        op = await Client.connect(srv.ws_url, srv.token("alice"))

        async def message(text: str) -> None:
            event = text_event("nobody-1", text)  # the fake has no profile for non-U ids
            assert (await post_webhook(srv, [event])).status_code == 200
            await op.wait_for(lambda f: f["type"] == "notification" and told(f, text))
            await eventually(lambda: idle(srv.live_chat))

        await message("one")
        await message("two")
        assert profile_calls(srv) == 1
        shift = PROFILE_MISSING_RETRY + timedelta(seconds=1)
        await message("a day later")
        assert profile_calls(srv) == 2
        await op.close()
