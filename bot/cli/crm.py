"""`rm-assistant staff ...` and `rm-assistant crm ...`: staff management, demo data, import and lookups.

The CLI is an operator tool: whoever runs it has the database. Client-data commands still take
``--as STAFF_CODE`` so scopes and the access log apply exactly as in chat. `crm import-clients` without
``--as`` runs as the reserved operator identity ``CLI`` (an admin without Telegram id, created on first
use, so it can never be reached from chat); the access log and logs name it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from bot import roles
from bot.cli.crm_output import (
    client_json,
    client_rows,
    contact_json,
    echo_json,
    emit_import_report,
    emit_list,
    render_table,
    staff_json,
    summary_line,
)
from bot.settings import get_settings
from crm_adapter.errors import CRMError, NotFound
from crm_adapter.models import Role, Staff

if TYPE_CHECKING:
    from crm_adapter import CRMAdapter

logger = logging.getLogger(__name__)

#: Reserved staff code of the command-line operator (see module docstring).
OPERATOR_CODE = "CLI"
OPERATOR_NAME = "命令行操作员"


def _audit_read(actor: str, kind: str, ref: str, **payload: object) -> None:
    """Append a client-data read to the audit trail before it is printed (fails closed)."""
    from bot.composition import open_audit
    from crm_adapter.masking import mask_personal_numbers

    if isinstance(payload.get("query"), str):
        payload["query"] = mask_personal_numbers(str(payload["query"]))
    try:
        trail = open_audit(get_settings())
        try:
            trail.append(kind=kind, actor=actor.strip().upper(), ref=ref, payload={"via": "cli", **payload})
        finally:
            trail.close()
    except Exception as exc:  # nothing is shown that the audit trail did not record
        logger.debug("audit append failed", exc_info=True)
        raise click.ClickException(f"无法写入审计记录，未显示客户数据：{type(exc).__name__}") from None


@contextmanager
def _crm() -> Iterator[CRMAdapter]:
    """Open the CRM; turn every adapter error into a one-line click error (exit 1, no traceback)."""
    # Alembic reports "Context impl SQLiteImpl" on every start; only its warnings matter here.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    from bot.composition import open_services

    try:
        services = open_services(get_settings(), with_kb=False, with_log=False)
    except CRMError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield services.crm
    except CRMError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        services.close()


def _zone() -> tzinfo:
    try:
        return ZoneInfo(get_settings().rm_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _ensure_operator(crm: CRMAdapter) -> str:
    try:
        staff = crm.get_staff(code=OPERATOR_CODE)
    except NotFound:
        staff = crm.add_staff(staff=Staff(code=OPERATOR_CODE, name=OPERATOR_NAME, role=roles.OPERATOR))
        logger.info("created the CLI operator identity %s (admin, no Telegram id)", OPERATOR_CODE)
    if staff.role is not roles.OPERATOR:
        raise click.ClickException(f"员工编号 {OPERATOR_CODE} 已被占用且不是管理员，请用 --as 指定管理员")
    return staff.code


# ---------------------------------------------------------------------- staff
@click.group("staff")
def staff_group() -> None:
    """Register, list and remove staff (RMs, supervisors, trainers, admins)."""


@staff_group.command("add")
@click.option("--code", required=True, help="Staff code, e.g. RM001.")
@click.option("--name", required=True, help="Display name, e.g. 王敏.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="Access role.")
@click.option("--team", default=None, help="Team (required for supervisors).")
@click.option("--telegram-id", type=int, default=None, help="Telegram user id that maps to this staff.")
def staff_add(code: str, name: str, role: str, team: str | None, telegram_id: int | None) -> None:
    """Add a staff member, or update the one with this code."""
    with _crm() as crm:
        staff = crm.add_staff(
            staff=Staff(code=code, name=name, role=Role(role), team=team, telegram_id=telegram_id)
        )
    team_text = f"，团队 {staff.team}" if staff.team else ""
    click.echo(f"已保存员工 {staff.code} {staff.name}（{staff.role.value}{team_text}）")


@staff_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list to stdout.")
def staff_list(as_json: bool) -> None:
    """List active staff."""
    with _crm() as crm:
        staff = crm.list_staff()
    if as_json:
        echo_json([staff_json(s) for s in staff])
        return
    if not staff:
        click.echo("（尚无员工）")
        return
    rows = [(s.code, s.name, s.role.value, s.team or "", s.telegram_id or "") for s in staff]
    click.echo(render_table(("编号", "姓名", "角色", "团队", "Telegram ID"), rows))


@staff_group.command("remove")
@click.argument("code")
def staff_remove(code: str) -> None:
    """Deactivate a staff member (refused while they still own clients)."""
    with _crm() as crm:
        crm.remove_staff(code=code)
    click.echo(f"已停用员工 {code.strip().upper()}")


# ---------------------------------------------------------------------- crm
@click.group("crm")
def crm_group() -> None:
    """Clients and contact records: demo data, CSV import, search, contacts."""


@crm_group.command("seed-demo")
@click.option("--clients", default=60, show_default=True, type=click.IntRange(1, 9999))
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed (same seed, same data).")
def crm_seed_demo(clients: int, seed: int) -> None:
    """Create demo staff, clients and contact history (idempotent)."""
    from bot.composition import open_audit, seeded_contact_hook

    with _crm() as crm:
        # "Today" in the bank's time zone, so demo birthdays/follow-ups line up with the reminders.
        from crm_adapter.demo import seed_demo

        trail = open_audit(get_settings())  # each new contact record is audited in its transaction
        try:
            report = seed_demo(
                crm,
                clients=clients,
                seed=seed,
                today=datetime.now(_zone()).date(),
                on_contact=seeded_contact_hook(trail, crm),
            )
        finally:
            trail.close()
    click.echo(
        f"演示数据已就绪：员工 {report.staff} 名，客户 {clients} 位（新增 {report.clients_created}，"
        f"更新 {report.clients_updated}），联系记录 {report.contacts} 条，产品 {report.products} 个"
    )


@crm_group.command("import-clients")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--as", "actor", default=None, help=f"Admin staff code (default: the operator {OPERATOR_CODE})."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def crm_import_clients(file: Path, actor: str | None, as_json: bool) -> None:
    """Import clients from a UTF-8 CSV (bad rows are reported by line and skipped)."""
    with _crm() as crm:
        acting = actor or _ensure_operator(crm)
        from crm_adapter.csv_import import import_clients_csv

        report = import_clients_csv(crm, actor=acting, path=file)
    emit_import_report(report, as_json=as_json)


@crm_group.command("import-products")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--as", "actor", default=None, help=f"Admin staff code (default: the operator {OPERATOR_CODE})."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def crm_import_products(file: Path, actor: str | None, as_json: bool) -> None:
    """Import the product catalogue from a UTF-8 CSV: code,name,type,risk_level[,issuer,status].

    Upserts by code (re-importing never duplicates); bad rows are reported by line and skipped."""
    with _crm() as crm:
        acting = actor or _ensure_operator(crm)
        from crm_adapter.csv_import import import_products_csv

        report = import_products_csv(crm, actor=acting, path=file)
    emit_import_report(report, as_json=as_json)


@crm_group.command("products")
@click.argument("query", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list to stdout.")
def crm_products(query: str | None, limit: int, as_json: bool) -> None:
    """Find products by code, name or pinyin (without QUERY: the whole catalogue)."""
    with _crm() as crm:
        found = crm.search_products(query=query, limit=limit) if query else crm.list_products()
    emit_list(
        as_json=as_json,
        records=[p.model_dump(mode="json") for p in found],
        empty="未找到匹配的产品",
        headers=("产品代码", "名称", "类型", "风险", "发行机构", "状态"),
        rows=[(p.code, p.name, p.type, f"{p.risk_level} {p.risk_name}", p.issuer, p.status) for p in found],
    )


@crm_group.command("search")
@click.argument("query")
@click.option("--as", "actor", required=True, help="Acting staff code (scopes apply).")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list to stdout.")
def crm_search(query: str, actor: str, limit: int, as_json: bool) -> None:
    """Find clients by name, pinyin, initials, client id or phone tail."""
    with _crm() as crm:
        clients = crm.search_clients(actor=actor, query=query, limit=limit)
    if clients:
        _audit_read(
            actor, "client_search", clients[0].client_id, query=query, results=[c.client_id for c in clients]
        )
    emit_list(
        as_json=as_json,
        records=[client_json(c) for c in clients],
        empty="未找到匹配的客户",
        headers=("客户编号", "姓名", "拼音", "等级", "风险", "手机", "客户经理"),
        rows=client_rows(clients),
    )


@crm_group.command("contacts")
@click.argument("client_id")
@click.option("--as", "actor", required=True, help="Acting staff code (scopes apply).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list to stdout.")
def crm_contacts(client_id: str, actor: str, limit: int, as_json: bool) -> None:
    """Contact records of one client, newest first."""
    with _crm() as crm:
        contacts = crm.list_contacts(actor=actor, client_id=client_id, limit=limit)
    _audit_read(actor, "client_read", client_id, what="contacts", records=len(contacts))
    rows = [
        (
            c.occurred_at.astimezone(_zone()).strftime("%Y-%m-%d %H:%M"),
            c.channel.value,
            c.rm_code,
            summary_line(c.summary),
            c.next_follow_up.isoformat() if c.next_follow_up else "",
        )
        for c in contacts
    ]
    emit_list(
        as_json=as_json,
        records=[contact_json(c) for c in contacts],
        empty="暂无联系记录",
        headers=("时间", "渠道", "客户经理", "摘要", "下次回访"),
        rows=rows,
    )


@crm_group.command("card")
@click.argument("client_id")
@click.option("--as", "actor", required=True, help="Acting staff code (scopes apply).")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
def crm_card(client_id: str, actor: str, as_json: bool) -> None:
    """A client card: profile, last contact, next follow-up, next birthday."""
    with _crm() as crm:
        card = crm.client_card(actor=actor, client_id=client_id)
    _audit_read(actor, "client_read", client_id, what="card")
    if as_json:
        data = card.model_dump(mode="json")
        data["client"] = client_json(card.client)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    c = card.client
    last = card.last_contact
    last_text = (
        f"上次联系：{last.occurred_at.astimezone(_zone()).date()}（{card.days_since_contact} 天前）"
        if last
        else "上次联系：无"
    )
    lines = [
        f"{c.name}（{c.client_id}）{c.tier.value}客户  {c.aum_band}  风险 {c.risk_level} {c.risk_name}",
        f"手机 {c.phone_masked or '—'}  客户经理 {c.rm_code}",
        last_text,
        f"下次回访：{card.next_follow_up}{'（已逾期）' if card.follow_up_overdue else ''}",
    ]
    if card.upcoming_birthday:
        lines.append(f"下次生日：{card.upcoming_birthday}（{card.days_to_birthday} 天后）")
    assessed = c.risk_assessed_on.isoformat() if c.risk_assessed_on else "无记录"
    lines.append(
        f"风险测评：{assessed}  反洗钱风险 {c.aml_risk}{'  政治公众人物（PEP）' if c.pep else ''}"
        f"  KYC 复核到期 {c.kyc_review_due or '—'}"
    )
    click.echo("\n".join(lines))


def register(cli: click.Group) -> None:
    """Add the `staff` and `crm` groups to the root group."""
    cli.add_command(staff_group)
    cli.add_command(crm_group)


__all__: list[str] = ["OPERATOR_CODE", "register", "render_table"]
