"""Client and product import from CSV.

Products (`import_products_csv`): columns ``code,name,type,risk_level`` required, ``issuer,status``
optional (see `crm_adapter.products`); upserted by code. Clients:

Format: UTF-8 (with or without BOM), a header row, comma separated.
Required columns: ``name,birthday,phone,aum,risk_level,rm_code`` (the birthday/phone cells may be empty =
unknown). Optional: ``client_id,gender,tier,preferences,notes`` and also ``family,kyc_review_due,
aml_risk,pep``. Unknown columns are ignored (logged).

* A row with an error is reported as (line number, reason) and skipped; the other rows are imported.
* ``client_id`` given and known → the client is updated (re-import never duplicates); an optional column
  absent from the file leaves that field unchanged. Without ``client_id`` a new id ``C0001``... is issued.
* ``tier`` is always derived from ``aum`` (`models.tier_for_aum`). A ``tier`` cell is accepted only if
  it agrees; a contradicting tier is an error for that row (it signals stale or wrong source data).
* ``aum`` is in yuan: "12000000", "12,000,000", "1200万" or "0.12亿"; ``risk_level`` "C1".."C5" or its
  Chinese name; dates YYYY-MM-DD (also YYYY/MM/DD, YYYYMMDD). ``risk_assessed_on`` (optional) is the
  date of the client's latest risk-tolerance assessment (empty = none on record).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

from crm_adapter.errors import InvalidInput
from crm_adapter.models import ClientImportReport, ProductImportReport
from crm_adapter.port import CRMAdapter
from crm_adapter.products import PRODUCT_OPTIONAL_COLUMNS, PRODUCT_REQUIRED_COLUMNS
from crm_adapter.validation import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

logger = logging.getLogger(__name__)

MAX_ROWS = 200_000
#: A longer cell is that row's error, not the whole file's: the csv module's own limit (128 KiB) aborts
#: the reader, so it is raised to this and the cell is checked per row.
MAX_CELL_CHARS = 10_000
_READER_FIELD_LIMIT = 64 * 1024 * 1024


Rows = tuple[list[dict[str, str | None]], list[int], list[tuple[int, str]]]


def read_clients_csv(path: Path) -> Rows:
    """(rows, line numbers, structural errors) — rows keyed by lower-cased header names."""
    return read_csv(path, required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS)


def read_products_csv(path: Path) -> Rows:
    return read_csv(path, required=PRODUCT_REQUIRED_COLUMNS, optional=PRODUCT_OPTIONAL_COLUMNS)


def read_csv(path: Path, *, required: Sequence[str], optional: Sequence[str]) -> Rows:
    """(rows, line numbers, structural errors) of a CSV with these columns (unknown ones are ignored)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInput(f"无法打开文件 {path}：{exc.strerror or exc}") from None
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    errors: list[tuple[int, str]] = []
    try:
        with handle:
            if csv.field_size_limit() < _READER_FIELD_LIMIT:
                csv.field_size_limit(_READER_FIELD_LIMIT)
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InvalidInput("CSV 文件为空（缺少表头）")
            columns = [column.strip().lower() for column in header]
            missing = [column for column in required if column not in columns]
            if missing:
                raise InvalidInput(f"CSV 缺少必需列：{', '.join(missing)}")
            known = set(required) | set(optional)
            ignored = [column for column in columns if column not in known]
            if ignored:
                logger.warning("ignoring unknown CSV columns: %s", ", ".join(ignored))
            previous_end = reader.line_num
            for record in reader:
                line, previous_end = previous_end + 1, reader.line_num
                if not any(cell.strip() for cell in record):
                    continue
                if len(rows) >= MAX_ROWS:
                    raise InvalidInput(f"CSV 行数过多（最多 {MAX_ROWS} 行）")
                if len(record) != len(columns):
                    errors.append((line, f"列数（{len(record)}）与表头（{len(columns)}）不一致"))
                    continue
                if any(len(cell) > MAX_CELL_CHARS for cell in record):
                    errors.append((line, f"有单元格超过 {MAX_CELL_CHARS} 字，已跳过该行"))
                    continue
                rows.append({c: v for c, v in zip(columns, record, strict=True) if c in known})
                lines.append(line)
    except UnicodeDecodeError:
        raise InvalidInput("CSV 文件不是 UTF-8 编码，请另存为 UTF-8 后重试") from None
    except csv.Error as exc:
        raise InvalidInput(f"CSV 格式错误：{exc}") from None
    return rows, lines, errors


def import_clients_csv(crm: CRMAdapter, *, actor: str, path: Path) -> ClientImportReport:
    """Read `path` and import it as `actor` (must be an admin)."""
    rows, lines, structural = read_clients_csv(path)
    report = crm.import_clients(actor=actor, rows=rows, line_numbers=lines)
    if not structural:
        return report
    return ClientImportReport(
        created=report.created, updated=report.updated, errors=tuple(sorted(structural + list(report.errors)))
    )


def import_products_csv(crm: CRMAdapter, *, actor: str, path: Path) -> ProductImportReport:
    """Read `path` and import the products as `actor` (must be an admin)."""
    rows, lines, structural = read_products_csv(path)
    report = crm.import_products(actor=actor, rows=rows, line_numbers=lines)
    if not structural:
        return report
    return ProductImportReport(
        created=report.created, updated=report.updated, errors=tuple(sorted(structural + list(report.errors)))
    )


__all__ = [
    "MAX_ROWS",
    "import_clients_csv",
    "import_products_csv",
    "read_clients_csv",
    "read_csv",
    "read_products_csv",
]
