"""The benefit ledger: one row per use of a counted entitlement (issue #21).

Revision ID: crm_0004_benefit_uses
Revises: crm_0003_products_risk
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_0004_benefit_uses"
down_revision: str | None = "crm_0003_products_risk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT identity on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY (as in 0001).
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "crm_benefit_uses",
        sa.Column("id", _BIGINT_PK, primary_key=True, autoincrement=True),
        sa.Column(
            "client_id",
            sa.String(32).with_variant(sa.String(32, collation="C"), "postgresql"),
            sa.ForeignKey("crm_clients.client_id"),
            nullable=False,
        ),
        sa.Column("benefit", sa.String(64), nullable=False),
        sa.Column("used_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), sa.ForeignKey("crm_contacts.id"), nullable=True),
        sa.Column("recorded_by", sa.String(32), sa.ForeignKey("crm_staff.code"), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_crm_benefit_uses_idempotency_key"),
        sa.UniqueConstraint("fingerprint", name="uq_crm_benefit_uses_fingerprint"),
    )
    op.create_index("ix_crm_benefit_uses_client_used_on", "crm_benefit_uses", ["client_id", "used_on"])


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_table("crm_benefit_uses")
