"""Builders of complete LINE webhook events, for tests, the demo simulator and fakes.

Each builder returns the event dict LINE would post, with every field the SDK
requires (a missing one turns the event into an `UnknownEvent` or fails the
whole body). Ids are fresh on every call unless given.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

from livechat_ext.line.webhook import sign

__all__ = [
    "DEFAULT_DESTINATION",
    "audio_event",
    "file_event",
    "follow_event",
    "group_text_event",
    "image_event",
    "location_event",
    "message_event",
    "new_event_id",
    "new_message_id",
    "new_quote_token",
    "postback_event",
    "sign",
    "sticker_event",
    "text_event",
    "unfollow_event",
    "unsend_event",
    "video_event",
    "webhook_body",
]

DEFAULT_DESTINATION = "U" + "0" * 31 + "1"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(timestamp_ms: int | None = None) -> str:
    """A ULID-like id (26 Crockford Base32 characters: 48-bit ms time, 80 random bits).

    The time part is `timestamp_ms` when given (e.g. the event's own timestamp), else now.
    """
    ms = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
    value = (ms & (2**48 - 1)) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_message_id() -> str:
    """A LINE-like message id (a string of 18 digits)."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def new_quote_token() -> str:
    """An opaque token shaped like the long `quoteToken` LINE attaches to messages."""
    return secrets.token_urlsafe(64)


def _token() -> str:
    return secrets.token_hex(16)


def _event(
    event_type: str,
    source: dict[str, Any],
    *,
    event_id: str | None,
    redelivery: bool,
    timestamp: int | None,
    mode: str,
    reply: bool,
    **fields: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": event_type,
        "mode": mode,
        "timestamp": timestamp if timestamp is not None else time.time_ns() // 1_000_000,
        "source": source,
        "webhookEventId": event_id or new_event_id(),
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if reply:
        event["replyToken"] = _token()
    event.update(fields)
    return event


def message_event(
    source: dict[str, Any] | str,
    message: dict[str, Any],
    *,
    event_id: str | None = None,
    redelivery: bool = False,
    timestamp: int | None = None,
    mode: str = "active",
    message_id: str | None = None,
) -> dict[str, Any]:
    """A message event carrying `message` as is (an `id` is added when missing:
    `message_id`, or a fresh one).

    `source` is a user id or a whole source object.
    """
    if isinstance(source, str):
        source = {"type": "user", "userId": source}
    message = {"id": message_id or new_message_id(), **message}
    return _event(
        "message",
        source,
        event_id=event_id,
        redelivery=redelivery,
        timestamp=timestamp,
        mode=mode,
        reply=True,
        message=message,
    )


def text_event(
    user_id: str,
    text: str,
    *,
    event_id: str | None = None,
    redelivery: bool = False,
    timestamp: int | None = None,
    mode: str = "active",
    message_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A text message; `extra` adds (or overrides) content fields such as `emojis`,
    `mention`, `quotedMessageId` or `markAsReadToken` (LINE's camelCase names)."""
    content = {"type": "text", "text": text, "quoteToken": _token(), **extra}
    return message_event(
        user_id,
        content,
        event_id=event_id,
        redelivery=redelivery,
        timestamp=timestamp,
        mode=mode,
        message_id=message_id,
    )


def group_text_event(
    group_id: str,
    user_id: str | None,
    text: str,
    *,
    room: bool = False,
    event_id: str | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A text message in a group chat (or a multi-person room with `room=True`)."""
    source: dict[str, Any] = (
        {"type": "room", "roomId": group_id} if room else {"type": "group", "groupId": group_id}
    )
    if user_id is not None:
        source["userId"] = user_id
    content = {"type": "text", "text": text, "quoteToken": _token()}
    return message_event(source, content, event_id=event_id, redelivery=redelivery)


def sticker_event(
    user_id: str,
    package_id: str = "446",
    sticker_id: str = "1988",
    *,
    resource_type: str = "STATIC",
    keywords: list[str] | None = None,
    event_id: str | None = None,
    redelivery: bool = False,
    timestamp: int | None = None,
    mode: str = "active",
    message_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A sticker message; `extra` adds (or overrides) content fields, as for `text_event`."""
    content: dict[str, Any] = {
        "type": "sticker",
        "packageId": package_id,
        "stickerId": sticker_id,
        "stickerResourceType": resource_type,
        "quoteToken": _token(),
    }
    if keywords is not None:
        content["keywords"] = keywords
    content.update(extra)
    return message_event(
        user_id,
        content,
        event_id=event_id,
        redelivery=redelivery,
        timestamp=timestamp,
        mode=mode,
        message_id=message_id,
    )


def _provider(original_url: str | None, preview_url: str | None) -> dict[str, Any]:
    if original_url is None:
        return {"type": "line"}
    provider = {"type": "external", "originalContentUrl": original_url}
    if preview_url is not None:
        provider["previewImageUrl"] = preview_url
    return provider


def image_event(
    user_id: str,
    *,
    original_url: str | None = None,
    preview_url: str | None = None,
    image_set: dict[str, Any] | None = None,
    event_id: str | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """An image; content provider `line` unless `original_url` makes it `external`.
    `image_set` is LINE's `{"id", "index", "total"}` for one image of an album."""
    content: dict[str, Any] = {
        "type": "image",
        "contentProvider": _provider(original_url, preview_url),
        "quoteToken": _token(),
    }
    if image_set is not None:
        content["imageSet"] = image_set
    return message_event(user_id, content, event_id=event_id, redelivery=redelivery)


def video_event(
    user_id: str,
    *,
    duration: int = 6000,
    original_url: str | None = None,
    preview_url: str | None = None,
    event_id: str | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A video of `duration` milliseconds."""
    content = {
        "type": "video",
        "duration": duration,
        "contentProvider": _provider(original_url, preview_url),
        "quoteToken": _token(),
    }
    return message_event(user_id, content, event_id=event_id, redelivery=redelivery)


def audio_event(
    user_id: str, *, duration: int = 3000, event_id: str | None = None, redelivery: bool = False
) -> dict[str, Any]:
    """An audio message of `duration` milliseconds (audio has no quote token)."""
    content = {"type": "audio", "duration": duration, "contentProvider": {"type": "line"}}
    return message_event(user_id, content, event_id=event_id, redelivery=redelivery)


def file_event(
    user_id: str,
    file_name: str = "report.pdf",
    file_size: int = 2048,
    *,
    event_id: str | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A file message."""
    content = {"type": "file", "fileName": file_name, "fileSize": file_size}
    return message_event(user_id, content, event_id=event_id, redelivery=redelivery)


def location_event(
    user_id: str,
    latitude: float = 35.65910807942215,
    longitude: float = 139.70372892916203,
    *,
    title: str | None = "my location",
    address: str | None = "Shibuya, Tokyo",
    event_id: str | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A location message."""
    content: dict[str, Any] = {"type": "location", "latitude": latitude, "longitude": longitude}
    if title is not None:
        content["title"] = title
    if address is not None:
        content["address"] = address
    return message_event(user_id, content, event_id=event_id, redelivery=redelivery)


def _user_event(
    event_type: str,
    user_id: str,
    *,
    event_id: str | None,
    redelivery: bool,
    reply: bool,
    timestamp: int | None = None,
    mode: str = "active",
    **fields: Any,
) -> dict[str, Any]:
    return _event(
        event_type,
        {"type": "user", "userId": user_id},
        event_id=event_id,
        redelivery=redelivery,
        timestamp=timestamp,
        mode=mode,
        reply=reply,
        **fields,
    )


def follow_event(
    user_id: str,
    *,
    unblocked: bool = False,
    event_id: str | None = None,
    redelivery: bool = False,
    timestamp: int | None = None,
    mode: str = "active",
) -> dict[str, Any]:
    """A user added the account as a friend (or unblocked it, with `unblocked=True`)."""
    return _user_event(
        "follow",
        user_id,
        event_id=event_id,
        redelivery=redelivery,
        reply=True,
        timestamp=timestamp,
        mode=mode,
        follow={"isUnblocked": unblocked},
    )


def unfollow_event(
    user_id: str,
    *,
    event_id: str | None = None,
    redelivery: bool = False,
    timestamp: int | None = None,
    mode: str = "active",
) -> dict[str, Any]:
    """A user blocked the account (no reply token)."""
    return _user_event(
        "unfollow",
        user_id,
        event_id=event_id,
        redelivery=redelivery,
        reply=False,
        timestamp=timestamp,
        mode=mode,
    )


def unsend_event(
    user_id: str, message_id: str, *, event_id: str | None = None, redelivery: bool = False
) -> dict[str, Any]:
    """A user unsent the message `message_id` (no reply token)."""
    return _user_event(
        "unsend",
        user_id,
        event_id=event_id,
        redelivery=redelivery,
        reply=False,
        unsend={"messageId": message_id},
    )


def postback_event(
    user_id: str,
    data: str,
    *,
    params: dict[str, str] | None = None,
    event_id: str | None = None,
    redelivery: bool = False,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A postback action's `data`, with the `params` LINE adds for a date-time
    picker or a rich menu switch."""
    postback: dict[str, Any] = {"data": data}
    if params is not None:
        postback["params"] = params
    return _user_event(
        "postback",
        user_id,
        event_id=event_id,
        redelivery=redelivery,
        reply=True,
        timestamp=timestamp,
        postback=postback,
    )


def webhook_body(events: Iterable[dict[str, Any]], destination: str = DEFAULT_DESTINATION) -> bytes:
    """The request body LINE posts: compact UTF-8 JSON (non-ASCII kept as is)."""
    body = {"destination": destination, "events": list(events)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
