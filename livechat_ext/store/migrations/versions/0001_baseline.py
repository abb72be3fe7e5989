"""The schema of protocol 1.0 (schema version 1), as `create_schema` made it
before migrations: a database made then is stamped with this revision.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "livechat_conversations",
        sa.Column("line_user_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("picture_url", sa.Text, nullable=True),
        sa.Column("followed", sa.Boolean, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    op.create_index(
        "ix_livechat_conversations_updated",
        "livechat_conversations",
        ["updated_at", "line_user_id"],
    )
    op.create_table(
        "livechat_messages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "line_user_id",
            sa.String(64),
            sa.ForeignKey("livechat_conversations.line_user_id"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("sender_type", sa.String(16), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("client_msg_id", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("webhook_event_id", sa.String(128), nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.UniqueConstraint("line_user_id", "seq", name="uq_livechat_messages_seq"),
        sa.UniqueConstraint(
            "line_user_id", "client_msg_id", name="uq_livechat_messages_client_msg"
        ),
        sa.UniqueConstraint("webhook_event_id", name="uq_livechat_messages_webhook_event"),
    )
    op.create_index(
        "ix_livechat_messages_status_created", "livechat_messages", ["status", "created_at"]
    )
    op.create_table(
        "livechat_webhook_events",
        sa.Column("webhook_event_id", sa.String(128), primary_key=True),
        sa.Column("received_at", _TIME, nullable=False),
    )
    op.create_table(
        "livechat_schema_version",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("applied_at", _TIME, nullable=False),
    )
    _record_version(1)


def _record_version(version: int) -> None:
    table = sa.table(
        "livechat_schema_version", sa.column("version", sa.Integer), sa.column("applied_at", _TIME)
    )
    op.execute(table.insert().values(version=version, applied_at=sa.func.now()))
