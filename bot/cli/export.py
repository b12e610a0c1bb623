"""`rm-assistant review export`: the conversation log or the CRM's contact records, as CSV or JSON lines.

- CSV is safe to open in a spreadsheet: every cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return gets a leading ``'`` (OWASP, CSV injection), so it is shown as text, never run as a
  formula. JSON lines are data for programs and are written as they are.
- ``--since``/``--until`` are calendar days in the bank's time zone (RM_TIMEZONE), both inclusive;
  timestamps in the export are ISO 8601 in that zone, with their offset. The range and the zone are
  stated on stderr (never inside the file, which stays plain CSV/JSONL).
- Contact records are read through the CRM with an acting staff code (default: the operator identity
  ``CLI``, an admin), so scopes and the access log apply; personal numbers in summaries are masked.
- ``--what actions`` exports the review actions (reviewed, comment, escalate, resolve) of supervisors and
  trainers; ``--redact`` (exchanges, actions) replaces client names known to the CRM with 某客户, for an
  export handed to trainers (`bot.features.privacy`).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from bot.settings import get_settings
from crm_adapter.masking import mask_personal_numbers

if TYPE_CHECKING:
    from bot.convlog import ConversationLog, Exchange
    from crm_adapter import CRMAdapter
    from crm_adapter.models import ContactRecord

EXCHANGE_FIELDS = (
    "id", "created_at", "staff_code", "channel", "chat_id", "update_id", "question", "answer",
    "grounded", "composer", "flags", "feedback", "feedback_at", "flagged", "citations",
)  # fmt: skip
ACTION_FIELDS = (
    "id", "created_at", "ref", "item_kind", "item_id", "staff_code", "action", "comment", "actor",
)  # fmt: skip
CONTACT_FIELDS = (
    "id", "occurred_at", "client_id", "rm_code", "channel", "summary", "topics", "next_follow_up",
    "source", "created_at",
)  # fmt: skip
#: First characters that make a spreadsheet treat a cell as a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Contact records per CRM call (the port's maximum).
CONTACT_PAGE = 1000


def neutralise_cell(value: object) -> str:
    """The text of one CSV cell, prefixed with ``'`` when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def write_csv(out: IO[str], fields: Sequence[str], rows: Iterable[Mapping[str, object]]) -> int:
    """Header and rows, every cell neutralised; returns the number of rows."""
    writer = csv.writer(out)
    writer.writerow([neutralise_cell(f) for f in fields])
    count = 0
    for row in rows:
        writer.writerow([neutralise_cell(row.get(f)) for f in fields])
        count += 1
    return count


def write_jsonl(out: IO[str], rows: Iterable[Mapping[str, object]]) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


# ---------------------------------------------------------------------- the date range
@dataclass(frozen=True)
class DayRange:
    """Calendar days [since, until] (both inclusive, either open) in one time zone."""

    since: date | None
    until: date | None
    zone_name: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)

    @property
    def start(self) -> datetime | None:
        return None if self.since is None else datetime.combine(self.since, time.min, tzinfo=self.zone)

    @property
    def end(self) -> datetime | None:
        """The first instant after the range (exclusive)."""
        if self.until is None:
            return None
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=self.zone)

    def contains(self, moment: datetime) -> bool:
        start, end = self.start, self.end
        return (start is None or moment >= start) and (end is None or moment < end)

    def local(self, moment: datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(self.zone).isoformat()

    def describe(self) -> str:
        if self.since and self.until:
            days = f"from {self.since} to {self.until} inclusive"
        elif self.since:
            days = f"since {self.since}"
        elif self.until:
            days = f"until {self.until} inclusive"
        else:
            days = "of all dates"
        return f"{days} (dates and timestamps in {self.zone_name})"


def parse_day(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """Click callback: YYYY-MM-DD."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"expected a date like 2026-11-01, got {value!r}", param=param) from None


# ---------------------------------------------------------------------- rows
def exchange_rows(log: ConversationLog, days: DayRange, *, for_csv: bool) -> Iterator[dict[str, object]]:
    """Logged exchanges in the range, oldest first (the log masked their numbers when it stored them)."""
    # In UTC: on SQLite the stored timestamps are naive UTC and compared as text.
    start = days.start
    for exchange in log.iter_exchanges(since=None if start is None else start.astimezone(UTC)):
        if days.contains(exchange.created_at):
            yield _exchange_row(exchange, days, for_csv=for_csv)


def _exchange_row(exchange: Exchange, days: DayRange, *, for_csv: bool) -> dict[str, object]:
    data = exchange.to_dict()
    data["created_at"] = days.local(exchange.created_at)
    data["feedback_at"] = days.local(exchange.feedback_at)
    if for_csv:
        data["flags"] = "|".join(exchange.flags)
        data["citations"] = json.dumps(list(exchange.citations), ensure_ascii=False)
    return data


def action_rows(
    log: ConversationLog, days: DayRange, *, redact: Callable[[str], str] | None = None
) -> Iterator[dict[str, object]]:
    """Review actions in the range, oldest first (comments were masked when they were stored)."""
    from bot.features.supervision import ReviewLog

    start, end = days.start, days.end
    for action in ReviewLog(log).list_actions(
        since=None if start is None else start.astimezone(UTC),
        until=None if end is None else end.astimezone(UTC),
    ):
        data = action.to_dict()
        data["created_at"] = days.local(action.created_at)
        if redact is not None and action.comment:
            data["comment"] = redact(action.comment)
        yield data


def _redacted_exchange(row: dict[str, object], redact: Callable[[str], str]) -> dict[str, object]:
    for key in ("question", "answer"):
        if isinstance(row.get(key), str):
            row[key] = redact(str(row[key]))
    return row


def contact_records(
    crm: CRMAdapter, *, actor: str, rm_code: str | None, days: DayRange
) -> list[ContactRecord]:
    """Every contact record the actor may see in the range, oldest first.

    The port returns at most `CONTACT_PAGE` records, newest first, filtered by whole days: page
    backwards by moving `until` to the oldest day seen (records of that day come again; ids dedupe).
    """
    seen: dict[int, ContactRecord] = {}
    until = days.until
    while True:
        page = crm.list_contacts(
            actor=actor, rm_code=rm_code, since=days.since, until=until, limit=CONTACT_PAGE
        )
        for record in page:
            seen.setdefault(record.id, record)
        if len(page) < CONTACT_PAGE:
            break
        oldest = page[-1].occurred_at.astimezone(days.zone).date()
        if oldest == until:
            raise click.ClickException(
                f"more than {CONTACT_PAGE} contact records on {oldest}: export that day with --rm per RM"
            )
        until = oldest
    return sorted(seen.values(), key=lambda r: (r.occurred_at, r.id))


def contact_row(record: ContactRecord, days: DayRange, *, for_csv: bool) -> dict[str, object]:
    topics: object = "|".join(record.topics) if for_csv else list(record.topics)
    return {
        "id": record.id,
        "occurred_at": days.local(record.occurred_at),
        "client_id": record.client_id,
        "rm_code": record.rm_code,
        "channel": record.channel.value,
        "summary": mask_personal_numbers(record.summary),
        "topics": topics,
        "next_follow_up": record.next_follow_up.isoformat() if record.next_follow_up else None,
        "source": record.source,
        "created_at": days.local(record.created_at),
    }


# ---------------------------------------------------------------------- the command
@contextmanager
def _output(path: Path | None, fmt: str) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    try:
        # utf-8-sig so that Excel opens the Chinese CSV correctly.
        with path.open("w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as fh:
            yield fh
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


def resolve_format(fmt: str | None, output: Path | None) -> str:
    """--format wins; otherwise `-o x.csv` means CSV and everything else JSON lines."""
    if fmt is not None:
        return fmt
    return "csv" if output is not None and output.suffix.lower() == ".csv" else "jsonl"


@click.command("export")
@click.option(
    "--what",
    type=click.Choice(["exchanges", "contacts", "actions"]),
    default="exchanges",
    show_default=True,
    help="The conversation log's exchanges, the CRM's contact records, or the review actions.",
)
@click.option("--since", callback=parse_day, help="From this day (YYYY-MM-DD in RM_TIMEZONE), inclusive.")
@click.option("--until", callback=parse_day, help="To this day (YYYY-MM-DD in RM_TIMEZONE), inclusive.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Default: csv when --output ends in .csv, else jsonl.",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="File (default stdout)."
)
@click.option(
    "--as", "actor", default=None, help="Contacts: acting staff code (default: the operator CLI, an admin)."
)
@click.option("--rm", "rm_code", default=None, help="Contacts: only those recorded by this RM.")
@click.option(
    "--redact",
    is_flag=True,
    help="Exchanges, actions: client names known to the CRM become 某客户 (for trainers).",
)
def export(
    what: str,
    since: date | None,
    until: date | None,
    fmt: str | None,
    output: Path | None,
    actor: str | None,
    rm_code: str | None,
    redact: bool,
) -> None:
    """Export exchanges (numbers already masked), contact records or review actions as CSV or JSON lines."""
    if since and until and since > until:
        raise click.BadParameter(f"--until {until} is before --since {since}", param_hint="--until")
    if what != "contacts" and (actor or rm_code):
        raise click.UsageError("--as and --rm apply to --what contacts only")
    if what == "contacts" and redact:
        raise click.UsageError("--redact applies to exchanges and actions (contact records are client data)")
    fmt = resolve_format(fmt, output)
    days = DayRange(since, until, get_settings().rm_timezone)
    for_csv = fmt == "csv"
    if what == "contacts":
        from bot.cli.crm import _audit_read, _crm, _ensure_operator

        with _crm() as crm:
            acting = actor or _ensure_operator(crm)
            records = contact_records(crm, actor=acting, rm_code=rm_code, days=days)
        if records:  # an export of client data is audited before it is written (fails closed)
            ids = sorted({r.client_id for r in records})
            _audit_read(acting, "client_list", "export:contacts", clients=ids, records=len(records))
        rows: Iterable[Mapping[str, object]] = (contact_row(r, days, for_csv=for_csv) for r in records)
        count = _write(output, fmt, CONTACT_FIELDS, rows)
        who = f"RM {rm_code.strip().upper()}" if rm_code else "every RM"
        click.echo(f"exported {count} contact record(s) of {who} as {acting} {days.describe()}", err=True)
        return
    from bot.composition import open_services

    with open_services(get_settings(), with_crm=redact, with_kb=False) as services:
        scrub = services.privacy.redact if redact else None
        if what == "actions":
            count = _write(output, fmt, ACTION_FIELDS, action_rows(services.log, days, redact=scrub))
            click.echo(f"exported {count} review action(s) {days.describe()}", err=True)
            return
        rows = exchange_rows(services.log, days, for_csv=for_csv)
        if scrub is not None:
            rows = (_redacted_exchange(r, scrub) for r in rows)
        count = _write(output, fmt, EXCHANGE_FIELDS, rows)
    note = ", client names redacted" if redact else ""
    click.echo(f"exported {count} exchange(s) {days.describe()}{note}", err=True)


def _write(output: Path | None, fmt: str, fields: Sequence[str], rows: Iterable[Mapping[str, object]]) -> int:
    with _output(output, fmt) as out:
        return write_csv(out, fields, rows) if fmt == "csv" else write_jsonl(out, rows)


__all__ = [
    "ACTION_FIELDS",
    "CONTACT_FIELDS",
    "EXCHANGE_FIELDS",
    "FORMULA_TRIGGERS",
    "export",
    "neutralise_cell",
]
