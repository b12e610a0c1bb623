"""Supervision: what supervisors and trainers did with an exchange or a contact record.

One row per action (reviewed, comment, escalate to a trainer, resolve an escalation); an item's state is
derived from its actions, so nothing is ever overwritten and the table doubles as the audit trail.

Revision ID: bot_0003
Revises: bot_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0003"
down_revision = "bot_0002"
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "bot_review_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_kind", sa.String(16), nullable=False),  # "exchange" | "contact"
        sa.Column("item_id", sa.BigInteger, nullable=False),
        sa.Column("staff_code", sa.String(32), nullable=True),  # whose exchange or contact it is
        sa.Column("action", sa.String(16), nullable=False),  # reviewed | comment | escalate | resolve
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_bot_review_actions_item", "bot_review_actions", ["item_kind", "item_id"])
    op.create_index("ix_bot_review_actions_created", "bot_review_actions", ["created_at"])
    op.create_index("ix_bot_review_actions_action", "bot_review_actions", ["action", "created_at"])


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_index("ix_bot_review_actions_action", table_name="bot_review_actions")
    op.drop_index("ix_bot_review_actions_created", table_name="bot_review_actions")
    op.drop_index("ix_bot_review_actions_item", table_name="bot_review_actions")
    op.drop_table("bot_review_actions")
