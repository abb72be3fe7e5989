"""The store's tables as protocol 1.0 made them (`create_schema` before
migrations, schema version 1), to build a database of that release and upgrade it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

TIME = DateTime(timezone=True)
metadata = MetaData()

conversations = Table(
    "livechat_conversations",
    metadata,
    Column("line_user_id", String(64), primary_key=True),
    Column("display_name", Text, nullable=True),
    Column("picture_url", Text, nullable=True),
    Column("followed", Boolean, nullable=False, default=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("created_at", TIME, nullable=False),
    Column("updated_at", TIME, nullable=False),
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
    Column("lease_until", TIME, nullable=True),
    Column("created_at", TIME, nullable=False),
    UniqueConstraint("line_user_id", "seq", name="uq_livechat_messages_seq"),
    UniqueConstraint("line_user_id", "client_msg_id", name="uq_livechat_messages_client_msg"),
    UniqueConstraint("webhook_event_id", name="uq_livechat_messages_webhook_event"),
    Index("ix_livechat_messages_status_created", "status", "created_at"),
)

webhook_events = Table(
    "livechat_webhook_events",
    metadata,
    Column("webhook_event_id", String(128), primary_key=True),
    Column("received_at", TIME, nullable=False),
)

schema_version = Table(
    "livechat_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", TIME, nullable=False),
)
