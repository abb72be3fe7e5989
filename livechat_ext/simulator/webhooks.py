"""Build and sign LINE webhook bodies the way the LINE Platform sends them.

Every event carries each field line-bot-sdk v3 requires (`webhookEventId`,
`deliveryContext`, `mode`, `quoteToken` on text and sticker content,
`stickerResourceType`), so the SDK's parser never turns them into `UnknownEvent`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

JSONDict = dict[str, Any]

DEFAULT_DESTINATION = "U" + "0" * 31 + "1"
"""The bot's own user id sent as `destination` (LINE requires 33 characters)."""

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def sign(body: bytes, channel_secret: str) -> str:
    """The `X-Line-Signature` of `body`: Base64 of HMAC-SHA256 keyed with the secret."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def now_ms() -> int:
    """The current time in milliseconds, as LINE writes timestamps."""
    return time.time_ns() // 1_000_000


def new_user_id() -> str:
    """A LINE-shaped user id: `U` and 32 lowercase hex digits."""
    return "U" + uuid.uuid4().hex


def new_message_id() -> str:
    """A LINE-shaped message id: an 18-digit decimal string."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def new_quote_token() -> str:
    """An opaque token like the `quoteToken` LINE attaches to messages."""
    return secrets.token_urlsafe(64)


def new_webhook_event_id(timestamp_ms: int | None = None) -> str:
    """A ULID (26 Crockford base32 characters), as LINE uses for `webhookEventId`."""
    ms = now_ms() if timestamp_ms is None else timestamp_ms
    value = ((ms & (2**48 - 1)) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def _base_event(
    event_type: str,
    user_id: str,
    *,
    timestamp_ms: int | None,
    mode: str,
    is_redelivery: bool,
    reply_token: bool,
) -> JSONDict:
    ts = now_ms() if timestamp_ms is None else timestamp_ms
    event: JSONDict = {
        "type": event_type,
        "mode": mode,
        "timestamp": ts,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": new_webhook_event_id(ts),
        "deliveryContext": {"isRedelivery": is_redelivery},
    }
    if reply_token:
        event["replyToken"] = secrets.token_hex(16)
    return event


def text_message_event(
    user_id: str,
    text: str,
    *,
    message_id: str | None = None,
    timestamp_ms: int | None = None,
    mode: str = "active",
    is_redelivery: bool = False,
    quoted_message_id: str | None = None,
) -> JSONDict:
    """A `message` event with text content sent by `user_id` in a one-on-one chat."""
    event = _base_event(
        "message",
        user_id,
        timestamp_ms=timestamp_ms,
        mode=mode,
        is_redelivery=is_redelivery,
        reply_token=True,
    )
    content: JSONDict = {
        "type": "text",
        "id": message_id or new_message_id(),
        "text": text,
        "quoteToken": new_quote_token(),
        "markAsReadToken": secrets.token_urlsafe(24),
    }
    if quoted_message_id is not None:
        content["quotedMessageId"] = quoted_message_id
    event["message"] = content
    return event


def sticker_message_event(
    user_id: str,
    package_id: str,
    sticker_id: str,
    *,
    message_id: str | None = None,
    timestamp_ms: int | None = None,
    mode: str = "active",
    is_redelivery: bool = False,
    sticker_resource_type: str = "STATIC",
    keywords: Sequence[str] = (),
) -> JSONDict:
    """A `message` event with sticker content sent by `user_id`."""
    event = _base_event(
        "message",
        user_id,
        timestamp_ms=timestamp_ms,
        mode=mode,
        is_redelivery=is_redelivery,
        reply_token=True,
    )
    content: JSONDict = {
        "type": "sticker",
        "id": message_id or new_message_id(),
        "packageId": package_id,
        "stickerId": sticker_id,
        "stickerResourceType": sticker_resource_type,
        "quoteToken": new_quote_token(),
        "markAsReadToken": secrets.token_urlsafe(24),
    }
    if keywords:
        content["keywords"] = list(keywords)[:15]
    event["message"] = content
    return event


def follow_event(
    user_id: str,
    *,
    is_unblocked: bool = False,
    timestamp_ms: int | None = None,
    mode: str = "active",
) -> JSONDict:
    """A `follow` event: the user added the account as a friend or unblocked it."""
    event = _base_event(
        "follow",
        user_id,
        timestamp_ms=timestamp_ms,
        mode=mode,
        is_redelivery=False,
        reply_token=True,
    )
    event["follow"] = {"isUnblocked": is_unblocked}
    return event


def unfollow_event(
    user_id: str, *, timestamp_ms: int | None = None, mode: str = "active"
) -> JSONDict:
    """An `unfollow` event: the user blocked the account (it carries no reply token)."""
    return _base_event(
        "unfollow",
        user_id,
        timestamp_ms=timestamp_ms,
        mode=mode,
        is_redelivery=False,
        reply_token=False,
    )


def webhook_body(events: Sequence[JSONDict], destination: str = DEFAULT_DESTINATION) -> bytes:
    """The raw request body LINE would post: compact UTF-8 JSON."""
    payload = {"destination": destination, "events": list(events)}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_webhook(
    events: Sequence[JSONDict],
    channel_secret: str,
    destination: str = DEFAULT_DESTINATION,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers (content type and `X-Line-Signature`) of one webhook request."""
    body = webhook_body(events, destination)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Line-Signature": sign(body, channel_secret),
    }
    return body, headers


__all__ = [
    "DEFAULT_DESTINATION",
    "JSONDict",
    "follow_event",
    "new_message_id",
    "new_quote_token",
    "new_user_id",
    "new_webhook_event_id",
    "now_ms",
    "sign",
    "signed_webhook",
    "sticker_message_event",
    "text_message_event",
    "unfollow_event",
    "webhook_body",
]
