"""LINE webhooks in: the signature check, the body, and its events read one by one.

The signature is checked once, on the raw bytes. Then the body must be a JSON
object with an `events` list, or the whole request is refused (nothing stored).
Each event is read on its own (`events.read_event`): one we cannot read is set
aside as a `RejectedEvent` and the others go on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from livechat_ext.errors import InvalidSignatureError, InvalidWebhookError
from livechat_ext.line.events import InboundEvent, read_event

__all__ = [
    "InboundEvent",
    "RejectedEvent",
    "WebhookBatch",
    "parse_webhook",
    "read_webhook",
    "sign",
    "verify_signature",
]

# json.loads joins an escaped surrogate pair into one character: what is left in
# this range is a lone surrogate, which no store (nor UTF-8) can encode.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


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
class RejectedEvent:
    """An event of the body that could not be read, and why (field paths only)."""

    webhook_event_id: str | None
    reason: str


@dataclass(frozen=True)
class WebhookBatch:
    """A verified webhook body: LINE's `destination` (the bot's user id), the
    events read, in LINE's order, and the ones set aside."""

    destination: str | None
    events: list[InboundEvent]
    rejected: list[RejectedEvent]


def read_webhook(body: bytes, signature: str | None, channel_secret: str) -> WebhookBatch:
    """Verify a webhook request body and read its events one by one.

    Raises `InvalidSignatureError` (checked first, before any parsing) and
    `InvalidWebhookError` for a body that is not UTF-8 JSON (nested too deep for
    the parser included) or not an object with an `events` list. An event that
    cannot be read is in `rejected`, never a reason to refuse the others. An
    empty `events` list (LINE's connectivity check) gives no events.
    """
    verify_signature(body, signature, channel_secret)
    raw = _load(body)
    if not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
        raise InvalidWebhookError('webhook body is not an object with an "events" list')
    events: list[InboundEvent] = []
    rejected: list[RejectedEvent] = []
    for item in raw["events"]:
        try:
            events.append(read_event(item))
        except InvalidWebhookError as exc:
            rejected.append(RejectedEvent(_event_id(item), str(exc)))
    destination = raw.get("destination")
    return WebhookBatch(destination if isinstance(destination, str) else None, events, rejected)


def parse_webhook(body: bytes, signature: str | None, channel_secret: str) -> list[InboundEvent]:
    """The events of a verified webhook body that could be read (see `read_webhook`)."""
    return read_webhook(body, signature, channel_secret).events


def _load(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
        raw = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        if _ESCAPED_SURROGATE.search(text):
            raw = _replace_lone_surrogates(raw)
    except RecursionError as exc:  # a body nested deeper than the parser goes
        raise InvalidWebhookError("webhook body is nested too deep") from exc
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        raise InvalidWebhookError(f"webhook body is not UTF-8 JSON: {exc}") from exc
    return raw


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # json.loads would make a float of it


def _finite(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {literal[:20]}")
    return value


def _replace_lone_surrogates(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) made U+FFFD:
    the text is kept, readable, and storable."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {
            _replace_lone_surrogates(key): _replace_lone_surrogates(item)
            for key, item in value.items()
        }
    return value


def _event_id(item: object) -> str | None:
    """An unreadable event's id, for the log (cut short: it was not validated)."""
    found = item.get("webhookEventId") if isinstance(item, dict) else None
    return found[:128] if isinstance(found, str) else None
