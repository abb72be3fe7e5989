"""Protocol 1.1: message `rev`, conversation `last_rev`, `status`, `assignee`,
`read_seq` and `unread_count`.

Existing rows keep their meaning: a message's `rev` starts as its `seq` (so
`last_rev` is `last_seq`), every conversation is open and unassigned, and
nothing has been marked read, so every inbound message counts as unread.

Revision ID: 0002_team_workflow
Revises: 0001_baseline
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_team_workflow"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

_ZERO = sa.text("0")


def upgrade() -> None:
    op.add_column(
        "livechat_messages", sa.Column("rev", sa.BigInteger, nullable=False, server_default=_ZERO)
    )
    conversation_columns: list[sa.Column[Any]] = [
        sa.Column("last_rev", sa.BigInteger, nullable=False, server_default=_ZERO),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("assignee", sa.String(128), nullable=True),
        sa.Column("read_seq", sa.BigInteger, nullable=False, server_default=_ZERO),
        sa.Column("unread_count", sa.BigInteger, nullable=False, server_default=_ZERO),
    ]
    for column in conversation_columns:
        op.add_column("livechat_conversations", column)
    op.execute("UPDATE livechat_messages SET rev = seq")
    op.execute(
        "UPDATE livechat_conversations SET last_rev = last_seq, unread_count = ("
        "SELECT count(*) FROM livechat_messages m"
        " WHERE m.line_user_id = livechat_conversations.line_user_id"
        " AND m.direction = 'inbound')"
    )
    # catch-up by rev reads (line_user_id, rev > n) in order; a rev is never reused
    op.create_index(
        "uq_livechat_messages_rev", "livechat_messages", ["line_user_id", "rev"], unique=True
    )
    op.create_index(
        "ix_livechat_conversations_status",
        "livechat_conversations",
        ["status", "updated_at", "line_user_id"],
    )
    # code that knows only schema version 1 refuses a database marked newer
    table = sa.table(
        "livechat_schema_version",
        sa.column("version", sa.Integer),
        sa.column("applied_at", sa.DateTime(timezone=True)),
    )
    op.execute(table.insert().values(version=2, applied_at=sa.func.now()))
