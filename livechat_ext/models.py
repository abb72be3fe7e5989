"""The wire objects of PROTOCOL.md: Message, Conversation and their parts."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer

MAX_LINE_USER_ID_LENGTH = 64
"""The longest `line_user_id` a store keeps (LINE's own are 33 characters)."""


def valid_line_user_id(value: object) -> bool:
    """Whether `value` can name a conversation in every store: a string of 1 to
    64 characters with no NUL and no lone surrogate (PostgreSQL text holds
    neither). REST paths and webhook events are checked with it; the WebSocket
    protocol's `LineUserId` states the same rule in pydantic."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LINE_USER_ID_LENGTH:
        return False
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def utf16_length(text: str) -> int:
    """The length of `text` as LINE counts it: UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso_ms(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a trailing `Z`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"  # a note among operators: never sent to LINE


class SenderType(StrEnum):
    USER = "user"
    OPERATOR = "operator"


class MessageKind(StrEnum):
    TEXT = "text"
    STICKER = "sticker"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    FILE = "file"
    LOCATION = "location"
    UNSUPPORTED = "unsupported"
    NOTE = "note"


class MessageStatus(StrEnum):
    RECEIVED = "received"
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ConversationStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class WireModel(BaseModel):
    """Base of the wire objects: frozen, extra fields ignored on input."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Sender(WireModel):
    type: SenderType
    id: str | None = None


class Message(WireModel):
    """One message of a conversation (PROTOCOL.md, Objects)."""

    id: str
    line_user_id: str
    seq: int
    rev: int = 0
    direction: Direction
    sender: Sender
    kind: MessageKind
    text: str | None = None
    data: dict[str, Any] = {}
    status: MessageStatus
    client_msg_id: str | None = None
    created_at: datetime
    error: str | None = None

    @field_serializer("created_at")
    def _ser_created(self, value: datetime) -> str:
        return iso_ms(value)


class Conversation(WireModel):
    """One LINE user's conversation with the Official Account."""

    line_user_id: str
    display_name: str | None = None
    picture_url: str | None = None
    last_message: Message | None = None
    last_seq: int = 0
    last_rev: int = 0
    status: ConversationStatus = ConversationStatus.OPEN
    assignee: str | None = None
    read_seq: int = 0
    unread_count: int = 0
    updated_at: datetime
    followed: bool = True

    @field_serializer("updated_at")
    def _ser_updated(self, value: datetime) -> str:
        return iso_ms(value)
