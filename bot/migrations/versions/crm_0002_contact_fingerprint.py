"""Contact records: a content fingerprint so the same contact logged twice is one record (issue #10).

Revision ID: crm_0002_contact_fingerprint
Revises: crm_0001_initial
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_0002_contact_fingerprint"
down_revision: str | None = "crm_0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(database: str = "main") -> None:
    if database != "main":
        return
    # Nullable and not back-filled: older rows keep NULL (never equal in a unique index), so existing
    # duplicates cannot make the upgrade fail; only records written from now on are deduplicated.
    op.add_column("crm_contacts", sa.Column("content_fingerprint", sa.String(64), nullable=True))
    op.create_index(
        "uq_crm_contacts_content_fingerprint", "crm_contacts", ["content_fingerprint"], unique=True
    )


def downgrade(database: str = "main") -> None:
    if database != "main":
        return
    op.drop_index("uq_crm_contacts_content_fingerprint", table_name="crm_contacts")
    with op.batch_alter_table("crm_contacts") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("content_fingerprint")
