"""Product catalogue (R1–R5) and client risk-assessment / KYC review dates (issue #12).

Revision ID: crm_0003_products_risk
Revises: crm_0002_contact_fingerprint
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_0003_products_risk"
down_revision: str | None = "crm_0002_contact_fingerprint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _c_string(length: int) -> sa.types.TypeEngine[str]:
    # Byte-order collation on PostgreSQL, as in 0001: prefix range scans on names and pinyin.
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.add_column("crm_clients", sa.Column("risk_assessed_on", sa.Date(), nullable=True))
    op.create_index("ix_crm_clients_kyc_review_due", "crm_clients", ["kyc_review_due"])

    op.create_table(
        "crm_products",
        sa.Column("code", _c_string(32), primary_key=True),
        sa.Column("name", _c_string(100), nullable=False),
        sa.Column("name_pinyin", _c_string(400), nullable=False),
        sa.Column("name_initials", _c_string(100), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("risk_level", sa.String(2), nullable=False),
        sa.Column("issuer", sa.String(100), nullable=False, server_default=""),
        sa.Column("status", sa.String(8), nullable=False, server_default="在售"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_crm_products_name", "crm_products", ["name"])
    op.create_index("ix_crm_products_name_pinyin", "crm_products", ["name_pinyin"])
    op.create_index("ix_crm_products_name_initials", "crm_products", ["name_initials"])


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_table("crm_products")
    op.drop_index("ix_crm_clients_kyc_review_due", table_name="crm_clients")
    # SQLite drops a column only in batch mode (the table is copied); a plain ALTER on PostgreSQL.
    with op.batch_alter_table("crm_clients") as batch:
        batch.drop_column("risk_assessed_on")
