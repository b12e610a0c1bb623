"""Four-eyes curated answers: a trainer's curated answer waits (status pending) until a second person
approves it; only live ones are served (`active`, as before, is true exactly for those).

Answers written before this migration were already being served: they become live, retired ones
retired. `updated_at` moves with every transition, so serving processes notice an approval or a
retirement made by another process.

Revision ID: bot_0006
Revises: bot_0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0006"
down_revision = "bot_0005"
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    # pending | live | rejected | retired
    op.add_column("bot_curated_answers", sa.Column("status", sa.String(16), nullable=True))
    op.add_column("bot_curated_answers", sa.Column("decided_by", sa.String(32), nullable=True))
    op.add_column("bot_curated_answers", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("bot_curated_answers", sa.Column("note", sa.Text, nullable=True))
    op.add_column("bot_curated_answers", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    answers = sa.table(
        "bot_curated_answers",
        sa.column("active", sa.Boolean),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        answers.update().values(
            status=sa.case((answers.c.active, "live"), else_="retired"), updated_at=answers.c.created_at
        )
    )
    op.create_index("ix_bot_curated_answers_status", "bot_curated_answers", ["status"])


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_index("ix_bot_curated_answers_status", table_name="bot_curated_answers")
    for column in ("updated_at", "note", "decided_at", "decided_by", "status"):
        op.drop_column("bot_curated_answers", column)
