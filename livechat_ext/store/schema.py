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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from ..models import (
    Conversation,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Sender,
    SenderType,
)

SCHEMA_VERSION = 1
"""The schema version this code writes; `create_schema` records it."""


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


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


metadata = MetaData()

conversations = Table(
    "livechat_conversations",
    metadata,
    Column("line_user_id", String(64), primary_key=True),
    Column("display_name", Text, nullable=True),
    Column("picture_url", Text, nullable=True),
    Column("followed", Boolean, nullable=False, default=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_livechat_conversations_updated", "updated_at", "line_user_id"),
)

messages = Table(
    "livechat_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "line_user_id",
        String(64),
        ForeignKey("livechat_conversations.line_user_id"),
        nullable=False,
    ),
    Column("seq", BigInteger, nullable=False),
    Column("direction", String(16), nullable=False),
    Column("sender_type", String(16), nullable=False),
    Column("sender_id", String(128), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=True),
    Column("data", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("client_msg_id", String(64), nullable=True),
    Column("error", Text, nullable=True),
    Column("webhook_event_id", String(128), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("line_user_id", "seq", name="uq_livechat_messages_seq"),
    UniqueConstraint("line_user_id", "client_msg_id", name="uq_livechat_messages_client_msg"),
    UniqueConstraint("webhook_event_id", name="uq_livechat_messages_webhook_event"),
    Index("ix_livechat_messages_status_created", "status", "created_at"),
)

webhook_events = Table(
    "livechat_webhook_events",
    metadata,
    Column("webhook_event_id", String(128), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
)

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
    line_user_id: str, seq: int, created_at: datetime, direction: Direction = Direction.INBOUND
) -> dict[str, Any]:
    """A new message's columns: an inbound one from the user as `received`, an
    outbound one from an operator as `pending`, kind text; the caller changes the rest."""
    inbound = direction == Direction.INBOUND
    row: dict[str, Any] = {"id": uuid.uuid4().hex, "line_user_id": line_user_id, "seq": seq}
    row.update(direction=direction, created_at=created_at, kind=MessageKind.TEXT, data={})
    row.update(sender_type=SenderType.USER if inbound else SenderType.OPERATOR, sender_id=None)
    row.update(status=MessageStatus.RECEIVED if inbound else MessageStatus.PENDING)
    row.update(text=None, client_msg_id=None, error=None, webhook_event_id=None, lease_until=None)
    return row


def encode_cursor(updated_at: datetime, line_user_id: str) -> str:
    """The opaque cursor that continues a conversation listing after this pair."""
    raw = json.dumps([updated_at.isoformat(), line_user_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The pair inside a cursor; raises `ValueError` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, line_user_id = json.loads(raw)
        when = datetime.fromisoformat(stamp)
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid conversation cursor") from exc
    if when.tzinfo is None or not isinstance(line_user_id, str):
        raise ValueError("invalid conversation cursor")
    return when, line_user_id
