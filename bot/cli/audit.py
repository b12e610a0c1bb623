"""`rm-assistant audit verify|show`: check the tamper-evident audit trail, replay one answer's sources."""

from __future__ import annotations

import json
import logging

import click

from bot.settings import get_settings

logger = logging.getLogger(__name__)


def register(cli: click.Group) -> None:
    """Add the `audit` group to the root group."""
    cli.add_command(audit)


@click.group()
def audit() -> None:
    """Audit trail (hash chain of answers, client-data reads and contact records)."""


@audit.command("verify")
def verify() -> None:
    """Walk the whole chain and report the first broken link (exit 1 when broken)."""
    from bot.composition import open_audit

    trail = open_audit(get_settings())
    try:
        report = trail.verify()
    finally:
        trail.close()
    if not report.ok:
        raise click.ClickException(
            f"audit chain broken at row {report.broken_at} ({report.reason}); {report.rows} rows read"
        )
    click.echo(f"audit chain intact: {report.rows} rows")


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
    for event in events:
        click.echo(
            json.dumps(
                {"row": event.id, "at": event.at.isoformat(), "actor": event.actor, **event.payload},
                ensure_ascii=False,
                indent=2,
            )
        )
