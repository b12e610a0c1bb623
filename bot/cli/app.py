"""CLI commands of the app itself: `chat` (console twin) and `run` (Telegram bot or console twin).

Imports of python-telegram-bot, the knowledge base and the CRM happen inside the commands so that
`rm-assistant --help` stays fast.
"""

from __future__ import annotations

import logging

import click

logger = logging.getLogger(__name__)


def _quiet_console_logging() -> None:
    # The console twin shares the terminal with its user: only warnings and errors interrupt it
    # (unless `-v` asked for debug output).
    root = logging.getLogger()
    if root.level > logging.DEBUG:
        root.setLevel(logging.WARNING)


def register(cli: click.Group) -> None:
    """Add this module's commands to the root group."""
    cli.add_command(chat)
    cli.add_command(run)


@click.command()
@click.option(
    "--as", "staff_code", metavar="STAFF_CODE", help="Act as this staff code (default: RM001, a demo RM)."
)
def chat(staff_code: str | None) -> None:
    """Chat with the assistant in the terminal (same services as the Telegram bot)."""
    from bot.console import run_console
    from bot.settings import get_settings

    _quiet_console_logging()
    code = run_console(get_settings(), staff_code=staff_code)
    if code:
        raise SystemExit(code)


@click.command()
def run() -> None:
    """Run the Telegram bot if TELEGRAM_BOT_TOKEN is set, otherwise the console twin with demo data."""
    from bot.settings import get_settings

    settings = get_settings()
    if settings.telegram_bot_token is None:
        click.echo("TELEGRAM_BOT_TOKEN is not set: starting the console twin with demo data.", err=True)
        from bot.console import run_console

        _quiet_console_logging()
        code = run_console(settings)
        if code:
            raise SystemExit(code)
        return
    from bot.telegram.app import run_bot

    mode = "webhook at " + settings.telegram_webhook_url if settings.telegram_webhook_url else "long polling"
    click.echo(f"TELEGRAM_BOT_TOKEN is set: starting the Telegram bot ({mode}).", err=True)
    try:
        run_bot(settings)
    except Exception as exc:
        logger.debug("bot failed", exc_info=True)
        raise click.ClickException(f"the Telegram bot stopped: {exc}") from exc
