"""Webhook signature and parsing, with complete events from livechat_ext.line.testing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

import livechat_ext.line
from livechat_ext.errors import InvalidSignatureError, InvalidWebhookError
from livechat_ext.line import InboundEvent, parse_webhook, read_webhook, sign, verify_signature
from livechat_ext.line import testing as lt
from livechat_ext.models import MessageKind

SECRET = "channel-secret"
USER = "U" + "b" * 32


def parse(*events: dict[str, Any]) -> list[InboundEvent]:
    body = lt.webhook_body(events)
    return parse_webhook(body, sign(body, SECRET), SECRET)


def parse_one(event: dict[str, Any]) -> InboundEvent:
    (inbound,) = parse(event)
    return inbound


def signed_parse(body: bytes) -> list[InboundEvent]:
    return parse_webhook(body, sign(body, SECRET), SECRET)


def test_public_api() -> None:
    assert set(livechat_ext.line.__all__) == {
        "MAX_TEXT_LENGTH",
        "InboundEvent",
        "LineClient",
        "Profile",
        "PushResult",
        "RejectedEvent",
        "WebhookBatch",
        "parse_webhook",
        "read_webhook",
        "retry_key_for",
        "sign",
        "verify_signature",
    }


def test_sign_agrees_with_the_sdk_validator() -> None:
    from linebot.v3.webhook import SignatureValidator  # type: ignore[import-untyped]

    body = lt.webhook_body([lt.text_event(USER, "héllo")])
    assert SignatureValidator(SECRET).validate(body.decode(), sign(body, SECRET))


def test_verify_signature_accepts_the_right_one() -> None:
    body = lt.webhook_body([lt.text_event(USER, "hi")])
    verify_signature(body, sign(body, SECRET), SECRET)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "not base64 !!",
        "é",
        sign(b"other body", SECRET),
        sign(b'{"destination":"U","events":[]}', "other-secret"),
    ],
)
def test_bad_signature_is_refused_before_parsing(signature: str | None) -> None:
    body = b'{"destination":"U","events":[]}'
    with pytest.raises(InvalidSignatureError):
        verify_signature(body, signature, SECRET)
    with pytest.raises(InvalidSignatureError):
        parse_webhook(body, signature, SECRET)


def test_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(InvalidSignatureError):
        parse_webhook(b"\xff not json", sign(b"x", SECRET), SECRET)


def test_empty_events_is_the_connectivity_check() -> None:
    assert signed_parse(b'{"destination":"U1","events":[]}') == []


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"events": [], "x": "\xff"}', id="not-utf8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"destination": "U1"}', id="no-events"),
        pytest.param(b'{"events": 5}', id="events-not-list"),
        pytest.param(b'{"events": [], "x": NaN}', id="nan"),
        pytest.param(b'{"events": [], "x": -Infinity}', id="infinity"),
        pytest.param(b'{"events": [], "x": 1e400}', id="float-overflow"),
        pytest.param(b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", id="deep"),
    ],
)
def test_malformed_body_is_invalid_webhook(body: bytes) -> None:
    with pytest.raises(InvalidWebhookError):
        signed_parse(body)


def _good(text: str = "kept") -> dict[str, Any]:
    return lt.text_event(USER, text)


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        pytest.param(5, "event", id="not-object"),
        pytest.param(_without(_good(), "type"), "type", id="no-type"),
        pytest.param(_without(_good(), "webhookEventId"), "webhookEventId", id="no-id"),
        pytest.param(_without(_good(), "deliveryContext"), "deliveryContext", id="no-context"),
        pytest.param(_without(_good(), "mode"), "mode", id="no-mode"),
        pytest.param({**_good(), "timestamp": "yesterday"}, "timestamp", id="bad-timestamp"),
        pytest.param(lt.text_event(USER, "x", timestamp=10**30), "timestamp", id="ts-range"),
        pytest.param(
            {**_good(), "source": {"type": "user", "userId": "U" * 65}},
            "userId",
            id="user-id-too-long",
        ),
        pytest.param({**_good(), "webhookEventId": "E" * 129}, "webhookEventId", id="long-id"),
        pytest.param(_without(_good(), "message"), "message", id="no-message"),
        pytest.param(
            {**_good(), "message": {"type": "text", "text": "no id"}}, "message.id", id="no-msg-id"
        ),
        pytest.param(
            {**lt.postback_event(USER, "a"), "postback": {"params": {}}},
            "postback.data",
            id="postback-without-data",
        ),
        pytest.param(
            {**lt.unsend_event(USER, "1"), "unsend": {}}, "unsend.messageId", id="unsend-without-id"
        ),
    ],
)
def test_an_unreadable_event_is_set_aside_and_the_others_kept(bad: object, problem: str) -> None:
    body = lt.webhook_body([_good("before"), bad, _good("after")])  # type: ignore[list-item]

    batch = read_webhook(body, sign(body, SECRET), SECRET)

    assert [e.text for e in batch.events] == ["before", "after"]
    (rejected,) = batch.rejected
    assert problem in rejected.reason
    if isinstance(bad, dict) and "webhookEventId" in bad:
        assert rejected.webhook_event_id == bad["webhookEventId"][:128]


def test_a_rejection_names_fields_never_their_values() -> None:
    secret_text = "my card number is 4111"
    bad = {**lt.text_event(USER, secret_text), "timestamp": secret_text}
    body = lt.webhook_body([bad])

    (rejected,) = read_webhook(body, sign(body, SECRET), SECRET).rejected

    assert "timestamp" in rejected.reason and "4111" not in rejected.reason


def test_destination_is_read() -> None:
    body = lt.webhook_body([], destination="U" + "a" * 32)

    assert read_webhook(body, sign(body, SECRET), SECRET).destination == "U" + "a" * 32


def test_text_event() -> None:
    event = lt.text_event(USER, "héllo 😀", event_id="01HXYZ", timestamp=1_700_000_000_123)

    inbound = parse_one(event)

    assert inbound.webhook_event_id == "01HXYZ"
    assert inbound.type == "message"
    assert inbound.mode == "active"
    assert inbound.timestamp == datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=UTC)
    assert inbound.is_redelivery is False
    assert (inbound.source_type, inbound.line_user_id, inbound.group_id) == ("user", USER, None)
    assert inbound.reply_token == event["replyToken"]
    assert inbound.kind is MessageKind.TEXT
    assert inbound.text == "héllo 😀"
    assert inbound.data == {
        "message_id": event["message"]["id"],
        "quote_token": event["message"]["quoteToken"],
    }


def test_text_extras_are_snake_cased() -> None:
    emojis = [{"index": 0, "length": 6, "productId": "5ac1bfd5", "emojiId": "001"}]
    mention = {"mentionees": [{"index": 7, "length": 5, "type": "user", "userId": "U2"}]}
    event = lt.text_event(
        USER,
        "$hello @Brown",
        emojis=emojis,
        mention=mention,
        quotedMessageId="468789577898262530",
        markAsReadToken="read-1",
    )

    data = parse_one(event).data

    assert data["emojis"] == [
        {"index": 0, "length": 6, "product_id": "5ac1bfd5", "emoji_id": "001"}
    ]
    assert data["mention"] == {
        "mentionees": [{"index": 7, "length": 5, "type": "user", "user_id": "U2"}]
    }
    assert data["quoted_message_id"] == "468789577898262530"
    assert data["mark_as_read_token"] == "read-1"


@pytest.mark.parametrize(
    ("event", "kind", "expected"),
    [
        pytest.param(
            lt.sticker_event(USER, "11537", "52002734", resource_type="ANIMATION", keywords=["hi"]),
            MessageKind.STICKER,
            {
                "package_id": "11537",
                "sticker_id": "52002734",
                "sticker_resource_type": "ANIMATION",
                "keywords": ["hi"],
            },
            id="sticker",
        ),
        pytest.param(
            lt.image_event(USER, image_set={"id": "E005", "index": 1, "total": 2}),
            MessageKind.IMAGE,
            {
                "content_provider": {"type": "line"},
                "image_set": {"id": "E005", "index": 1, "total": 2},
            },
            id="image-line",
        ),
        pytest.param(
            lt.image_event(
                USER, original_url="https://ex.com/o.jpg", preview_url="https://ex.com/p.jpg"
            ),
            MessageKind.IMAGE,
            {
                "content_provider": {
                    "type": "external",
                    "original_content_url": "https://ex.com/o.jpg",
                    "preview_image_url": "https://ex.com/p.jpg",
                }
            },
            id="image-external",
        ),
        pytest.param(
            lt.video_event(USER, duration=60000),
            MessageKind.VIDEO,
            {"content_provider": {"type": "line"}, "duration": 60000},
            id="video",
        ),
        pytest.param(
            lt.audio_event(USER, duration=1500),
            MessageKind.AUDIO,
            {"content_provider": {"type": "line"}, "duration": 1500},
            id="audio",
        ),
        pytest.param(
            lt.file_event(USER, "notes.txt", 12),
            MessageKind.FILE,
            {"file_name": "notes.txt", "file_size": 12},
            id="file",
        ),
        pytest.param(
            lt.location_event(USER, 35.5, 139.25, title="Office", address="Tokyo"),
            MessageKind.LOCATION,
            {"title": "Office", "address": "Tokyo", "latitude": 35.5, "longitude": 139.25},
            id="location",
        ),
    ],
)
def test_content_types(event: dict[str, Any], kind: MessageKind, expected: dict[str, Any]) -> None:
    inbound = parse_one(event)

    assert inbound.kind is kind
    assert inbound.text is None
    assert inbound.data["message_id"] == event["message"]["id"]
    assert {k: v for k, v in inbound.data.items() if k in expected} == expected


def test_location_without_title_or_address() -> None:
    data = parse_one(lt.location_event(USER, 1.0, 2.0, title=None, address=None)).data

    assert "title" not in data
    assert "address" not in data
    assert (data["latitude"], data["longitude"]) == (1.0, 2.0)


@pytest.mark.parametrize("unblocked", [True, False])
def test_follow_event(unblocked: bool) -> None:
    inbound = parse_one(lt.follow_event(USER, unblocked=unblocked))

    assert (inbound.type, inbound.line_user_id) == ("follow", USER)
    assert inbound.follow_is_unblocked is unblocked
    assert inbound.kind is None
    assert inbound.reply_token is not None


def test_unfollow_unsend_and_postback() -> None:
    unfollow, unsend, postback = parse(
        lt.unfollow_event(USER),
        lt.unsend_event(USER, "325708"),
        lt.postback_event(USER, "action=buy&itemid=1", params={"date": "2017-12-25"}),
    )

    assert (unfollow.type, unfollow.reply_token, unfollow.kind) == ("unfollow", None, None)
    assert (unsend.type, unsend.unsend_message_id) == ("unsend", "325708")
    assert (postback.type, postback.postback_data) == ("postback", "action=buy&itemid=1")
    assert postback.postback_params == {"date": "2017-12-25"}


def test_other_known_event_keeps_its_raw_type() -> None:
    join = {**_without(lt.follow_event(USER), "follow"), "type": "join"}
    join["source"] = {"type": "group", "groupId": "C1"}

    inbound = parse_one(join)

    assert (inbound.type, inbound.kind, inbound.group_id) == ("join", None, "C1")


@pytest.mark.parametrize(
    ("event", "source_type", "group_id", "user_id"),
    [
        (lt.group_text_event("C" + "1" * 32, USER, "hi all"), "group", "C" + "1" * 32, USER),
        (lt.group_text_event("C" + "2" * 32, None, "hi"), "group", "C" + "2" * 32, None),
        (lt.group_text_event("R" + "3" * 32, USER, "hi", room=True), "room", "R" + "3" * 32, USER),
    ],
)
def test_group_and_room_sources(
    event: dict[str, Any], source_type: str, group_id: str, user_id: str | None
) -> None:
    inbound = parse_one(event)

    assert (inbound.source_type, inbound.group_id) == (source_type, group_id)
    assert inbound.line_user_id == user_id
    assert inbound.kind is MessageKind.TEXT


def test_unknown_message_type_is_unsupported() -> None:
    event = lt.message_event(USER, {"type": "hologram", "id": "42"})

    inbound = parse_one(event)

    assert inbound.type == "message"
    assert inbound.kind is MessageKind.UNSUPPORTED
    assert inbound.data == {"line_type": "hologram", "message_id": "42"}
    assert inbound.line_user_id == USER
    assert inbound.reply_token == event["replyToken"]


def test_text_without_a_quote_token_is_still_text() -> None:
    # line-bot-sdk's model refuses this (an UnknownEvent): what we use is all there
    event = lt.message_event(USER, {"type": "text", "id": "43", "text": "still readable"})

    inbound = parse_one(event)

    assert inbound.kind is MessageKind.TEXT
    assert inbound.text == "still readable"
    assert inbound.data == {"message_id": "43"}


@pytest.mark.parametrize(
    ("content", "text"),
    [
        pytest.param({"type": "text", "id": "44", "text": 5}, None, id="text-not-a-string"),
        pytest.param({"type": "sticker", "id": "44", "text": "hi"}, "hi", id="sticker-no-ids"),
    ],
)
def test_content_we_cannot_show_is_unsupported_but_keeps_what_it_can(
    content: dict[str, Any], text: str | None
) -> None:
    inbound = parse_one(lt.message_event(USER, content))

    assert inbound.kind is MessageKind.UNSUPPORTED
    assert inbound.data == {"line_type": content["type"], "message_id": "44"}
    assert inbound.text == text


def test_a_field_of_an_unknown_shape_is_dropped_and_the_rest_kept() -> None:
    content = {"type": "text", "id": "45", "text": "hi", "emojis": "x", "quoteToken": "q"}

    inbound = parse_one(lt.message_event(USER, content))

    assert (inbound.kind, inbound.text) == (MessageKind.TEXT, "hi")
    assert inbound.data == {"message_id": "45", "quote_token": "q"}


def test_unknown_event_type_is_read_with_its_common_fields() -> None:
    event = {**lt.unfollow_event(USER), "type": "somethingNew"}

    inbound = parse_one(event)

    assert inbound.type == "somethingNew"
    assert inbound.kind is None and inbound.data == {}
    assert inbound.webhook_event_id == event["webhookEventId"]
    assert inbound.line_user_id == USER


def test_redelivery_and_standby_mode() -> None:
    event = {**lt.text_event(USER, "again", redelivery=True), "mode": "standby"}

    inbound = parse_one(event)

    assert inbound.is_redelivery is True
    assert inbound.mode == "standby"


def test_several_events_from_several_users_keep_their_order() -> None:
    events = [
        lt.text_event("U1", "one"),
        lt.sticker_event("U2"),
        lt.message_event("U3", {"type": "hologram"}),
        lt.text_event("U1", "two"),
    ]

    parsed = parse(*events)

    assert [e.line_user_id for e in parsed] == ["U1", "U2", "U3", "U1"]
    assert [e.webhook_event_id for e in parsed] == [e["webhookEventId"] for e in events]
    assert [e.kind for e in parsed] == [
        MessageKind.TEXT,
        MessageKind.STICKER,
        MessageKind.UNSUPPORTED,
        MessageKind.TEXT,
    ]


def test_builders_make_fresh_ulid_like_ids() -> None:
    ids = {lt.text_event(USER, "x")["webhookEventId"] for _ in range(100)}

    assert len(ids) == 100
    assert all(len(i) == 26 and i.isalnum() and i.isupper() for i in ids)


def test_webhook_body_is_utf8_json_with_destination() -> None:
    body = lt.webhook_body([lt.text_event(USER, "日本")], destination="Ubot")

    assert "日本".encode() in body
    assert json.loads(body)["destination"] == "Ubot"


def test_importing_the_package_does_not_import_the_sdk() -> None:
    code = "import sys, livechat_ext.line; sys.exit('linebot' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
