"""`rm-assistant ask` (answer from the knowledge base) and the `rm-assistant review` group (`export`:
see `bot.cli.export`; `chart`: the /stats PNG written to a file)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from bot.cli.export import export
from bot.core import ServiceError
from bot.settings import get_settings

logger = logging.getLogger(__name__)

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
    from crm_adapter import Role

    with _crm() as crm:
        code = actor or _ensure_operator(crm)
        with open_services(get_settings(), crm=crm, with_kb=False) as services:
            try:
                staff = crm.get_staff(code=code)
                if staff.role not in (Role.SUPERVISOR, Role.TRAINER, Role.ADMIN):
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
