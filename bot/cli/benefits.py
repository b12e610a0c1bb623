"""`rm-assistant crm use-benefit | benefits | brief | import-benefit-uses`: the benefit ledger and the
meeting brief from the command line, through the same services as chat (scopes, the audit trail, the
entitlement table of the knowledge base)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.core import ServiceError, crm_call
from bot.settings import get_settings
from crm_adapter.errors import CRMError

if TYPE_CHECKING:
    from bot.composition import Services
    from crm_adapter import Staff

logger = logging.getLogger(__name__)


@contextmanager
def _services() -> Iterator[Services]:
    """CRM, knowledge base (the entitlement table) and audit trail; user errors become one line."""
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    from bot.composition import open_services

    try:
        services = open_services(get_settings())
    except CRMError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield services
    except (CRMError, ServiceError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        services.close()


def _staff(services: Services, code: str) -> Staff:
    try:
        return crm_call(lambda: services.crm.get_staff(code=code))
    except ServiceError:
        raise click.ClickException(f"未知员工编号：{code}（未登记或已停用）") from None


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command("use-benefit")
@click.argument("client_id")
@click.argument("benefit")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Day of use (default: today).",
)
@click.option("--note", default="", help="Optional note (part of what makes a use unique on a day).")
@click.option(
    "--confirm",
    is_flag=True,
    help="Record a use beyond the yearly allowance (otherwise refused with a warning).",
)
@click.option("--as", "actor", required=True, help="Acting staff code (the client's RM, or an admin).")
@click.option("--json", "as_json", is_flag=True, help="Print the stored use and the balance as JSON.")
def use_benefit(
    client_id: str, benefit: str, day: Any, note: str, confirm: bool, actor: str, as_json: bool
) -> None:
    """Record one use of a counted entitlement (recorded once: the same use again is not counted)."""
    from bot.features.benefits.brief import balance_json
    from bot.features.benefits.chat import render_over_allowance, render_result
    from bot.rendering import to_plain

    with _services() as services:
        staff = _staff(services, actor)
        svc = services.benefits
        client = svc.clients.get(staff, client_id)
        used_on: date | None = day.date() if day is not None else None
        prepared = svc.prepare(staff, client, benefit, day=used_on, note=note, source="cli")
        this_year = svc.clock.today().year
        if prepared.needs_confirmation and not confirm:
            click.echo(to_plain(render_over_allowance(prepared, this_year)), err=True)
            raise click.ClickException("未登记：超出权益次数（确认登记请加 --confirm）")
        result = svc.record(staff, prepared)
    if as_json:
        _echo(
            {
                **result.use.model_dump(mode="json"),
                "resent": result.resent,
                "balance": balance_json(result.balance),
            }
        )
    else:
        click.echo(to_plain(render_result(result)))


@click.command("benefits")
@click.argument("client_id")
@click.option(
    "--year", type=click.IntRange(2000, 2100), default=None, help="Calendar year (default: this year)."
)
@click.option("--as", "actor", required=True, help="Acting staff code (scopes apply).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def benefits_cmd(client_id: str, year: int | None, actor: str, as_json: bool) -> None:
    """Allowance (entitlement table), used and left (ledger) per counted benefit, for the year."""
    from bot.features.benefits.brief import balance_json
    from bot.features.benefits.chat import render_sheet
    from bot.rendering import to_plain

    with _services() as services:
        staff = _staff(services, actor)
        client = services.clients.get(staff, client_id)
        sheet = services.benefits.sheet(staff, client, year=year, audit_what="benefits")
    if as_json:
        _echo(
            {
                "client_id": client.client_id,
                "tier": str(client.tier),
                "year": sheet.year,
                "benefits": [balance_json(b) for b in sheet.balances],
                "other_uses": [t.model_dump(mode="json") for t in sheet.other_uses],
            }
        )
    else:
        click.echo(to_plain(render_sheet(sheet)))


@click.command("brief")
@click.argument("client_id")
@click.option("--as", "actor", required=True, help="Acting staff code (scopes apply).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def brief_cmd(client_id: str, actor: str, as_json: bool) -> None:
    """The meeting brief of one client (audited; not shown when the audit trail cannot record it)."""
    from bot.features.benefits.brief import brief_json, render_brief
    from bot.rendering import to_plain

    with _services() as services:
        staff = _staff(services, actor)
        view = services.brief.view(staff, client_id)
    click.echo(
        json.dumps(brief_json(view), ensure_ascii=False, indent=2)
        if as_json
        else to_plain(render_brief(view))
    )


@click.command("import-benefit-uses")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--as", "actor", default=None, help="Admin staff code (default: the operator CLI).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_benefit_uses(file: Path, actor: str | None, as_json: bool) -> None:
    """Import past uses from a UTF-8 CSV: client_id,benefit,used_on[,note] (bad rows by line number)."""
    from bot.cli.crm import _ensure_operator
    from crm_adapter.benefits import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
    from crm_adapter.csv_import import read_csv

    with _services() as services:
        staff = _staff(services, actor or _ensure_operator(services.crm))
        rows, lines, structural = read_csv(file, required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS)
        report = services.benefits.import_uses(staff, rows, lines)
    errors = sorted([*structural, *report.errors])
    if as_json:
        _echo(
            {
                "created": report.created,
                "duplicates": report.duplicates,
                "errors": [{"line": line, "reason": reason} for line, reason in errors],
            }
        )
    else:
        click.echo(f"导入完成：新增 {report.created}，已存在 {report.duplicates}，错误 {len(errors)}")
        for line, reason in errors:
            click.echo(f"  第 {line} 行：{reason}", err=True)
    if errors and not report.created and not report.duplicates:
        raise SystemExit(1)


def register(crm: click.Group) -> None:
    """Add the benefit-ledger commands to the `crm` group."""
    for command in (use_benefit, benefits_cmd, brief_cmd, import_benefit_uses):
        crm.add_command(command)


__all__ = ["register"]
