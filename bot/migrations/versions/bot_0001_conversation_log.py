"""Conversation log: exchanges and processed updates.

Revision ID: bot_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "bot_exchanges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("staff_code", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.BigInteger, nullable=True),
        sa.Column("update_id", sa.BigInteger, nullable=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("citations", sa.JSON, nullable=False),
        sa.Column("grounded", sa.Boolean, nullable=False),
        sa.Column("composer", sa.String(16), nullable=False),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("feedback", sa.String(8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("channel", "chat_id", "update_id", name="uq_bot_exchanges_update"),
    )
    op.create_index("ix_bot_exchanges_staff_created", "bot_exchanges", ["staff_code", "created_at"])
    op.create_index("ix_bot_exchanges_created", "bot_exchanges", ["created_at"])
    op.create_index("ix_bot_exchanges_grounded", "bot_exchanges", ["grounded", "created_at"])
    op.create_table(
        "bot_processed_updates",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("update_id", sa.BigInteger, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_table("bot_processed_updates")
    op.drop_index("ix_bot_exchanges_grounded", table_name="bot_exchanges")
    op.drop_index("ix_bot_exchanges_created", table_name="bot_exchanges")
    op.drop_index("ix_bot_exchanges_staff_created", table_name="bot_exchanges")
    op.drop_table("bot_exchanges")
