"""Hot standby with a lease: the leader of each bot renews a heartbeat row; a standby takes over when
the heartbeat is older than the lease, by incrementing the term (see bot/telegram/standby.py).

One row per leader key (RM_STANDBY_LOCK_ID, else derived from the bot's id). Created on SQLite too (the
migrations are shared), where it stays empty: SQLite runs one process only.

Revision ID: bot_0008_leader_lease
Revises: bot_0007_message_checks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0008_leader_lease"
down_revision = "bot_0007_message_checks"
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "bot_leader",
        sa.Column("leader_key", sa.BigInteger, primary_key=True, autoincrement=False),
        # +1 at every takeover: writes of a process whose term is no longer current are refused
        sa.Column("term", sa.BigInteger, nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        # the database's clock (now()) at the last renewal: hosts' clocks are never compared
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_table("bot_leader")
