"""One tree: the CRM, conversation-log and audit branches (the former three trees) meet here.

Revision ID: 0009_one_tree
Revises: crm_0004_benefit_uses, bot_0008_leader_lease, audit_0001
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009_one_tree"
down_revision: str | Sequence[str] | None = ("crm_0004_benefit_uses", "bot_0008_leader_lease", "audit_0001")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(database: str = "main") -> None:
    pass


def downgrade(database: str = "main") -> None:
    pass
