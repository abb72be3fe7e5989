"""Build and sign LINE webhook bodies the way the LINE Platform sends them.

The events come from `livechat_ext.line.testing` (every field line-bot-sdk v3
requires, so its parser never turns them into `UnknownEvent`); this module adds
what the simulator needs on top: LINE-like quote and mark-as-read tokens, a
webhook event id whose time part is the event's timestamp, fresh user ids and
signed requests. The names keep the simulator's own spelling of the options.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

from livechat_ext.line import testing
from livechat_ext.line.testing import (
    DEFAULT_DESTINATION,
    new_message_id,
    new_quote_token,
    webhook_body,
)
from livechat_ext.line.testing import new_event_id as new_webhook_event_id
from livechat_ext.line.webhook import sign

JSONDict = dict[str, Any]


def now_ms() -> int:
    """The current time in milliseconds, as LINE writes timestamps."""
    return time.time_ns() // 1_000_000


def new_user_id() -> str:
    """A LINE-shaped user id: `U` and 32 lowercase hex digits."""
    return "U" + uuid.uuid4().hex


def _stamp(timestamp_ms: int | None) -> tuple[int, str]:
    """The event's timestamp and a `webhookEventId` made at that same millisecond."""
    ts = now_ms() if timestamp_ms is None else timestamp_ms
    return ts, new_webhook_event_id(ts)


def _mark_as_read_token() -> str:
    return secrets.token_urlsafe(24)


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
    ts, event_id = _stamp(timestamp_ms)
    extra = {} if quoted_message_id is None else {"quotedMessageId": quoted_message_id}
    return testing.text_event(
        user_id,
        text,
        message_id=message_id,
        event_id=event_id,
        timestamp=ts,
        mode=mode,
        redelivery=is_redelivery,
        quoteToken=new_quote_token(),
        markAsReadToken=_mark_as_read_token(),
        **extra,
    )


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
    """A `message` event with sticker content sent by `user_id` (at most 15 keywords)."""
    ts, event_id = _stamp(timestamp_ms)
    return testing.sticker_event(
        user_id,
        package_id,
        sticker_id,
        resource_type=sticker_resource_type,
        keywords=list(keywords)[:15] or None,
        message_id=message_id,
        event_id=event_id,
        timestamp=ts,
        mode=mode,
        redelivery=is_redelivery,
        quoteToken=new_quote_token(),
        markAsReadToken=_mark_as_read_token(),
    )


def follow_event(
    user_id: str,
    *,
    is_unblocked: bool = False,
    timestamp_ms: int | None = None,
    mode: str = "active",
) -> JSONDict:
    """A `follow` event: the user added the account as a friend or unblocked it."""
    ts, event_id = _stamp(timestamp_ms)
    return testing.follow_event(
        user_id, unblocked=is_unblocked, event_id=event_id, timestamp=ts, mode=mode
    )


def unfollow_event(
    user_id: str, *, timestamp_ms: int | None = None, mode: str = "active"
) -> JSONDict:
    """An `unfollow` event: the user blocked the account (it carries no reply token)."""
    ts, event_id = _stamp(timestamp_ms)
    return testing.unfollow_event(user_id, event_id=event_id, timestamp=ts, mode=mode)


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


def media_message_event(
    user_id: str,
    kind: str,
    *,
    message_id: str,
    file_name: str | None = None,
    file_size: int | None = None,
    duration_ms: int | None = None,
    timestamp_ms: int | None = None,
) -> JSONDict:
    """A `message` event with an image, video, audio or file whose content LINE
    keeps (`contentProvider.type` line; a file has `fileName` and `fileSize`)."""
    ts, event_id = _stamp(timestamp_ms)
    content: JSONDict = {"type": kind}
    if kind == "file":
        content.update(fileName=file_name or "file", fileSize=file_size or 0)
    else:
        content["contentProvider"] = {"type": "line"}
    if kind in ("video", "audio"):
        content["duration"] = duration_ms if duration_ms is not None else 1000
    if kind in ("image", "video"):
        content["quoteToken"] = new_quote_token()
    content["markAsReadToken"] = _mark_as_read_token()
    return testing.message_event(
        user_id, content, event_id=event_id, timestamp=ts, message_id=message_id
    )
