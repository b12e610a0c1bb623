"""Audit trail: an append-only hash chain of answers, client-data reads and contact records.

Revision ID: audit_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "audit_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "audit_chain",
        # Explicit ids (no autoincrement): a row's id is part of its hash, and a gap is a deletion.
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_chain_kind_ref", "audit_chain", ["kind", "ref"])


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_index("ix_audit_chain_kind_ref", "audit_chain")
    op.drop_table("audit_chain")
