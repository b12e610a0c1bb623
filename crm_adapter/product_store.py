"""The product catalogue on SQL (an open ORM session; the caller owns the transaction and the checks).

Import rows are validated first (`products.product_row`), then upserted by code, each in a savepoint
so a failing row leaves no trace while the others stay. Search prefilters in SQL (substring / prefix
on code, name, pinyin, initials) and ranks with `products.rank`, the order every adapter shares; the
catalogue is a few thousand rows at most, so LIKE scans are cheap here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_adapter import products
from crm_adapter.mapping import product_model
from crm_adapter.models import Product
from crm_adapter.orm import ProductRow
from crm_adapter.pinyin import escape_like, normalize_text, pinyin_keys

logger = logging.getLogger(__name__)

#: Rows fetched by the prefilter before ranking (far more than any catalogue query matches).
_PREFILTER_LIMIT = 2000


def import_rows(
    session: Session, *, rows: Sequence[Mapping[str, str | None]], lines: Sequence[int], now: datetime
) -> tuple[int, int, list[tuple[int, str]]]:
    """(created, updated, errors as (line number, reason) sorted by line)."""
    parsed, errors = products.parse_rows(rows, lines)
    created = updated = 0
    for line, fields in parsed:
        try:
            with session.begin_nested():  # a failing row leaves no trace, the others stay
                is_new = _upsert(session, fields=fields, now=now)
        except IntegrityError as exc:
            logger.warning("product import line %s failed: %s", line, exc.orig)
            errors.append((line, "写入数据库失败（数据冲突）"))
            continue
        created += is_new
        updated += not is_new
    errors.sort()
    return created, updated, errors


def _upsert(session: Session, *, fields: products.ProductFields, now: datetime) -> bool:
    row = session.get(ProductRow, fields.code)
    is_new = row is None
    if row is None:
        row = ProductRow(code=fields.code, created_at=now, issuer="", status="在售")
        session.add(row)
    keys = pinyin_keys(fields.name)
    row.name, row.name_pinyin, row.name_initials = fields.name, keys.full, keys.initials
    row.type, row.risk_level = fields.type, fields.risk_level
    for key, value in fields.optional.items():
        setattr(row, key, value)
    row.updated_at = now
    session.flush()
    return is_new


def search(session: Session, *, query: str, limit: int) -> list[Product]:
    text = normalize_text(query)
    lowered = text.lower()
    conditions: list[ColumnElement[bool]] = [
        func.lower(ProductRow.name).like(f"%{escape_like(lowered)}%", escape="\\"),
        ProductRow.code.like(f"{escape_like(text.upper())}%", escape="\\"),
    ]
    pinyin = products.latin_query(text)
    if pinyin is not None:
        conditions.append(ProductRow.name_pinyin.like(f"%{pinyin}%"))
        conditions.append(ProductRow.name_initials.like(f"{pinyin}%"))
    stmt = select(ProductRow).where(or_(*conditions)).order_by(ProductRow.code).limit(_PREFILTER_LIMIT)
    return products.rank((product_model(r) for r in session.scalars(stmt)), text, limit=limit)


def list_all(session: Session, *, status: str | None) -> list[Product]:
    stmt = select(ProductRow).order_by(ProductRow.risk_level, ProductRow.code)
    if status is not None:
        stmt = stmt.where(ProductRow.status == products.product_status(status))
    return [product_model(r) for r in session.scalars(stmt)]


__all__ = ["import_rows", "list_all", "search"]
