"""Media: the content of users' images, videos, audio and files, fetched from
LINE and kept as files; this table is their fetch state, shared by every node
(so a restart resumes a fetch, and any node knows what exists).

Existing media messages have no row: they were never fetched (their content
URLs are not in their data either), so nothing changes for them.

Revision ID: 0003_media
Revises: 0002_team_workflow
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_media"
down_revision = "0002_team_workflow"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "livechat_media",
        sa.Column("line_message_id", sa.String(64), primary_key=True),
        sa.Column("line_user_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("preview_type", sa.String(255), nullable=True),
        sa.Column("file_name", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    )
    # a restart's resume reads the pending ones whose lease ran out
    op.create_index("ix_livechat_media_state", "livechat_media", ["state", "lease_until"])
