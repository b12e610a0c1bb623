"""`rm-assistant audit verify|anchor|show`: check the audit trail and the records it covers, print its
anchor, replay one answer's sources."""

from __future__ import annotations

import json
import logging
from zoneinfo import ZoneInfo

import click

from bot.core import as_utc
from bot.settings import get_settings

logger = logging.getLogger(__name__)

#: Findings printed one per line; the rest are counted.
MAX_LINES = 200


def register(cli: click.Group) -> None:
    """Add the `audit` group to the root group."""
    cli.add_command(audit)


@click.group()
def audit() -> None:
    """Audit trail (hash chain of answers, client-data reads and contact records)."""


@audit.command("verify")
@click.option(
    "--anchor",
    "anchor_text",
    default=None,
    metavar="HASH:N",
    help="An anchor printed by `audit anchor` earlier: the chain must still reach it unchanged.",
)
def verify(anchor_text: str | None) -> None:
    """Walk the chain and compare every audited record with its live row (exit 1 on any finding)."""
    from bot.audit.trail import Anchor
    from bot.composition import audited_records, open_audit

    try:
        anchor = Anchor.parse(anchor_text) if anchor_text is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--anchor") from None
    trail = open_audit(get_settings())
    try:
        report = trail.verify(records=audited_records(trail.engine), anchor=anchor)
    finally:
        trail.close()
    if not report.ok:
        for line in report.problems[:MAX_LINES]:
            click.echo(line, err=True)
        if len(report.problems) > MAX_LINES:
            click.echo(f"…另有 {len(report.problems) - MAX_LINES} 处", err=True)
        where = f"chain broken at row {report.broken_at} ({report.reason})" if report.broken_at else "records"
        raise click.ClickException(
            f"audit verify failed: {len(report.problems)} finding(s), {where}; {report.rows} rows read"
        )
    against = f", anchor {anchor.rows} holds" if anchor is not None else ""
    click.echo(f"audit chain intact: {report.rows} rows, {report.records} records match{against}")


@audit.command("anchor")
def anchor() -> None:
    """Print the chain's head as HASH:N (keep it outside the database; `verify --anchor` checks it)."""
    from bot.composition import open_audit

    trail = open_audit(get_settings())
    try:
        click.echo(str(trail.anchor()))
    finally:
        trail.close()


@audit.command("show")
@click.argument("exchange_id", type=int)
def show(exchange_id: int) -> None:
    """Print exactly what the answer of one exchange used (question, sources, composer, snapshot)."""
    from bot.composition import open_audit

    trail = open_audit(get_settings())
    try:
        events = trail.find(kind="answer", ref=str(exchange_id))
    finally:
        trail.close()
    if not events:
        raise click.ClickException(f"no audited answer for exchange {exchange_id}")
    zone = ZoneInfo(get_settings().rm_timezone)
    for event in events:
        at = as_utc(event.at).astimezone(zone)  # the bank's time, with its offset: "…T08:30:00+08:00"
        click.echo(
            json.dumps(
                {"row": event.id, "at": at.isoformat(), "actor": event.actor, **event.payload},
                ensure_ascii=False,
                indent=2,
            )
        )
