"""`rm-assistant ask` (answer from the knowledge base) and `rm-assistant review export`."""

from __future__ import annotations

import csv
import json
import logging
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from bot.core import ServiceError
from bot.settings import get_settings

if TYPE_CHECKING:
    from bot.convlog import ConversationLog, Exchange

logger = logging.getLogger(__name__)

CLI_STAFF = "cli"
EXPORT_FIELDS = (
    "id", "created_at", "staff_code", "channel", "chat_id", "update_id", "question", "answer",
    "grounded", "composer", "flags", "feedback", "feedback_at", "flagged", "citations",
)  # fmt: skip


def register(cli: click.Group) -> None:
    """Add `ask` and `review` to the root group."""
    cli.add_command(ask)
    cli.add_command(review)


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


@click.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print {answer, citations, grounded} as JSON.")
@click.option(
    "--questions",
    "questions_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Answer one question per line; with --json prints one JSON object per line.",
)
@click.option("--as", "staff_code", default=CLI_STAFF, show_default=True, help="Who is asking (for the log).")
def ask(question: str | None, as_json: bool, questions_file: Path | None, staff_code: str) -> None:
    """Answer a question from the knowledge base, with numbered sources."""
    if questions_file is None and not (question and question.strip()):
        raise click.ClickException(
            'give a question, e.g. rm-assistant ask "钻石客户每年可以预约几次专家号？"'
        )
    questions = _read_lines(questions_file) if questions_file else [question.strip()] if question else []
    from bot.composition import open_services
    from bot.features.ask import render_answer
    from bot.rendering import to_plain

    with open_services(get_settings(), with_crm=False) as services:
        for q in questions:
            try:
                result = services.ask.ask(staff_code=staff_code, question=q, channel="cli")
            except ServiceError as exc:
                raise click.ClickException(exc.message) from None
            if as_json:
                click.echo(json.dumps(result.answer.to_dict(), ensure_ascii=False))
                continue
            if len(questions) > 1:
                click.echo(f"\n问：{q}")
            click.echo(to_plain(render_answer(result).text))


@click.group()
def review() -> None:
    """Review the conversation log (supervisors)."""


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected a date like 2026-11-01, got {value!r}") from exc
    return datetime.combine(day, time.min, tzinfo=UTC)


def _row(exchange: Exchange) -> dict[str, object]:
    data = exchange.to_dict()
    data["flags"] = "|".join(exchange.flags)
    data["citations"] = json.dumps(list(exchange.citations), ensure_ascii=False)
    return {k: data[k] for k in EXPORT_FIELDS}


def _write_export(log: ConversationLog, since: datetime | None, fmt: str, out: IO[str]) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for exchange in log.iter_exchanges(since=since):
            writer.writerow(_row(exchange))
            count += 1
    else:
        for exchange in log.iter_exchanges(since=since):
            out.write(json.dumps(exchange.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


@review.command("export")
@click.option("--since", help="Only exchanges on or after this date (YYYY-MM-DD, UTC).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File (default stdout)."
)
def export(since: str | None, fmt: str, output: Path | None) -> None:
    """Export every logged exchange (numbers already masked) as CSV or JSON lines."""
    from bot.composition import open_services

    since_dt = _parse_since(since)
    with open_services(get_settings(), with_crm=False, with_kb=False) as services:
        log = services.log
        if output is None:
            count = _write_export(log, since_dt, fmt, sys.stdout)
        else:
            try:
                # utf-8-sig so Excel opens the Chinese CSV correctly.
                with output.open("w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as fh:
                    count = _write_export(log, since_dt, fmt, fh)
            except OSError as exc:
                raise click.ClickException(f"cannot write {output}: {exc}") from exc
    click.echo(f"exported {count} exchange(s)", err=True)
