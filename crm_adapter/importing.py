"""The client import of `SqlCRM` (admin only, checked by the caller), on an open ORM session.

Rows are validated first (`validation.client_row`); valid rows are created, or updated by client id,
each in a savepoint so a failing row leaves no trace while the others stay.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_adapter import validation
from crm_adapter.errors import InvalidInput
from crm_adapter.mapping import fen
from crm_adapter.models import Role
from crm_adapter.orm import ClientRow, ClientTermRow, StaffRow
from crm_adapter.pinyin import name_terms, pinyin_keys, prefix_upper_bound
from crm_adapter.schedule import birthday_mmdd

logger = logging.getLogger(__name__)


def import_rows(
    session: Session,
    *,
    rows: Sequence[Mapping[str, str | None]],
    lines: Sequence[int],
    today: date,
    now: datetime,
) -> tuple[int, int, list[tuple[int, str]]]:
    """(created, updated, errors as (line number, reason) sorted by line)."""
    active_rms = select(StaffRow.code).where(StaffRow.role == Role.RM.value, StaffRow.active.is_(True))
    rm_codes = set(session.scalars(active_rms))
    errors: list[tuple[int, str]] = []
    parsed: list[tuple[int, validation.ClientFields]] = []
    seen: dict[str, int] = {}
    for line, raw in zip(lines, rows, strict=True):
        try:
            fields = validation.client_row(raw, today=today)
            if fields.rm_code not in rm_codes:
                raise InvalidInput(f"客户经理 {fields.rm_code} 不存在或不是客户经理")
            if fields.client_id is not None:
                if fields.client_id in seen:
                    raise InvalidInput(f"客户编号 {fields.client_id} 与第 {seen[fields.client_id]} 行重复")
                seen[fields.client_id] = line
        except InvalidInput as exc:
            errors.append((line, exc.message))
            continue
        parsed.append((line, fields))
    created = updated = 0
    next_number = _next_client_number(session)
    for line, fields in parsed:
        cid = fields.client_id
        if cid is None:
            cid, next_number = f"C{next_number:04d}", next_number + 1
        try:
            with session.begin_nested():  # a failing row leaves no trace, the others stay
                is_new = _upsert_client(session, client_id=cid, fields=fields, now=now)
        except IntegrityError as exc:
            logger.warning("import line %s failed: %s", line, exc.orig)
            errors.append((line, "写入数据库失败（数据冲突）"))
            continue
        created += is_new
        updated += not is_new
    errors.sort()
    return created, updated, errors


def _next_client_number(session: Session) -> int:
    # A range instead of LIKE 'C%': no metacharacter escaping, a plain B-tree range scan on both DBs.
    column = ClientRow.client_id
    ids = session.scalars(select(column).where(column >= "C", column < prefix_upper_bound("C")))
    numbers = [int(cid[1:]) for cid in ids if cid[1:].isdigit()]
    return max(numbers, default=0) + 1


def _upsert_client(
    session: Session, *, client_id: str, fields: validation.ClientFields, now: datetime
) -> bool:
    row = session.get(ClientRow, client_id)
    is_new = row is None
    if row is None:
        row = ClientRow(
            client_id=client_id,
            created_at=now,
            preferences="",
            family="",
            notes="",
            aml_risk="低",
            pep=False,
        )
        session.add(row)
    keys = pinyin_keys(fields.name)
    name_changed = is_new or row.name != fields.name
    row.name = fields.name
    row.name_pinyin, row.name_initials = keys.full, keys.initials
    row.birthday, row.birth_mmdd = fields.birthday, birthday_mmdd(fields.birthday)
    row.phone = fields.phone
    row.phone_tail = fields.phone[-4:] if fields.phone else None
    row.aum_fen = fen(fields.aum)
    row.tier = fields.tier.value
    row.risk_level = fields.risk_level
    row.rm_code = fields.rm_code
    for key, value in fields.optional.items():
        setattr(row, key, value)
    row.updated_at = now
    session.flush()
    if name_changed:
        # The substring index of the name (see `pinyin.name_terms`), rebuilt when the name changes.
        session.execute(delete(ClientTermRow).where(ClientTermRow.client_id == client_id))
        terms = [{"term": term, "client_id": client_id} for term in sorted(name_terms(fields.name))]
        if terms:
            session.execute(insert(ClientTermRow), terms)
    return is_new


__all__ = ["import_rows"]
