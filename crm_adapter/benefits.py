"""The benefit ledger's rules shared by every adapter: validating a use, its logical fingerprint, the
import rows, and the model of a stored row.

A use is one fact about a client: the same client, benefit, day and note is one use whoever records it
and however often it is sent (a resend, an edited message, a re-imported file). The fingerprint is a
unique column in `SqlCRM`, so the database decides, also between concurrent writers. The adapter does
not know which benefits exist (the knowledge base's entitlement table does): callers pass the table's
name of the benefit, already normalised.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from crm_adapter import validation
from crm_adapter.contacts import normalized_summary
from crm_adapter.errors import InvalidInput
from crm_adapter.models import CONTACT_SOURCES, BenefitUse, NewBenefitUse

logger = logging.getLogger(__name__)

_VERSION = "v1"
MAX_BENEFIT_LEN = 64
MAX_NOTE_LEN = 200
MAX_KEY_LEN = 128
#: Columns of `crm import-benefit-uses`.
REQUIRED_COLUMNS = ("client_id", "benefit", "used_on")
OPTIONAL_COLUMNS = ("note",)


def fingerprint(*, client_id: str, benefit: str, used_on: date, note: str) -> str:
    """The SHA-256 (hex) of what makes two recorded uses one."""
    parts = (_VERSION, client_id, benefit, used_on.isoformat(), normalized_summary(note))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def benefit_name(value: str) -> str:
    name = validation.free_text(value, what="权益名称", max_len=MAX_BENEFIT_LEN, required=True)
    if "\n" in name or "\t" in name:
        raise InvalidInput("权益名称不能换行")
    return name


def used_on(value: date | None, *, today: date) -> date:
    day = value or today
    if day > today:
        raise InvalidInput("权益使用日期不能晚于今天")
    if day.year < 2000:
        raise InvalidInput("权益使用日期无效（早于 2000 年）")
    return day


def new_use(use: NewBenefitUse, *, today: date) -> dict[str, Any]:
    """The column values of a use to insert (without author, creation time and fingerprint)."""
    if use.source not in CONTACT_SOURCES:
        raise InvalidInput(f"来源无效：{use.source!r}（可选：{'/'.join(CONTACT_SOURCES)}）")
    key = (use.idempotency_key or "").strip() or None
    if key is not None and len(key) > MAX_KEY_LEN:
        raise InvalidInput(f"幂等键过长（最多 {MAX_KEY_LEN} 个字符）")
    if use.contact_id is not None and (isinstance(use.contact_id, bool) or use.contact_id <= 0):
        raise InvalidInput("联系记录编号无效")
    return {
        "client_id": validation.client_id(use.client_id),
        "benefit": benefit_name(use.benefit),
        "used_on": used_on(use.used_on, today=today),
        "note": validation.free_text(use.note, what="备注", max_len=MAX_NOTE_LEN),
        "contact_id": use.contact_id,
        "source": use.source,
        "idempotency_key": key,
    }


def fingerprint_of(values: Mapping[str, Any]) -> str:
    return fingerprint(
        client_id=values["client_id"],
        benefit=values["benefit"],
        used_on=values["used_on"],
        note=values["note"],
    )


def parse_rows(
    rows: Sequence[Mapping[str, str | None]], lines: Sequence[int], *, today: date
) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]]]:
    """Import rows → (line, column values) of the valid ones and (line, reason) of the others."""
    parsed: list[tuple[int, dict[str, Any]]] = []
    errors: list[tuple[int, str]] = []
    for line, raw in zip(lines, rows, strict=True):
        try:
            missing = [c for c in REQUIRED_COLUMNS if not (raw.get(c) or "").strip()]
            if missing:
                raise InvalidInput(f"缺少必填列：{'、'.join(missing)}")
            values = {
                "client_id": validation.client_id(raw.get("client_id") or ""),
                "benefit": benefit_name(raw.get("benefit") or ""),
                "used_on": used_on(validation.parse_date(raw.get("used_on") or "", what="使用"), today=today),
                "note": validation.free_text(raw.get("note"), what="备注", max_len=MAX_NOTE_LEN),
                "contact_id": None,
                "source": "import",
                "idempotency_key": None,
            }
        except InvalidInput as exc:
            errors.append((line, exc.message))
            continue
        parsed.append((line, values))
    return parsed, errors


def use_model(row: Any, *, duplicate: bool = False) -> BenefitUse:
    return BenefitUse(
        id=row.id,
        client_id=row.client_id,
        benefit=row.benefit,
        used_on=row.used_on,
        note=row.note or "",
        contact_id=row.contact_id,
        recorded_by=row.recorded_by,
        source=row.source,
        created_at=row.created_at,
        idempotency_key=row.idempotency_key,
        duplicate=duplicate,
    )


def created_now(values: Mapping[str, Any], *, id_: int, recorded_by: str, now: datetime) -> BenefitUse:
    return BenefitUse(id=id_, recorded_by=recorded_by, created_at=now, **{
        k: values[k] for k in ("client_id", "benefit", "used_on", "note", "contact_id", "source",
                               "idempotency_key")
    })  # fmt: skip


__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "benefit_name",
    "created_now",
    "fingerprint",
    "fingerprint_of",
    "new_use",
    "parse_rows",
    "use_model",
]
