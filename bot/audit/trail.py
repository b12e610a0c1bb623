"""A tamper-evident audit trail: every event is a row whose hash covers its content and the previous
row's hash, so an edited, inserted or deleted row breaks the chain at that point.

Rows carry explicit consecutive ids (a gap is a deletion) and `prev_hash` is unique (two writers can
never both extend the same head). Appends are serialised: a process lock, plus a transaction-level
advisory lock on PostgreSQL; on SQLite the database lock does the same across processes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.audit.records import RECORD_HASH, UNHASHED, RecordKind, check_records, record_payload

logger = logging.getLogger(__name__)

#: The first row's `prev_hash`.
GENESIS = "0" * 64
#: Advisory-lock key of the chain head on PostgreSQL (any constant unique to this purpose).
_PG_LOCK_KEY = 0x524D_4155_4449_54  # "RMAUDIT"

METADATA = sa.MetaData()
_TABLE = sa.Table(
    "audit_chain",
    METADATA,
    # Explicit ids (no autoincrement): a row's id is part of its hash, and a gap is a deletion.
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("actor", sa.String(32), nullable=False),
    sa.Column("ref", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_chain_kind_ref", "kind", "ref"),
)
_HEAD = sa.select(_TABLE.c.id, _TABLE.c.hash).order_by(_TABLE.c.id.desc()).limit(1)
_INSERT = sa.insert(_TABLE)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    at: datetime
    kind: str
    actor: str
    ref: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain's head as posted outside the database (`HASH:N`: row N's hash). A chain rebuilt or cut
    short afterwards no longer has that hash at row N."""

    hash: str
    rows: int

    def __str__(self) -> str:
        return f"{self.hash}:{self.rows}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        digest, _, rows = text.strip().partition(":")
        digest = digest.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not rows.isdigit():
            raise ValueError(f"锚点格式应为 HASH:N（64 位十六进制哈希:行数），收到 {text.strip()[:80]!r}")
        return cls(digest, int(rows))


@dataclass(frozen=True, slots=True)
class VerifyReport:
    rows: int
    ok: bool
    broken_at: int | None = None  # the id of the first row whose link does not hold
    reason: str = ""
    #: Every finding, one line each: the chain's (as `reason`), the anchor's, then the records'.
    problems: tuple[str, ...] = ()
    records: int = 0  # live records compared with their audited hash
    head: Anchor | None = None  # the last row in sequence


def _canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(*, id: int, at: datetime, kind: str, actor: str, ref: str, payload: str, prev_hash: str) -> str:
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    material = "\x1f".join((str(id), stamp, kind, actor, ref, payload, prev_hash))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class AuditTrail:
    """Append events and verify the chain (thread-safe). Owns `engine` (disposed by `close`)."""

    def __init__(self, engine: Engine, *, migrate: bool = True) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        if migrate:
            from bot import migrations

            migrations.upgrade(engine)

    def append(self, *, kind: str, actor: str, ref: str, payload: Mapping[str, Any]) -> AuditEvent:
        """Add one event at the head of the chain."""
        body = _canonical(payload)
        with self._lock:
            for attempt in range(5):
                try:
                    with self._engine.begin() as conn:
                        return self._append(conn, kind=kind, actor=actor, ref=ref, body=body)
                except IntegrityError:  # another process extended the same head: read it again
                    logger.info("audit head moved (attempt %d); retrying", attempt + 1)
        raise RuntimeError("audit trail: could not append after 5 attempts")

    @property
    def engine(self) -> Engine:
        """The engine of the trail's database (the application database, with the audited records)."""
        return self._engine

    def shares_database(self, engine: Engine) -> bool:
        """Whether `engine` reaches the database of this trail (so an append can join its transaction)."""
        return engine.url == self._engine.url

    def append_in(
        self, conn: Connection, *, kind: str, actor: str, ref: str, payload: Mapping[str, Any]
    ) -> AuditEvent:
        """Add one event inside the caller's transaction on this trail's database.

        The event commits, or rolls back, with what it records (one durable commit instead of two). The
        head is read under the write lock: SQLite transactions begin IMMEDIATE, PostgreSQL takes the
        advisory lock, so concurrent appenders queue instead of racing.
        """
        return self._append(conn, kind=kind, actor=actor, ref=ref, body=_canonical(payload))

    def record_hook(
        self,
        *,
        kind: str,
        actor: str | Callable[[R], str],
        ref: Callable[[R], str],
        fields: Callable[[R], Mapping[str, Any]],
    ) -> Callable[[Connection, R], AuditEvent]:
        """A callable for a store's "inside the transaction" hook (`create_contact(on_insert=…)`,
        `ChangeStore.transition(also=…)`, …): appends the new record with its content hash
        (`records.record_payload`), so it commits or rolls back with the record."""

        def append(conn: Connection, record: R) -> AuditEvent:
            who = actor if isinstance(actor, str) else actor(record)
            payload = record_payload(fields(record))
            return self.append_in(conn, kind=kind, actor=who, ref=ref(record), payload=payload)

        return append

    def _append(self, conn: Connection, *, kind: str, actor: str, ref: str, body: str) -> AuditEvent:
        if conn.dialect.name == "postgresql":
            return _append_pg(conn, kind=kind, actor=actor, ref=ref, body=body)
        head = conn.execute(_HEAD).first()
        new_id, prev = (1, GENESIS) if head is None else (int(head[0]) + 1, str(head[1]))
        at = datetime.now(UTC)
        digest = row_hash(id=new_id, at=at, kind=kind, actor=actor, ref=ref, payload=body, prev_hash=prev)
        row = {"id": new_id, "at": at, "kind": kind, "actor": actor, "ref": ref, "payload": body}
        conn.execute(_INSERT, {**row, "prev_hash": prev, "hash": digest})
        return AuditEvent(new_id, at, kind, actor, ref, json.loads(body), prev, digest)

    def verify(
        self,
        *,
        batch: int = 20_000,
        records: Sequence[RecordKind] = (),
        anchor: Anchor | None = None,
    ) -> VerifyReport:
        """Walk the whole chain; report the first row that was edited, inserted or follows a deletion,
        every row outside the sequence (id ≤ 0, duplicates), the `anchor` if the chain no longer reaches
        it unchanged, and each record of `records` edited, deleted or never audited."""
        expected_id, prev, rows = 1, GENESIS, 0
        first: tuple[int, str] | None = None
        problems: list[str] = []
        anchored: str | None = None
        wanted = {rk.kind for rk in records}
        audited: dict[str, dict[str, str]] = {k: {} for k in wanted}

        def broken(rid: int, reason: str) -> None:
            nonlocal first
            first = first or (rid, reason)
            problems.append(f"审计记录 #{rid}：{reason}")

        for row in self._rows(batch=batch):
            rows += 1
            rid, at, kind, actor, ref, body, prev_hash, digest = row
            if rid < expected_id:  # id ≤ 0 or a second row with an id already seen: never skipped
                broken(rid, "编号不在链的序列中（伪造或重复）")
                continue
            if rid != expected_id:
                broken(rid, f"第 {expected_id} 条起缺失（已被删除）")
            elif prev_hash != prev:
                broken(rid, "与上一条的链接不符（插入或删除）")
            stamp = _as_utc(at)
            if stamp is None or digest != row_hash(
                id=rid, at=stamp, kind=kind, actor=actor, ref=ref, payload=body, prev_hash=prev_hash
            ):
                broken(rid, "内容与哈希不符（已被修改）")
            if anchor is not None and rid == anchor.rows:
                anchored = digest
            if kind in wanted:
                audited[kind][ref] = _record_hash(body)
            expected_id, prev = rid + 1, digest
        if anchor is not None and anchor.rows > 0:
            if anchored is None:
                problems.append(f"链只有 {expected_id - 1} 条，少于锚点的 {anchor.rows} 条（被截断或清空）")
            elif anchored != anchor.hash:
                problems.append(f"第 {anchor.rows} 条的哈希与锚点不符（链被重建）")
        found, checked = check_records(records, audited) if records else ([], 0)
        problems += found
        head = Anchor(prev, expected_id - 1)
        if first is None:
            return VerifyReport(rows, not problems, problems=tuple(problems), records=checked, head=head)
        return VerifyReport(rows, False, first[0], first[1], tuple(problems), checked, head)

    def anchor(self) -> Anchor:
        """The head to keep outside the database: the last row's hash and id (its row count)."""
        with self._engine.connect() as conn:
            head = conn.execute(_HEAD.where(_TABLE.c.id > 0)).first()
        return Anchor(GENESIS, 0) if head is None else Anchor(str(head[1]), int(head[0]))

    def _rows(self, *, batch: int) -> Iterator[tuple[Any, ...]]:
        cols = (_TABLE.c.id, _TABLE.c.at, _TABLE.c.kind, _TABLE.c.actor, _TABLE.c.ref,
                _TABLE.c.payload, _TABLE.c.prev_hash, _TABLE.c.hash)  # fmt: skip
        with self._engine.connect() as conn:
            # The first page has no lower bound: rows with id ≤ 0 are read (and reported) too.
            page = conn.execute(sa.select(*cols).order_by(_TABLE.c.id).limit(batch)).all()
            while page:
                yield from (tuple(row) for row in page)
                last = int(page[-1][0])
                page = conn.execute(
                    sa.select(*cols).where(_TABLE.c.id > last).order_by(_TABLE.c.id).limit(batch)
                ).all()

    def find(self, *, kind: str, ref: str) -> list[AuditEvent]:
        """The events of one kind about one thing (e.g. the answer of exchange 42), oldest first; rows
        outside the chain's sequence (id ≤ 0: forged) are left out (`verify` reports them)."""
        where = (_TABLE.c.kind == kind, _TABLE.c.ref == ref, _TABLE.c.id > 0)
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(_TABLE).where(*where).order_by(_TABLE.c.id)).all()
        return [
            AuditEvent(
                int(r.id),
                _as_utc(r.at) or r.at,
                r.kind,
                r.actor,
                r.ref,
                json.loads(r.payload),
                r.prev_hash,
                r.hash,
            )
            for r in rows
        ]

    def close(self) -> None:
        self._engine.dispose()


#: The advisory lock and the head in one round trip (simple-query protocol: each statement takes its own
#: snapshot, so the head is read after the lock is held).
_PG_LOCK_AND_HEAD = (
    f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY}); SELECT id, hash FROM audit_chain ORDER BY id DESC LIMIT 1"
)
_PG_INSERT = (
    "INSERT INTO audit_chain (id, at, kind, actor, ref, payload, prev_hash, hash) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


def _append_pg(conn: Connection, *, kind: str, actor: str, ref: str, body: str) -> AuditEvent:
    """The PostgreSQL append on the driver's cursor: two round trips, no statement building per call
    (on the answer path, each statement through the SQL layer cost more than the round trip itself)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cur:
        cur.execute(_PG_LOCK_AND_HEAD)
        cur.nextset()
        head = cur.fetchone()
        new_id, prev = (1, GENESIS) if head is None else (int(head[0]) + 1, str(head[1]))
        at = datetime.now(UTC)
        digest = row_hash(id=new_id, at=at, kind=kind, actor=actor, ref=ref, payload=body, prev_hash=prev)
        cur.execute(_PG_INSERT, (new_id, at, kind, actor, ref, body, prev, digest))
    return AuditEvent(new_id, at, kind, actor, ref, json.loads(body), prev, digest)


def _record_hash(body: str) -> str:
    try:
        found = json.loads(body).get(RECORD_HASH)
    except (ValueError, AttributeError):  # the row's own hash check reports a mangled payload
        return UNHASHED
    return found if isinstance(found, str) and found else UNHASHED


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
