"""Recorded message checks (`bot_message_checks`, migration 0007_message_checks): what was checked, by
whom, the verdict, the findings and the rewrite, personal numbers masked. Each record is appended to the
audit trail in the same transaction when both live in one database (a check that cannot be audited is
not recorded, and not shown)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.core import as_utc
from crm_adapter.masking import mask_personal_numbers

if TYPE_CHECKING:
    from bot.audit import AuditTrail

logger = logging.getLogger(__name__)

REVISE, OK = "revise", "ok"
#: How a check is named in chat (/review M12).
REF_PREFIX = "M"

METADATA = sa.MetaData()
_checks = sa.Table(
    "bot_message_checks",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("staff_code", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("client_id", sa.String(32)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("verdict", sa.String(8), nullable=False),
    sa.Column("findings", sa.JSON, nullable=False),
    sa.Column("rewrite", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_bot_message_checks_staff_created", "staff_code", "created_at"),
)


@dataclass(frozen=True, slots=True)
class StoredCheck:
    id: int
    staff_code: str
    channel: str
    client_id: str | None
    text: str
    verdict: str
    findings: tuple[dict[str, str], ...]
    rewrite: str | None
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{REF_PREFIX}{self.id}"


def _to_check(row: Any) -> StoredCheck:
    m = row._mapping
    created = as_utc(m["created_at"])
    assert created is not None
    return StoredCheck(
        id=int(m["id"]),
        staff_code=str(m["staff_code"]),
        channel=str(m["channel"]),
        client_id=m["client_id"],
        text=str(m["text"]),
        verdict=str(m["verdict"]),
        findings=tuple(m["findings"] or ()),
        rewrite=m["rewrite"],
        created_at=created,
    )


def _masked_finding(finding: dict[str, str]) -> dict[str, str]:
    return {k: mask_personal_numbers(v) if isinstance(v, str) else v for k, v in finding.items()}


class CheckStore:
    """Repository of message checks on the conversation log's (migrated) database; thread-safe."""

    def __init__(self, engine: Engine, audit: AuditTrail | None = None) -> None:
        self._engine = engine
        self._audit = audit

    def record(
        self,
        *,
        staff_code: str,
        channel: str,
        client_id: str | None,
        text: str,
        verdict: str,
        findings: Sequence[dict[str, str]],
        rewrite: str | None,
        at: datetime,
    ) -> StoredCheck:
        """Store one check (masked) and append it to the audit trail; both or neither."""
        values: dict[str, Any] = {
            "staff_code": staff_code,
            "channel": channel,
            "client_id": client_id,
            "text": mask_personal_numbers(text),
            "verdict": verdict,
            "findings": [_masked_finding(f) for f in findings],
            "rewrite": mask_personal_numbers(rewrite) if rewrite else None,
            "created_at": at,
        }
        audit = self._audit
        joined = audit is not None and audit.shares_database(self._engine)
        with self._engine.begin() as conn:
            key = conn.execute(sa.insert(_checks), values).inserted_primary_key
            assert key is not None
            stored = StoredCheck(id=int(key[0]), **{**values, "findings": tuple(values["findings"])})
            if audit is not None and joined:
                audit.append_in(conn, **_event(stored))
        if audit is not None and not joined:  # another database: appended after; undone if it fails
            try:
                audit.append(**_event(stored))
            except Exception:
                with self._engine.begin() as conn:
                    conn.execute(sa.delete(_checks).where(_checks.c.id == stored.id))
                raise
        return stored

    def get(self, check_id: int) -> StoredCheck | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_checks).where(_checks.c.id == check_id)).first()
        return _to_check(row) if row is not None else None

    def between(
        self, *, staff_codes: Sequence[str] | None, since: datetime, until: datetime
    ) -> list[StoredCheck]:
        """Checks stored in [since, until), newest first (None: everyone's)."""
        stmt = sa.select(_checks).where(_checks.c.created_at >= since, _checks.c.created_at < until)
        if staff_codes is not None:
            stmt = stmt.where(_checks.c.staff_code.in_(list(staff_codes)))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(_checks.c.id.desc())).all()
        return [_to_check(r) for r in rows]

    def counts(
        self, *, staff_codes: Sequence[str] | None, since: datetime, until: datetime
    ) -> dict[str, tuple[int, int]]:
        """Per staff code: (checks, checks with verdict revise) in [since, until)."""
        revised = sa.func.sum(sa.case((_checks.c.verdict == REVISE, 1), else_=0))
        stmt = (
            sa.select(_checks.c.staff_code, sa.func.count(), revised)
            .where(_checks.c.created_at >= since, _checks.c.created_at < until)
            .group_by(_checks.c.staff_code)
        )
        if staff_codes is not None:
            stmt = stmt.where(_checks.c.staff_code.in_(list(staff_codes)))
        with self._engine.connect() as conn:
            return {str(code): (int(n), int(r or 0)) for code, n, r in conn.execute(stmt).all()}


def _event(check: StoredCheck) -> dict[str, Any]:
    return {
        "kind": "message_check",
        "actor": check.staff_code,
        "ref": str(check.id),
        "payload": {
            "channel": check.channel,
            "client_id": check.client_id,
            "text": check.text,
            "verdict": check.verdict,
            "rules": sorted({f.get("rule", "") for f in check.findings}),
            "rewrite": check.rewrite,
        },
    }
