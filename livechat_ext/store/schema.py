"""The store's tables, their rows as wire objects, and the conversation cursor.

Every datetime is stored as UTC and read back timezone-aware (SQLite keeps no
zone, so `UTCDateTime` restores it)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

from ..models import (
    Conversation,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Sender,
    SenderType,
    valid_line_user_id,
)

SCHEMA_VERSION = 2
"""The version the migrations record in `livechat_schema_version`, which code
from before migrations reads to refuse a newer database."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (naive input is taken as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


NUL_STAND_IN = "\ufffd"
"""What a store keeps for a NUL: PostgreSQL text and jsonb cannot hold one, and
SQLite keeps the same, so the stores agree."""


def without_nul(value: Any) -> Any:
    """`value` with every NUL in its strings (and in the keys and items of its
    dicts and lists) replaced by `NUL_STAND_IN`."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_STAND_IN) if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


class _NulFree:
    """Binds values without NUL, in writes and in comparisons alike."""

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return without_nul(value)


class NulFreeString(_NulFree, TypeDecorator[str]):
    impl = String
    cache_ok = True


class NulFreeText(_NulFree, TypeDecorator[str]):
    impl = Text
    cache_ok = True


class NulFreeJSON(_NulFree, TypeDecorator[Any]):
    """JSON, as JSONB on PostgreSQL."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


metadata = MetaData()

conversations = Table(
    "livechat_conversations",
    metadata,
    Column("line_user_id", NulFreeString(64), primary_key=True),
    Column("display_name", NulFreeText, nullable=True),
    Column("picture_url", NulFreeText, nullable=True),
    Column("followed", Boolean, nullable=False, default=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_rev", BigInteger, nullable=False, server_default=text("0")),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("assignee", NulFreeString(128), nullable=True),
    Column("read_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("unread_count", BigInteger, nullable=False, server_default=text("0")),
    Index("ix_livechat_conversations_updated", "updated_at", "line_user_id"),
    Index("ix_livechat_conversations_status", "status", "updated_at", "line_user_id"),
)

messages = Table(
    "livechat_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "line_user_id",
        NulFreeString(64),
        ForeignKey("livechat_conversations.line_user_id"),
        nullable=False,
    ),
    Column("seq", BigInteger, nullable=False),
    Column("direction", String(16), nullable=False),
    Column("sender_type", String(16), nullable=False),
    Column("sender_id", NulFreeString(128), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("text", NulFreeText, nullable=True),
    Column("data", NulFreeJSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("client_msg_id", NulFreeString(64), nullable=True),
    Column("error", NulFreeText, nullable=True),
    Column("webhook_event_id", NulFreeString(128), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default=text("0")),
    UniqueConstraint("line_user_id", "seq", name="uq_livechat_messages_seq"),
    UniqueConstraint("line_user_id", "client_msg_id", name="uq_livechat_messages_client_msg"),
    UniqueConstraint("webhook_event_id", name="uq_livechat_messages_webhook_event"),
    Index("ix_livechat_messages_status_created", "status", "created_at"),
    Index("uq_livechat_messages_rev", "line_user_id", "rev", unique=True),
)

webhook_events = Table(
    "livechat_webhook_events",
    metadata,
    Column("webhook_event_id", NulFreeString(128), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
)

media = Table(
    "livechat_media",
    metadata,
    Column("line_message_id", NulFreeString(64), primary_key=True),
    Column("line_user_id", NulFreeString(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("content_type", NulFreeString(255), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("preview_type", NulFreeString(255), nullable=True),
    Column("file_name", NulFreeText, nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_livechat_media_state", "state", "lease_until"),
)
"""Content of users' media messages: what was fetched from LINE (the bytes are
files in `LIVECHAT_DATA_DIR/media`), keyed by LINE's message id."""

schema_version = Table(
    "livechat_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

MESSAGE_PREFIX = "m_"
"""Label prefix of the message columns joined onto a conversation row."""


def message_from_row(row: Mapping[Any, Any], prefix: str = "") -> Message:
    """A `Message` from a row of `messages` (columns optionally prefixed)."""
    return Message(
        id=row[prefix + "id"],
        line_user_id=row[prefix + "line_user_id"],
        seq=row[prefix + "seq"],
        rev=row[prefix + "rev"],
        direction=row[prefix + "direction"],
        sender=Sender(type=row[prefix + "sender_type"], id=row[prefix + "sender_id"]),
        kind=row[prefix + "kind"],
        text=row[prefix + "text"],
        data=row[prefix + "data"] or {},
        status=row[prefix + "status"],
        client_msg_id=row[prefix + "client_msg_id"],
        created_at=row[prefix + "created_at"],
        error=row[prefix + "error"],
    )


def conversation_from_row(row: Mapping[Any, Any]) -> Conversation:
    """A `Conversation` from a conversation row joined with its last message."""
    last = None
    if row[MESSAGE_PREFIX + "id"] is not None:
        last = message_from_row(row, MESSAGE_PREFIX)
    return Conversation(
        line_user_id=row["line_user_id"],
        display_name=row["display_name"],
        picture_url=row["picture_url"],
        followed=row["followed"],
        last_seq=row["last_seq"],
        last_rev=row["last_rev"],
        status=row["status"],
        assignee=row["assignee"],
        read_seq=row["read_seq"],
        unread_count=row["unread_count"],
        updated_at=row["updated_at"],
        last_message=last,
    )


def conversation_select() -> Select[Any]:
    """Conversations joined with their last message (one query, no N+1)."""
    m = messages.c
    last = and_(m.line_user_id == conversations.c.line_user_id, m.seq == conversations.c.last_seq)
    labelled = [c.label(MESSAGE_PREFIX + c.name) for c in messages.c]
    return select(conversations, *labelled).select_from(conversations.outerjoin(messages, last))


def new_message_row(
    line_user_id: str,
    seq: int,
    rev: int,
    created_at: datetime,
    direction: Direction = Direction.INBOUND,
) -> dict[str, Any]:
    """A new message's columns: an inbound one from the user as `received`, an
    outbound one from an operator as `pending`, kind text; the caller changes the rest."""
    inbound = direction == Direction.INBOUND
    row: dict[str, Any] = {"id": uuid.uuid4().hex, "line_user_id": line_user_id, "seq": seq}
    row["rev"] = rev
    row.update(direction=direction, created_at=created_at, kind=MessageKind.TEXT, data={})
    row.update(sender_type=SenderType.USER if inbound else SenderType.OPERATOR, sender_id=None)
    row.update(status=MessageStatus.RECEIVED if inbound else MessageStatus.PENDING)
    row.update(text=None, client_msg_id=None, error=None, webhook_event_id=None, lease_until=None)
    return row


def encode_cursor(updated_at: datetime, line_user_id: str) -> str:
    """The opaque cursor that continues a conversation listing after this pair."""
    raw = json.dumps([updated_at.isoformat(), line_user_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def conversation_cursor(conversation: Conversation) -> str:
    """The cursor that continues a conversation listing after `conversation`."""
    return encode_cursor(conversation.updated_at, conversation.line_user_id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The pair inside a cursor, the time in UTC; raises `ValueError` for
    anything else, including what no store could look up (a NUL in the id, a
    time that leaves the calendar once moved to UTC)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, line_user_id = json.loads(raw)
        when = datetime.fromisoformat(stamp)
        if when.tzinfo is not None:
            when = when.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ValueError("invalid conversation cursor") from exc
    if when.tzinfo is None or not valid_line_user_id(line_user_id):
        raise ValueError("invalid conversation cursor")
    return when, line_user_id
