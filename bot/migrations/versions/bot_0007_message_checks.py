"""Message checks: every draft an RM checked before sending it to a client (/check, check-message), with
its verdict, findings and rewrite (personal numbers masked), for the supervisors' /stats and /review.

Revision ID: bot_0007_message_checks
Revises: bot_0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0007_message_checks"
down_revision = "bot_0006"
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "bot_message_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("staff_code", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=True),  # the client addressed, when named
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),  # ok | revise
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("rewrite", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_bot_message_checks_staff_created", "bot_message_checks", ["staff_code", "created_at"])


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_index("ix_bot_message_checks_staff_created", table_name="bot_message_checks")
    op.drop_table("bot_message_checks")
