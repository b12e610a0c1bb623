"""`rm-assistant ask` (answer from the knowledge base) and the `rm-assistant review` group (`export`:
see `bot.cli.export`; `chart`: the /stats PNG written to a file)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot import roles
from bot.cli.export import export
from bot.core import ServiceError
from bot.settings import get_settings

if TYPE_CHECKING:
    from bot.composition import Services
    from bot.features.ask_result import AskResult
    from crm_adapter import Client, Staff

logger = logging.getLogger(__name__)

#: Who the log names for questions asked without --as.
CLI_STAFF = "cli"


def register(cli: click.Group) -> None:
    """Add `ask` and `review` (with `review export`) to the root group."""
    review.add_command(export)
    review.add_command(chart)
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
@click.option(
    "--as",
    "staff_code",
    metavar="STAFF_CODE",
    help="Ask as this staff member: questions naming one of their clients are answered for that client.",
)
@click.option(
    "--client",
    "client_id",
    metavar="CLIENT_ID",
    help="With --as: answer for this client of theirs (e.g. when two clients share the name asked about).",
)
def ask(
    question: str | None,
    as_json: bool,
    questions_file: Path | None,
    staff_code: str | None,
    client_id: str | None,
) -> None:
    """Answer a question from the knowledge base, with numbered sources."""
    if questions_file is None and not (question and question.strip()):
        raise click.ClickException(
            'give a question, e.g. rm-assistant ask "钻石客户每年可以预约几次专家号？"'
        )
    if client_id is not None and staff_code is None:
        raise click.ClickException("--client needs --as STAFF_CODE (whose client it is)")
    questions = _read_lines(questions_file) if questions_file else [question.strip()] if question else []
    from bot.composition import open_services
    from bot.features.ask import render_answer
    from bot.rendering import to_plain

    with open_services(get_settings(), with_crm=staff_code is not None) as services:
        try:
            staff = services.staff.by_code(staff_code) if staff_code is not None else None
            picked = services.clients.get(staff, client_id) if staff and client_id else None
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
        for q in questions:
            try:
                result = _ask_one(services, staff, q, picked)
            except ServiceError as exc:
                raise click.ClickException(to_plain(exc.message)) from None
            if as_json:
                payload = result.answer.to_dict()
                if result.client is not None:
                    c = result.client
                    payload["client"] = {"id": c.client_id, "name": c.name, "tier": str(c.tier)}
                click.echo(json.dumps(payload, ensure_ascii=False))
                continue
            if len(questions) > 1:
                click.echo(f"\n问：{q}")
            click.echo(to_plain(render_answer(result).text))


def _ask_one(services: Services, staff: Staff | None, question: str, picked: Client | None) -> AskResult:
    """One question the way the chat answers it: as `staff`, for the client it names (or `picked`)."""
    from bot.features.clients import render_matches
    from bot.rendering import to_plain

    if staff is None:  # no one to scope clients to: the general rule, as before
        return services.ask.ask(staff_code=CLI_STAFF, question=question, channel="cli")
    mentioned = (picked,) if picked is not None else services.ask.mentioned(staff, question)
    if len(mentioned) > 1:  # the chat's pick list, then the way to pick on the command line
        click.echo(to_plain(render_matches(mentioned, prompt="问题中的客户是哪一位？").text), err=True)
        raise ServiceError("问题中的客户有同名，请用 --client 客户号 指定是哪一位。")
    client = mentioned[0] if mentioned else None
    return services.ask.ask(staff_code=staff.code, question=question, channel="cli", client=client)


@click.group()
def review() -> None:
    """Review the conversation log and contact records (supervisors)."""


@click.command()
@click.argument("words", nargs=-1)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="PNG file to write.",
)
@click.option(
    "--as", "actor", default=None, help="Whose view (default: the operator CLI, an admin: everyone)."
)
def chart(words: tuple[str, ...], output: Path, actor: str | None) -> None:
    """Write the /stats chart to a PNG file: `review chart 上月 -o stats.png` (range words as in chat)."""
    from bot.cli.crm import _crm, _ensure_operator
    from bot.composition import open_services
    from bot.features.supervision import render_stats_chart

    with _crm() as crm:
        code = actor or _ensure_operator(crm)
        with open_services(get_settings(), crm=crm, with_kb=False) as services:
            try:
                staff = crm.get_staff(code=code)
                if not roles.may_read_gaps(staff):
                    raise ServiceError(f"{staff.code} 不是主管、培训师或管理员，没有使用统计可看。")
                view = services.supervision.stats(staff, list(words))
            except ServiceError as exc:
                raise click.ClickException(exc.message) from None
    png = render_stats_chart(view)
    try:
        output.write_bytes(png)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {output} ({len(png)} bytes): /stats {view.since}~{view.until} as {code}", err=True)
