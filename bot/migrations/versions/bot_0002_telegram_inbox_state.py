"""Telegram: the durable update inbox and the conversation state (PTB persistence).

`bot_inbox` supersedes `bot_processed_updates` (the old redelivery claim): the claims already made are
copied in as finished updates, so an update handled before the upgrade is still not handled twice.

Revision ID: bot_0002
Revises: bot_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0002"
down_revision = "bot_0001"
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "bot_inbox",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("update_id", sa.BigInteger, primary_key=True),
        # pending: received (and maybe acknowledged), not finished; done: handled; failed: given up
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("payload", sa.JSON, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_bot_inbox_status", "bot_inbox", ["status", "channel", "update_id"])
    op.execute(
        "INSERT INTO bot_inbox (channel, update_id, status, payload, attempts, received_at, done_at) "
        "SELECT channel, update_id, 'done', NULL, 0, processed_at, processed_at FROM bot_processed_updates"
    )
    op.create_table(
        "bot_user_data",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "bot_conversations",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("conv_key", sa.String(128), primary_key=True),  # the key tuple as a JSON list
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_table("bot_conversations")
    op.drop_table("bot_user_data")
    op.drop_index("ix_bot_inbox_status", table_name="bot_inbox")
    op.drop_table("bot_inbox")
