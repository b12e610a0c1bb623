"""`rm-assistant check-message`: check messages before they are sent to clients (the same service as
/check): marketing compliance, privacy and, when a message opens with a client's name, suitability."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from bot import roles
from bot.core import ServiceError
from bot.settings import get_settings

logger = logging.getLogger(__name__)


def register(cli: click.Group) -> None:
    cli.add_command(check_message)


def _read_messages(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise click.ClickException(f"cannot read {path}: {reason}") from None
    messages = [line.strip() for line in text.splitlines() if line.strip()]
    if not messages:
        raise click.ClickException(f"{path} holds no messages (one message per line)")
    return messages


@click.command("check-message")
@click.argument("text", required=False)
@click.option(
    "--messages",
    "messages_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Check one message per line; with --json prints one JSON object per line.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {verdict, findings, rewrite} as JSON.")
@click.option(
    "--as",
    "staff_code",
    default=None,
    help="Who checks (an RM, supervisor or admin; default: the CLI operator, an admin).",
)
def check_message(
    text: str | None, messages_file: Path | None, as_json: bool, staff_code: str | None
) -> None:
    """Check a message to a client: `check-message "张伟 这款产品不保本，业绩比较基准3.2%"`."""
    if messages_file is None and not (text and text.strip()):
        raise click.ClickException(
            'give a message, e.g. rm-assistant check-message "这款理财不保本，产品有风险"'
        )
    messages = _read_messages(messages_file) if messages_file else [text.strip()] if text else []
    from bot.cli.crm import _crm, _ensure_operator
    from bot.composition import open_services
    from bot.features.message_check import render_check
    from bot.rendering import to_plain
    from crm_adapter import NotFound

    with _crm() as crm:
        code = staff_code or _ensure_operator(crm)
        try:
            staff = crm.get_staff(code=code)
        except NotFound:
            raise click.ClickException(f"unknown staff code {code}") from None
        if staff.role not in roles.CLIENT_READERS:
            raise click.ClickException(
                f"{code} may not check client messages (RMs, supervisors and admins may)"
            )
        with open_services(get_settings(), crm=crm, with_kb=False) as services:
            for message in messages:
                try:
                    result = services.message_check.check(staff, message, channel="cli")
                except ServiceError as exc:
                    if len(messages) == 1:
                        raise click.ClickException(to_plain(exc.message)) from None
                    result = None
                    error = to_plain(exc.message)
                if as_json:
                    row = result.to_dict() if result is not None else {"error": error, "text": message}
                    click.echo(json.dumps(row, ensure_ascii=False))
                    continue
                if len(messages) > 1:
                    click.echo(f"\n消息：{message}")
                click.echo(to_plain(render_check(result)) if result is not None else f"Error: {error}")
