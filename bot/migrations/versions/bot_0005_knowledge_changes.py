"""Four-eyes knowledge changes: an uploaded document waits here until a second person approves it.

Revision ID: bot_0005
Revises: bot_0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0005"
down_revision = "bot_0004"
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "bot_knowledge_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("stored_path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("submitted_by", sa.String(32), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        # pending | rejected | approved (waiting for its effective date) | live | expired | failed
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("effective_date", sa.Date, nullable=True),
        sa.Column("expiry_date", sa.Date, nullable=True),
        sa.Column("source", sa.Text, nullable=True),  # the knowledge-base source once it is live
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_bot_knowledge_changes_status", "bot_knowledge_changes", ["status"])


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_index("ix_bot_knowledge_changes_status", table_name="bot_knowledge_changes")
    op.drop_table("bot_knowledge_changes")
