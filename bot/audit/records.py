"""Audited records: the hash of each record's content in its audit row, and the check of the live rows.

The chain alone proves only that the audit rows are intact. Each audit row about a record (a contact
record, an exchange, a knowledge change, …) therefore also stores `record_sha256`: the SHA-256 of a
canonical JSON of the record's fields as stored. `audit verify` recomputes it from the live rows and
names each record that was edited (hash differs), deleted (audited, no longer there) or never audited.

To audit a new kind of record: append its event with `record_payload(fields)` (better: inside the
transaction that stores it, `AuditTrail.append_in`); the feature that stores it offers a `RecordKind`
reading the live rows, and the composition root adds it to `audited_records`, which it hands to
`AuditTrail.verify(records=…)` (this package imports no feature). The fields must be exactly what the
live row gives back (the same function builds them on both sides); fields that legitimately change
later (👍/👎 on an exchange) are left out.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy import FromClause
    from sqlalchemy.engine import Engine

    from bot.convlog_types import Exchange
    from crm_adapter import BenefitUse, ContactRecord

logger = logging.getLogger(__name__)


class _Trail(Protocol):
    """What an after-save append needs of `bot.audit.trail.AuditTrail` (a Protocol, so this module,
    which the trail imports, does not import it back)."""

    def find(self, *, kind: str, ref: str) -> Sequence[object]: ...

    def append(self, *, kind: str, actor: str, ref: str, payload: Mapping[str, Any]) -> object: ...


#: The payload key of a record's content hash.
RECORD_HASH = "record_sha256"


def _json_default(value: Any) -> Any:
    """JSON for what `json` does not know, the same whether it comes from the object just stored or the
    row read back (datetimes as UTC with microseconds: SQLite hands back naive UTC, PostgreSQL aware)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):  # amounts: their exact text
        return str(value)
    raise TypeError(f"not JSON serialisable in an audited record: {type(value).__name__}")


def _canonical(fields: Mapping[str, Any]) -> str:
    # Tuples become lists and str-valued enums their value, as in the stored JSON.
    return json.dumps(
        fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default
    )


def record_digest(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a record's fields."""
    return hashlib.sha256(_canonical(fields).encode("utf-8")).hexdigest()


def record_payload(fields: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """An audit payload about a record: its fields (as JSON values), `extra`, and its content hash."""
    text = _canonical(fields)
    return {**json.loads(text), **extra, RECORD_HASH: hashlib.sha256(text.encode("utf-8")).hexdigest()}


def append_after_save(trail: _Trail, *, kind: str, actor: str, ref: str, fields: Mapping[str, Any]) -> None:
    """The audit row of a record saved in another database than the trail (its transaction could not
    hold the append): once per record, so a resend of one already audited appends nothing. A failure is
    logged and raised: the request fails, and `audit verify` names the record until a resend audits it."""
    if trail.find(kind=kind, ref=ref):
        return
    try:
        trail.append(kind=kind, actor=actor, ref=ref, payload=record_payload(fields))
    except Exception:
        logger.error("%s %s stored but not appended to the audit trail", kind, ref)
        raise


# --- the fields of each audited record (one function for the append and for the check) -------------
def contact_fields(record: ContactRecord) -> dict[str, Any]:
    """Everything a contact record stores (not the `duplicate` flag of a return value)."""
    return record.model_dump(exclude={"duplicate"})


def benefit_use_fields(use: BenefitUse) -> dict[str, Any]:
    """Everything a benefit use stores (not the `duplicate` flag of a return value)."""
    return use.model_dump(exclude={"duplicate"})


def exchange_fields(exchange: Exchange) -> dict[str, Any]:
    """The question, the answer (its lead), the sources, the composer, … — not the feedback, which the
    RM may give later."""
    return {
        "id": exchange.id,
        "staff_code": exchange.staff_code,
        "channel": exchange.channel,
        "chat_id": exchange.chat_id,
        "update_id": exchange.update_id,
        "question": exchange.question,
        "answer": exchange.answer,
        "citations": list(exchange.citations),
        "grounded": exchange.grounded,
        "composer": exchange.composer,
        "flags": list(exchange.flags),
        "created_at": exchange.created_at,
    }


# --- checking the live rows ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RecordKind:
    """One kind of audited record: its audit `kind`, how a finding names it (`label` + `prefix` + ref,
    e.g. 联系记录 C12) and every live record as (ref, fields), refs as in the audit rows."""

    kind: str
    label: str
    prefix: str
    rows: Callable[[], Iterable[tuple[str, Mapping[str, Any]]]]

    def name(self, ref: str) -> str:
        return f"{self.label} {self.prefix}{ref}"


#: An audit row about a record that carries no content hash (written before record hashes existed).
UNHASHED = ""


def check_records(
    kinds: Iterable[RecordKind], audited: Mapping[str, dict[str, str]]
) -> tuple[list[str], int]:
    """Compare the live records with the latest audited hash of each (`audited`: kind → ref → hash).

    Returns the findings (one line each) and how many records were checked.
    """
    problems: list[str] = []
    checked = 0
    for rk in kinds:
        left = dict(audited.get(rk.kind, {}))
        for ref, fields in rk.rows():
            checked += 1
            digest = left.pop(ref, None)
            if digest is None:
                problems.append(f"{rk.name(ref)} 未经审计（库中有，审计记录中没有）")
            elif digest != UNHASHED and digest != record_digest(fields):
                problems.append(f"{rk.name(ref)} 内容与审计记录不符（已被修改）")
        for ref in sorted(left, key=_ref_order):
            problems.append(f"{rk.name(ref)} 已被删除（审计记录中有，库中没有）")
    return problems, checked


def table_rows(engine: Engine, table: FromClause, *, batch: int = 5000) -> Iterator[Any]:
    """Every row of `table` in id order, read in pages (nothing if the table does not exist): what a
    feature's `RecordKind` reads its live records from."""
    import sqlalchemy as sa

    last: Any = None
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(getattr(table, "name", "")):  # a mapped class's __table__
            return
        while True:
            stmt = sa.select(table).order_by(table.c.id).limit(batch)
            if last is not None:
                stmt = stmt.where(table.c.id > last)
            page = conn.execute(stmt).all()
            if not page:
                return
            yield from page
            last = page[-1].id


def _ref_order(ref: str) -> tuple[int, str]:
    digits = ref.lstrip("KQCA")
    return (int(digits), ref) if digits.isdigit() else (0, ref)


__all__ = [
    "RECORD_HASH",
    "RecordKind",
    "benefit_use_fields",
    "check_records",
    "contact_fields",
    "exchange_fields",
    "record_digest",
    "record_payload",
    "table_rows",
]
