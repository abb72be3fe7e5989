"""What each LINE webhook event does, through a real server on both stores: bad
events skipped alone, quiet events, postbacks, destination, stale replays,
and text no store could encode."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from livechat_ext.line import sign
from livechat_ext.line.testing import (
    follow_event,
    sticker_event,
    text_event,
    unfollow_event,
    unsend_event,
    webhook_body,
)
from tests import helpers
from tests.helpers import CHANNEL_SECRET, Client, serve_with_fake_line
from tests.line_fixtures import line_event

BOT = "U" + "b0" * 16
QUIET = ["beacon", "account_link", "membership", "video_play_complete", "activated", "deactivated"]


async def post(srv: Any, body: bytes) -> httpx.Response:
    headers = {"X-Line-Signature": sign(body, CHANNEL_SECRET)}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{srv.http_url}/line/webhook", content=body, headers=headers)


def outcomes(srv: Any, *names: str) -> list[float]:
    registry = srv.live_chat.metrics.registry
    return [
        registry.get_sample_value("livechat_webhook_events_total", {"outcome": name}) or 0
        for name in names
    ]


def days_ago_ms(days: float) -> int:
    return int((time.time() - days * 86400) * 1000)


async def test_one_unreadable_event_costs_the_others_nothing(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="livechat_ext.flows.inbound")
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Ubatch")
        bad = {**text_event("Ubatch", "lost?"), "timestamp": "yesterday"}
        newer_mode = text_event("Ubatch", "third", mode="newmode")
        events = [
            text_event("Ubatch", "first"),
            bad,
            sticker_event("Ubatch", resource_type="HOLOGRAM"),  # a value newer than the SDK
            newer_mode,
        ]
        response = await post(srv, webhook_body(events))
        assert response.status_code == 200
        await op.wait_for(lambda f: len(op.of_type("message_received")) == 3)
        got = [f["payload"]["message"] for f in op.of_type("message_received")]
        assert [(m["kind"], m["text"]) for m in got] == [
            ("text", "first"),
            ("sticker", None),
            ("text", "third"),
        ]
        assert got[1]["data"]["sticker_resource_type"] == "HOLOGRAM"
        assert got[2]["data"]["mode"] == "newmode"
        assert outcomes(srv, "stored", "invalid", "refused") == [3, 1, 0]
        assert any(bad["webhookEventId"] in r.getMessage() for r in caplog.records)
        await op.close()


async def test_events_that_are_not_chat_messages_are_recorded_quietly(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))  # not in any room
        events = [line_event(name, user="Uquiet", fresh=True) for name in QUIET]
        assert (await post(srv, webhook_body(events))).status_code == 200
        assert (await post(srv, webhook_body(events[:2]))).status_code == 200  # redelivered
        await post(srv, webhook_body([text_event("Uother", "a real message")]))
        await op.wait_type("notification", body="a real message")  # everything before is done
        assert [f["payload"]["body"] for f in op.of_type("notification")] == ["a real message"]
        assert await srv.live_chat.store.get_conversation("Uquiet") is None
        assert outcomes(srv, "recorded", "skipped") == [len(QUIET), 2]
        await op.close()


async def test_a_postback_is_an_action_the_user_took(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        away = await Client.connect(srv.ws_url, srv.token("alice"))
        watching = await Client.connect(srv.ws_url, srv.token("bob"))
        await watching.join("Upb")
        event = line_event("postback", user="Upb", fresh=True)
        assert (await post(srv, webhook_body([event]))).status_code == 200
        shown = (await watching.wait_type("message_received"))["payload"]["message"]
        assert shown["kind"] == "unsupported" and shown["text"] is None
        assert shown["direction"] == "inbound"
        assert shown["data"]["event_type"] == "postback"
        assert shown["data"]["postback"] == {
            "data": "storeId=12345",
            "params": {"datetime": "2017-12-25T01:00"},
        }
        # a new user's notification waits for their profile: the room is still open then
        await helpers.eventually(lambda: helpers.idle(srv.live_chat))
        await watching.request("leave_conversation", "conversation_left", line_user_id="Upb")
        again = line_event("postback_richmenu", user="Upb", fresh=True)
        await post(srv, webhook_body([again]))
        note = await away.wait_type("notification", line_user_id="Upb")
        assert note["payload"]["kind"] == "postback"
        assert note["payload"]["body"] == "tapped an action: action=switch"
        assert [n["payload"]["kind"] for n in away.of_type("notification")] == ["postback"]
        await away.close()
        await watching.close()


async def test_a_webhook_for_another_bot_is_refused_when_the_bot_id_is_set(tmp_path):
    async with serve_with_fake_line(tmp_path, line_bot_user_id=BOT) as srv:
        other = webhook_body([text_event("Udest", "misrouted")], destination="U" + "c" * 32)
        refused = await post(srv, other)
        assert refused.status_code == 400
        assert await srv.live_chat.store.get_conversation("Udest") is None
        ours = webhook_body([text_event("Udest", "ours")], destination=BOT)
        assert (await post(srv, ours)).status_code == 200
        page = await srv.live_chat.store.history("Udest", limit=5)
        assert [m.text for m in page.messages] == ["ours"]
        assert outcomes(srv, "refused", "stored") == [1, 1]


async def test_any_destination_is_accepted_when_the_bot_id_is_not_set(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        body = webhook_body([text_event("Udest2", "hi")], destination="U" + "c" * 32)
        assert (await post(srv, body)).status_code == 200


async def test_follow_unfollow_and_unsend_replays_older_than_the_ids_are_kept_are_refused(
    tmp_path,
):
    async with serve_with_fake_line(tmp_path) as srv:
        store = srv.live_chat.store
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await post(srv, webhook_body([text_event("Ustale", "keep me", message_id="9001")]))
        await op.wait_type("notification", body="keep me")
        await post(srv, webhook_body([follow_event("Ustale")]))
        await op.wait_type("notification", kind="follow")
        old = days_ago_ms(8)  # a captured event replayed after its id was forgotten
        replays = [
            unfollow_event("Ustale", timestamp=old),
            follow_event("Unew", timestamp=old),
            {**unsend_event("Ustale", "9001"), "timestamp": old},
        ]
        assert (await post(srv, webhook_body(replays))).status_code == 200
        recent = unfollow_event("Ustale", timestamp=days_ago_ms(6))  # a late redelivery
        assert (await post(srv, webhook_body([recent]))).status_code == 200
        await op.wait_type("notification", kind="unfollow")
        assert outcomes(srv, "stale") == [3]
        assert await store.get_conversation("Unew") is None
        page = await store.history("Ustale", limit=5)
        assert [m.text for m in page.messages] == ["keep me"]  # not unsent
        kinds = [n["payload"]["kind"] for n in op.of_type("notification")]
        assert kinds == ["new_message", "follow", "unfollow"]
        await op.close()


async def test_a_webhook_nested_too_deep_is_refused_and_the_next_one_works(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        deep = b"[" * 100_000 + b"]" * 100_000
        body = b'{"destination":"U1","events":[' + deep + b"]}"
        response = await post(srv, body)
        assert response.status_code == 400
        assert response.json() == {"detail": "invalid webhook body"}
        assert (await post(srv, webhook_body([text_event("Udeep", "fine")]))).status_code == 200
        page = await srv.live_chat.store.history("Udeep", limit=5)
        assert [m.text for m in page.messages] == ["fine"]


async def test_a_lone_surrogate_in_a_text_is_stored_as_the_replacement_character(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.join("Usur")
        body = webhook_body([text_event("Usur", "PLACEHOLDER")])
        body = body.replace(b"PLACEHOLDER", b"broken \\ud800 emoji \\ud83d\\ude00")
        assert (await post(srv, body)).status_code == 200
        shown = (await op.wait_type("message_received"))["payload"]["message"]
        assert shown["text"] == "broken \ufffd emoji 😀"
        page = await srv.live_chat.store.history("Usur", limit=5)
        assert [m.text for m in page.messages] == ["broken \ufffd emoji 😀"]
        await op.close()


def test_the_first_webhook_after_start_imports_nothing(tmp_path):
    """Nothing is imported lazily on the webhook path, so the first one after a
    start costs what the others do (line-bot-sdk's import took seconds)."""
    script = f"""
import asyncio, json, sys
from livechat_ext import LiveChat, LiveChatSettings
from livechat_ext.line.testing import sign, text_event, webhook_body

async def main():
    settings = LiveChatSettings(jwt_secret="s" * 40, line_channel_secret="secret",
                                line_channel_access_token="t",
                                line_api_base_url="http://127.0.0.1:9",
                                store_url={helpers.make_settings(tmp_path).store_url!r})
    live_chat = LiveChat(settings)
    async with live_chat.lifespan():
        body = webhook_body([text_event("Ufirst", "hi")])
        before = set(sys.modules)
        assert await live_chat.ingest_webhook(body, sign(body, "secret")) == 1
        print(json.dumps(sorted(set(sys.modules) - before)))

asyncio.run(main())
"""
    root = Path(__file__).parents[2]  # this checkout's livechat_ext, not an installed one
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
