"""LINE webhooks in: signature check, parsing with line-bot-sdk, and `InboundEvent`.

The SDK validates each event; we convert its result at this edge into our own
frozen `InboundEvent`, so nothing past here sees an SDK (pydantic v1) object.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from livechat_ext.errors import InvalidSignatureError, InvalidWebhookError
from livechat_ext.line.content import content_data, message_kind, snake_keys
from livechat_ext.models import MessageKind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sign(body: bytes, channel_secret: str) -> str:
    """The `X-Line-Signature` LINE would send for `body`: Base64 of HMAC-SHA256."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, signature: str | None, channel_secret: str) -> None:
    """Check `signature` against the raw `body`, in constant time.

    Raises `InvalidSignatureError` when the header is missing or empty, is not
    Base64, or does not match.
    """
    if not signature:
        raise InvalidSignatureError("missing X-Line-Signature")
    try:
        given = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignatureError("X-Line-Signature is not Base64") from exc
    expected = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise InvalidSignatureError("X-Line-Signature does not match the body")


@dataclass(frozen=True)
class InboundEvent:
    """One webhook event, reduced to what livechat_ext uses.

    `type` is LINE's event type (`message`, `follow`, `unfollow`, `unsend`,
    `postback`, or any other raw type). For message events `kind`, `text` and
    `data` describe the content; an event the SDK could not model has kind
    `unsupported` and `data["line_type"]` naming LINE's type.
    """

    webhook_event_id: str
    type: str
    mode: str
    timestamp: datetime
    is_redelivery: bool
    source_type: str
    line_user_id: str | None
    group_id: str | None
    reply_token: str | None
    kind: MessageKind | None = None
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    follow_is_unblocked: bool | None = None
    unsend_message_id: str | None = None
    postback_data: str | None = None


class _Sdk(NamedTuple):
    parser_class: Any
    unknown_event_class: type[Any]
    signature_error: type[Exception]


_sdk_cache: list[_Sdk] = []


def _sdk() -> _Sdk:
    """Import line-bot-sdk on first use only: `linebot.v3` takes a while to import."""
    if not _sdk_cache:
        from linebot.v3.exceptions import (  # type: ignore[import-untyped]
            InvalidSignatureError as SdkSignatureError,
        )
        from linebot.v3.models.events import UnknownEvent  # type: ignore[import-untyped]
        from linebot.v3.webhook import WebhookParser  # type: ignore[import-untyped]

        _sdk_cache.append(_Sdk(WebhookParser, UnknownEvent, SdkSignatureError))
    return _sdk_cache[0]


def parse_webhook(body: bytes, signature: str | None, channel_secret: str) -> list[InboundEvent]:
    """Verify and parse a webhook request body into events, in LINE's order.

    Raises `InvalidSignatureError` (checked first, before any parsing) and
    `InvalidWebhookError` for a body that is not UTF-8 JSON in LINE's shape.
    An empty `events` list (LINE's connectivity check) gives `[]`.
    """
    verify_signature(body, signature, channel_secret)
    try:
        text = body.decode("utf-8")
        raw = json.loads(text)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        raise InvalidWebhookError(f"webhook body is not UTF-8 JSON: {exc}") from exc
    raw_events = _raw_events(raw)
    sdk = _sdk()
    # The SDK checks the signature again, over the decoded text: same bytes, same answer.
    # (Its skip_signature_verification option is too recent to rely on.)
    try:
        payload = sdk.parser_class(channel_secret).parse(text, signature, as_payload=True)
    except sdk.signature_error as exc:
        raise InvalidSignatureError("X-Line-Signature does not match the body") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # pydantic.v1's ValidationError is a ValueError; the rest come from the
        # parser indexing into a body of the wrong shape.
        raise InvalidWebhookError(f"not a LINE webhook event: {exc}") from exc
    events: list[Any] = list(payload.events)
    if len(events) != len(raw_events):
        raise InvalidWebhookError("the SDK returned a different number of events")
    converted = []
    for ev, raw_event in zip(events, raw_events, strict=True):
        # UnknownEvent keeps only the common fields: read the rest from the raw dict.
        # A known event is read from the SDK's model, which drops unknown nested keys.
        known = not isinstance(ev, sdk.unknown_event_class)
        try:
            converted.append(_convert(ev.to_dict() if known else raw_event, known=known))
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise InvalidWebhookError(f"unreadable webhook event: {exc!r}") from exc
    return converted


def _raw_events(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
        raise InvalidWebhookError('webhook body is not an object with an "events" list')
    events: list[Any] = raw["events"]
    for item in events:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise InvalidWebhookError('every webhook event must be an object with a "type"')
    return events


def _convert(event: dict[str, Any], known: bool) -> InboundEvent:
    """One event dict (LINE's camelCase keys) to an `InboundEvent`.

    `known` is False for an event the SDK could not model: we then read what
    the raw dict offers, defensively, and mark any message `unsupported`.
    """
    source = _dict(event.get("source"))
    mode = event.get("mode")
    event_type = str(event["type"])
    inbound = InboundEvent(
        webhook_event_id=str(event["webhookEventId"]),
        type=event_type,
        mode=str(getattr(mode, "value", mode)),
        timestamp=_EPOCH + timedelta(milliseconds=int(event["timestamp"])),
        is_redelivery=bool(_dict(event.get("deliveryContext")).get("isRedelivery", False)),
        source_type=_str(source.get("type")) or "unknown",
        line_user_id=_str(source.get("userId")),
        group_id=_str(source.get("groupId")) or _str(source.get("roomId")),
        reply_token=_str(event.get("replyToken")),
        follow_is_unblocked=_bool(_dict(event.get("follow")).get("isUnblocked")),
        unsend_message_id=_str(_dict(event.get("unsend")).get("messageId")),
        postback_data=_str(_dict(event.get("postback")).get("data")),
    )
    if event_type == "message":
        return _with_message(inbound, _dict(event.get("message")), known)
    if not known:
        return replace(inbound, kind=MessageKind.UNSUPPORTED, data={"line_type": event_type})
    return inbound


def _with_message(inbound: InboundEvent, message: dict[str, Any], known: bool) -> InboundEvent:
    line_type = _str(message.get("type")) or "unknown"
    kind = message_kind(line_type) if known else MessageKind.UNSUPPORTED
    if kind is MessageKind.UNSUPPORTED:
        data: dict[str, Any] = {"line_type": line_type}
        if message_id := _str(message.get("id")):
            data["message_id"] = message_id
        # Keep a text the SDK refused (say, LINE dropped a field): better shown than lost.
        return replace(inbound, kind=kind, text=_str(message.get("text")), data=data)
    text = message["text"] if kind is MessageKind.TEXT else None
    return replace(inbound, kind=kind, text=text, data=content_data(kind, snake_keys(message)))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None
