"""Events in the shapes LINE documents (tests/fixtures/line/events.json), values LINE
may add to its enumerations, and text no store could encode."""

from __future__ import annotations

import json
from typing import Any

import pytest

from livechat_ext.line import InboundEvent, read_webhook, sign
from livechat_ext.line import testing as lt
from livechat_ext.line.events import read_event
from livechat_ext.models import MessageKind
from tests.line_fixtures import line_event, names

SECRET = "channel-secret"


def read_one(event: dict[str, Any]) -> InboundEvent:
    body = lt.webhook_body([event])
    batch = read_webhook(body, sign(body, SECRET), SECRET)
    assert batch.rejected == []
    (inbound,) = batch.events
    return inbound


@pytest.mark.parametrize("name", names())
def test_every_documented_event_reads_as_the_sdk_reads_it(name: str) -> None:
    """line-bot-sdk's model of the event, turned back into a dict, holds only what
    LINE's schema defines: reading it must give what reading LINE's body gives."""
    from linebot.v3.webhooks import Event  # type: ignore[import-untyped]

    raw = line_event(name)
    sdk_view = Event.from_dict(raw).to_dict()

    assert read_event(sdk_view) == read_event(raw)


def test_text_with_emojis_and_mentions() -> None:
    event = line_event("text")

    inbound = read_one(event)

    assert (inbound.kind, inbound.text) == (MessageKind.TEXT, event["message"]["text"])
    assert inbound.data == {
        "message_id": "444573844083572737",
        "emojis": [
            {"index": 29, "length": 6, "product_id": "5ac1bfd5040ab15980c9b435", "emoji_id": "001"}
        ],
        "mention": {
            "mentionees": [
                {"index": 0, "length": 4, "type": "all"},
                {
                    "index": 5,
                    "length": 8,
                    "type": "user",
                    "user_id": "U49585cd0d5...",
                    "is_self": False,
                },
            ]
        },
        "quote_token": "q3Plxr4AgKd...",
        "mark_as_read_token": "30yhdy232...",
    }


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("text_quoting", MessageKind.TEXT),
        ("sticker", MessageKind.STICKER),
        ("image_external", MessageKind.IMAGE),
        ("image_set", MessageKind.IMAGE),
        ("video", MessageKind.VIDEO),
        ("audio", MessageKind.AUDIO),
        ("file", MessageKind.FILE),
        ("location", MessageKind.LOCATION),
    ],
)
def test_documented_contents_keep_their_kind(name: str, kind: MessageKind) -> None:
    assert read_one(line_event(name)).kind is kind


def test_postback_keeps_data_and_params() -> None:
    inbound = read_one(line_event("postback_richmenu"))

    assert (inbound.type, inbound.kind) == ("postback", None)
    assert inbound.postback_data == "action=switch"
    assert inbound.postback_params == {
        "newRichMenuAliasId": "richmenu-alias-b",
        "status": "SUCCESS",
    }


@pytest.mark.parametrize(
    "name",
    ["beacon", "account_link", "membership", "video_play_complete", "activated", "deactivated"],
)
def test_events_that_are_not_messages_have_no_content(name: str) -> None:
    inbound = read_one(line_event(name))

    assert inbound.kind is None and inbound.text is None and inbound.data == {}
    assert inbound.line_user_id == "U206d25c2ea6bd87c17655609a1c37cb8"


def _set(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target: Any = event
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return event


# Each is a value LINE's schema does not list (yet): line-bot-sdk's model refuses it.
NEW_VALUES = [
    pytest.param("text", "mode", "newmode", id="mode"),
    pytest.param("sticker", "message.stickerResourceType", "HOLOGRAM", id="stickerResourceType"),
    pytest.param("image_external", "message.contentProvider.type", "cdn", id="contentProvider"),
    pytest.param("text", "message.mention.mentionees.0.type", "group", id="mentionee"),
    pytest.param("beacon", "beacon.type", "leave", id="beacon"),
    pytest.param("membership", "membership.type", "paused", id="membership"),
]


@pytest.mark.parametrize(("name", "path", "value"), NEW_VALUES)
def test_a_value_newer_than_the_sdk_keeps_the_event(name: str, path: str, value: str) -> None:
    from linebot.v3.webhooks import Event

    known = read_one(line_event(name))
    newer = _set(line_event(name), path, value)
    with pytest.raises(ValueError):  # the SDK cannot read it; we keep what we know
        Event.from_dict(newer)

    inbound = read_one(newer)

    assert (inbound.type, inbound.kind, inbound.text) == (known.type, known.kind, known.text)
    if path == "mode":
        assert inbound.mode == "newmode"
    else:
        assert value in json.dumps(inbound.data) or inbound.data == known.data


def test_new_value_keeps_the_other_fields() -> None:
    inbound = read_one(_set(line_event("sticker"), "message.stickerResourceType", "HOLOGRAM"))

    assert inbound.kind is MessageKind.STICKER
    assert inbound.data["package_id"] == "1" and inbound.data["sticker_id"] == "1"
    assert inbound.data["sticker_resource_type"] == "HOLOGRAM"


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    body = lt.webhook_body([lt.text_event("U1", "PLACEHOLDER")])
    body = body.replace(b"PLACEHOLDER", b"a\\ud800b \\udc00 \\ud83d\\ude00")

    (inbound,) = read_webhook(body, sign(body, SECRET), SECRET).events

    assert inbound.text == "a\ufffdb \ufffd 😀"  # the valid pair stays one emoji
    assert inbound.text.encode("utf-8")


def test_a_body_nested_deep_inside_one_event_is_refused_whole() -> None:
    from livechat_ext.errors import InvalidWebhookError

    event = json.dumps(lt.text_event("U1", "x"))
    deep = b"[" * 100_000 + b"]" * 100_000
    body = b'{"events":[' + event.encode() + b',{"type":"message","junk":' + deep + b"}]}"

    with pytest.raises(InvalidWebhookError, match="nested too deep"):
        read_webhook(body, sign(body, SECRET), SECRET)
