"""Pure output of the `staff` and `crm` commands: tables that line up with Chinese, JSON records
(phone numbers masked) and import reports (split from `crm.py`, which opens the CRM and runs them)."""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Sequence
from typing import Any

import click

from crm_adapter.models import Client, ClientImportReport, ContactRecord, ProductImportReport, Staff

logger = logging.getLogger(__name__)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A compact left-aligned table that lines up with Chinese (double-width) characters."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def echo_json(items: list[dict[str, Any]]) -> None:
    click.echo(json.dumps(items, ensure_ascii=False, indent=2))


def staff_json(staff: Staff) -> dict[str, Any]:
    return staff.model_dump(mode="json")


def client_json(client: Client) -> dict[str, Any]:
    # The raw phone number never leaves through the CLI; scripts get the masked form.
    data = client.model_dump(mode="json", exclude={"phone"})
    data.update(phone_masked=client.phone_masked, risk_name=client.risk_name, aum_band=client.aum_band)
    return data


def contact_json(contact: ContactRecord) -> dict[str, Any]:
    return contact.model_dump(mode="json")


def summary_line(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def emit_import_report(report: ClientImportReport | ProductImportReport, *, as_json: bool) -> None:
    """The import summary (stdout) and one line per bad row (stderr); exit 1 when nothing was written."""
    if as_json:
        click.echo(
            json.dumps(
                {
                    "created": report.created,
                    "updated": report.updated,
                    "errors": [{"line": line, "reason": reason} for line, reason in report.errors],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        click.echo(f"导入完成：新增 {report.created}，更新 {report.updated}，错误 {len(report.errors)}")
        for line, reason in report.errors:
            click.echo(f"  第 {line} 行：{reason}", err=True)
    if report.errors and not report.created and not report.updated:
        raise SystemExit(1)


def client_rows(clients: list[Client]) -> list[tuple[object, ...]]:
    return [
        (c.client_id, c.name, c.pinyin, c.tier.value, c.risk_level, c.phone_masked, c.rm_code)
        for c in clients
    ]


def emit_list(
    *,
    as_json: bool,
    records: list[dict[str, Any]],
    empty: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
) -> None:
    """Print a result list: one JSON list with --json, otherwise a table (or a line saying it is empty)."""
    if as_json:
        echo_json(records)
    elif not rows:
        click.echo(empty)
    else:
        click.echo(render_table(headers, rows))


__all__ = [
    "client_json",
    "client_rows",
    "contact_json",
    "echo_json",
    "emit_import_report",
    "emit_list",
    "render_table",
    "staff_json",
    "summary_line",
]
