"""CRM schema: staff, clients (+ name terms for substring search), contact records, access log.

Revision ID: crm_0001_initial
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite integer primary keys auto-increment only as INTEGER.
_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _c_string(length: int) -> sa.types.TypeEngine[str]:
    # Byte-order collation on PostgreSQL so `col >= :prefix AND col < :next` range scans (prefix search on
    # Chinese names and pinyin) use the B-tree and mean what they say, whatever the database locale.
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.create_table(
        "crm_staff",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("team", sa.String(32), nullable=True),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("telegram_id", name="uq_crm_staff_telegram_id"),
    )
    op.create_index("ix_crm_staff_team", "crm_staff", ["team"])

    op.create_table(
        "crm_clients",
        sa.Column("client_id", _c_string(32), primary_key=True),
        sa.Column("name", _c_string(200), nullable=False),
        sa.Column("name_pinyin", _c_string(400), nullable=False),
        sa.Column("name_initials", _c_string(200), nullable=False),
        sa.Column("gender", sa.String(4), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("birth_mmdd", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("phone_tail", sa.String(4), nullable=True),
        sa.Column("aum_fen", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.String(8), nullable=False),
        sa.Column("risk_level", sa.String(2), nullable=False),
        sa.Column("preferences", sa.Text(), nullable=False, server_default=""),
        sa.Column("family", sa.Text(), nullable=False, server_default=""),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("rm_code", sa.String(32), sa.ForeignKey("crm_staff.code"), nullable=False),
        sa.Column("kyc_review_due", sa.Date(), nullable=True),
        sa.Column("aml_risk", sa.String(2), nullable=False, server_default="低"),
        sa.Column("pep", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Scoped search (an RM's few hundred clients among 100k): the RM's slice of each key column.
    op.create_index("ix_crm_clients_rm_code_name", "crm_clients", ["rm_code", "name", "client_id"])
    op.create_index("ix_crm_clients_rm_code_pinyin", "crm_clients", ["rm_code", "name_pinyin", "client_id"])
    op.create_index(
        "ix_crm_clients_rm_code_initials", "crm_clients", ["rm_code", "name_initials", "client_id"]
    )
    # Search runs one range query per key column ordered by (column, client_id) with a LIMIT.
    op.create_index("ix_crm_clients_name", "crm_clients", ["name", "client_id"])
    op.create_index("ix_crm_clients_name_pinyin", "crm_clients", ["name_pinyin", "client_id"])
    op.create_index("ix_crm_clients_name_initials", "crm_clients", ["name_initials", "client_id"])
    op.create_index("ix_crm_clients_phone_tail", "crm_clients", ["phone_tail", "client_id"])
    op.create_index("ix_crm_clients_birth_mmdd", "crm_clients", ["birth_mmdd"])

    op.create_table(
        "crm_client_terms",
        sa.Column("term", sa.String(32), primary_key=True),
        sa.Column(
            "client_id",
            _c_string(32),
            sa.ForeignKey("crm_clients.client_id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_crm_client_terms_client_id", "crm_client_terms", ["client_id"])

    op.create_table(
        "crm_contacts",
        sa.Column("id", _BIGINT_PK, primary_key=True, autoincrement=True),
        sa.Column("client_id", _c_string(32), sa.ForeignKey("crm_clients.client_id"), nullable=False),
        sa.Column("rm_code", sa.String(32), sa.ForeignKey("crm_staff.code"), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("next_follow_up", sa.Date(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.UniqueConstraint("idempotency_key", name="uq_crm_contacts_idempotency_key"),
    )
    op.create_index("ix_crm_contacts_client_occurred", "crm_contacts", ["client_id", "occurred_at"])
    op.create_index("ix_crm_contacts_rm_occurred", "crm_contacts", ["rm_code", "occurred_at"])
    op.create_index("ix_crm_contacts_occurred", "crm_contacts", ["occurred_at"])

    op.create_table(
        "crm_access_log",
        sa.Column("id", _BIGINT_PK, primary_key=True, autoincrement=True),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(32), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_crm_access_log_client_at", "crm_access_log", ["client_id", "at"])
    op.create_index("ix_crm_access_log_actor_at", "crm_access_log", ["actor", "at"])


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_table("crm_access_log")
    op.drop_table("crm_contacts")
    op.drop_table("crm_client_terms")
    op.drop_table("crm_clients")
    op.drop_table("crm_staff")
