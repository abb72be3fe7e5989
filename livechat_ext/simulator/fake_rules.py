"""The checks the fake LINE API applies to requests, as pure functions.

Messages follow the wording of LINE's error bodies closely enough for a client
to be tested against them; where they differ, the status codes are what counts.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

MAX_TEXT_UTF16 = 5000
MAX_MESSAGES = 5
MAX_BODY_BYTES = 2 * 1024 * 1024
RETRY_KEY_TTL_SECONDS = 24 * 60 * 60

_REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "sticker": ("packageId", "stickerId"),
    "image": ("originalContentUrl", "previewImageUrl"),
    "video": ("originalContentUrl", "previewImageUrl"),
    "audio": ("originalContentUrl", "duration"),
    "location": ("title", "address", "latitude", "longitude"),
    "imagemap": ("baseUrl", "altText", "baseSize", "actions"),
    "template": ("altText", "template"),
    "flex": ("altText", "contents"),
}


@dataclass(frozen=True)
class Detail:
    """One entry of an error body's `details`."""

    message: str
    prop: str


@dataclass(frozen=True)
class Rejection:
    """A request the fake refuses: the status and LINE's error body."""

    status: int
    message: str
    details: tuple[Detail, ...] = ()

    def body(self) -> dict[str, Any]:
        """LINE's error body: `{"message", "details": [{"message", "property"}]}`."""
        return {
            "message": self.message,
            "details": [{"message": d.message, "property": d.prop} for d in self.details],
        }


def utf16_length(text: str) -> int:
    """The length LINE counts for text limits: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def parse_json_object(raw: bytes) -> dict[str, Any] | Rejection:
    """The body as a JSON object, or 413 when over 2 MB, or 400."""
    if len(raw) > MAX_BODY_BYTES:
        return Rejection(413, "Request entity too large")
    try:
        body = json.loads(raw)
    except ValueError:
        return Rejection(400, "The request body could not be parsed as JSON")
    if not isinstance(body, dict):
        return Rejection(400, "The request body must be a JSON object")
    return body


def check_authorization(header: str | None, token: str) -> Rejection | None:
    """401 unless the header is exactly `Bearer <token>`."""
    if header is None or not header.startswith("Bearer "):
        return Rejection(
            401,
            "Authorization header required. "
            "Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'",
        )
    if header.removeprefix("Bearer ") != token:
        return Rejection(
            401,
            "Authentication failed. "
            "Confirm that the access token in the authorization header is valid.",
        )
    return None


def check_retry_key(key: str | None) -> Rejection | None:
    """400 when `X-Line-Retry-Key` is present but not a UUID."""
    if key is None:
        return None
    try:
        uuid.UUID(key)
    except ValueError:
        return Rejection(400, "The value of the X-Line-Retry-Key header is invalid")
    return None


def _invalid(details: list[Detail]) -> Rejection | None:
    if not details:
        return None
    return Rejection(400, f"The request body has {len(details)} error(s)", tuple(details))


def _check_message(index: int, message: object) -> list[Detail]:
    prop = f"messages[{index}]"
    if not isinstance(message, dict):
        return [Detail("Must be an object", prop)]
    kind = message.get("type")
    if kind not in _REQUIRED_FIELDS:
        return [Detail("Invalid message type", f"{prop}.type")]
    details = [
        Detail("Must be specified", f"{prop}.{field}")
        for field in _REQUIRED_FIELDS[kind]
        if message.get(field) is None
    ]
    text = message.get("text")
    if kind == "text" and text is not None:
        if not isinstance(text, str):
            details.append(Detail("Must be a string", f"{prop}.text"))
        elif not text:
            details.append(Detail("May not be empty", f"{prop}.text"))
        elif utf16_length(text) > MAX_TEXT_UTF16:
            details.append(Detail(f"Length must be between 0 and {MAX_TEXT_UTF16}", f"{prop}.text"))
    return details


def check_push_body(body: object) -> Rejection | None:
    """400 with details unless `body` is a valid push request."""
    if not isinstance(body, dict):
        return Rejection(400, "The request body could not be parsed as a JSON object")
    details: list[Detail] = []
    to = body.get("to")
    if not isinstance(to, str) or not to or to[0] not in "UCR":
        details.append(Detail("Must be a valid user, group or room ID", "to"))
    messages = body.get("messages")
    if not isinstance(messages, list):
        details.append(Detail("Must be specified", "messages"))
    elif not 1 <= len(messages) <= MAX_MESSAGES:
        details.append(Detail(f"Size must be between 1 and {MAX_MESSAGES}", "messages"))
    else:
        for index, message in enumerate(messages):
            details.extend(_check_message(index, message))
    disabled = body.get("notificationDisabled")
    if disabled is not None and not isinstance(disabled, bool):
        details.append(Detail("Must be a boolean", "notificationDisabled"))
    return _invalid(details)


def check_loading_body(body: object) -> Rejection | None:
    """400 unless `body` names a user chat and 5..60 seconds in steps of 5."""
    if not isinstance(body, dict):
        return Rejection(400, "The request body could not be parsed as a JSON object")
    details: list[Detail] = []
    chat_id = body.get("chatId")
    if not isinstance(chat_id, str) or not chat_id.startswith("U"):
        details.append(Detail("Must be a user ID (one-on-one chats only)", "chatId"))
    seconds = body.get("loadingSeconds", 20)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        details.append(Detail("Must be an integer", "loadingSeconds"))
    elif not 5 <= seconds <= 60 or seconds % 5:
        details.append(Detail("Must be one of 5, 10, ..., 60", "loadingSeconds"))
    return _invalid(details)


def check_read_body(body: object) -> Rejection | None:
    """400 unless `body` carries a `markAsReadToken`."""
    if not isinstance(body, dict):
        return Rejection(400, "The request body could not be parsed as a JSON object")
    token = body.get("markAsReadToken")
    if not isinstance(token, str) or not token:
        return _invalid([Detail("Must be specified", "markAsReadToken")])
    return None


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_MESSAGES",
    "MAX_TEXT_UTF16",
    "RETRY_KEY_TTL_SECONDS",
    "Detail",
    "Rejection",
    "check_authorization",
    "check_loading_body",
    "check_push_body",
    "check_read_body",
    "check_retry_key",
    "parse_json_object",
    "utf16_length",
]
