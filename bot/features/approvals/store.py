"""Knowledge changes awaiting, or past, their second pair of eyes (`bot_knowledge_changes`, migration 0005).

Every transition is a conditional UPDATE from one status to the next, so two approvers pressing at once
make one decision, and a decided change can never be decided again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.audit.records import RecordKind
from bot.core import as_utc

if TYPE_CHECKING:
    from bot.convlog import ConversationLog

logger = logging.getLogger(__name__)

#: Run inside a write's transaction with the stored change (the audit append).
Also = Callable[[Connection, "KnowledgeChange"], object]

PENDING, REJECTED, APPROVED = "pending", "rejected", "approved"
LIVE, EXPIRED, FAILED = "live", "expired", "failed"
STATUSES = (PENDING, REJECTED, APPROVED, LIVE, EXPIRED, FAILED)
STATUS_NAMES = {
    PENDING: "待审批",
    REJECTED: "已驳回",
    APPROVED: "已批准，待生效",
    LIVE: "已生效",
    EXPIRED: "已失效",
    FAILED: "入库失败",
}

METADATA = sa.MetaData()
_changes = sa.Table(
    "bot_knowledge_changes",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("stored_path", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("submitted_by", sa.String(32), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(32)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("note", sa.Text),
    sa.Column("effective_date", sa.Date),
    sa.Column("expiry_date", sa.Date),
    sa.Column("source", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_bot_knowledge_changes_status", "status"),
)


@dataclass(frozen=True, slots=True)
class KnowledgeChange:
    id: int
    file_name: str
    stored_path: str
    sha256: str
    submitted_by: str
    submitted_at: datetime
    status: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    effective_date: date | None = None
    expiry_date: date | None = None
    source: str | None = None

    @property
    def ref(self) -> str:
        return f"K{self.id}"

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "ref": self.ref,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at.isoformat(),
            "status": self.status,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "note": self.note,
            "effective_date": self.effective_date.isoformat() if self.effective_date else None,
            "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
            "source": self.source,
        }


def _to_change(row: Any) -> KnowledgeChange:
    m = row._mapping
    submitted = as_utc(m["submitted_at"])
    assert submitted is not None
    return KnowledgeChange(
        id=int(m["id"]),
        file_name=str(m["file_name"]),
        stored_path=str(m["stored_path"]),
        sha256=str(m["sha256"]),
        submitted_by=str(m["submitted_by"]),
        submitted_at=submitted,
        status=str(m["status"]),
        decided_by=m["decided_by"],
        decided_at=as_utc(m["decided_at"]),
        note=m["note"],
        effective_date=m["effective_date"],
        expiry_date=m["expiry_date"],
        source=m["source"],
    )


class ChangeStore:
    """Repository of knowledge changes on the conversation log's (migrated) database; thread-safe."""

    def __init__(self, store: ConversationLog | Engine) -> None:
        self._engine = store if isinstance(store, Engine) else store.engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def add(
        self,
        *,
        file_name: str,
        stored_path: str,
        sha256: str,
        submitted_by: str,
        at: datetime,
        effective_date: date | None,
        expiry_date: date | None,
        status: str = PENDING,
        also: Also | None = None,
    ) -> KnowledgeChange:
        """Store a new change; `also` runs inside the same transaction (the audit append: if it fails,
        nothing is stored)."""
        values = {
            "file_name": file_name,
            "stored_path": stored_path,
            "sha256": sha256,
            "submitted_by": submitted_by,
            "submitted_at": at,
            "status": status,
            "effective_date": effective_date,
            "expiry_date": expiry_date,
            "updated_at": at,
        }
        with self._engine.begin() as conn:
            key = conn.execute(_changes.insert().values(**values)).inserted_primary_key
            assert key is not None
            change = _to_change(conn.execute(sa.select(_changes).where(_changes.c.id == key[0])).one())
            if also is not None:
                also(conn, change)
        return change

    def set_path(self, *, change_id: int, stored_path: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(_changes.update().where(_changes.c.id == change_id).values(stored_path=stored_path))

    def get(self, *, change_id: int) -> KnowledgeChange | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_changes).where(_changes.c.id == change_id)).first()
        return _to_change(row) if row is not None else None

    def list(self, *, statuses: tuple[str, ...] = STATUSES, limit: int = 50) -> list[KnowledgeChange]:
        stmt = (
            sa.select(_changes)
            .where(_changes.c.status.in_(statuses))
            .order_by(_changes.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_to_change(r) for r in conn.execute(stmt)]

    def transition(
        self,
        *,
        change_id: int,
        old: str,
        new: str,
        at: datetime,
        decided_by: str | None = None,
        note: str | None = None,
        source: str | None = None,
        also: Also | None = None,
    ) -> KnowledgeChange | None:
        """Move the change from `old` to `new`; None when it was not in `old` any more (someone else won).
        `also` runs inside the same transaction with the changed record (the audit append)."""
        values: dict[str, Any] = {"status": new, "updated_at": at}
        if decided_by is not None:
            values.update(decided_by=decided_by, decided_at=at)
        if note is not None:
            values["note"] = note
        if source is not None:
            values["source"] = source
        stmt = _changes.update().where(_changes.c.id == change_id, _changes.c.status == old).values(**values)
        with self._engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                return None
            change = _to_change(conn.execute(sa.select(_changes).where(_changes.c.id == change_id)).one())
            if also is not None:
                also(conn, change)
        return change


def audited_changes(engine: Engine) -> RecordKind:
    """Knowledge changes as `audit verify` reads them back from `engine`."""

    def rows() -> Iterator[tuple[str, Mapping[str, object]]]:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(_changes.name):
                return
        for change in ChangeStore(engine).list(limit=2**31 - 1):
            yield change.ref, change.to_dict()

    return RecordKind("knowledge_change", "知识变更", "", rows)
