"""CLI commands of the app itself: `chat` (console twin) and `run` (Telegram bot or console twin).

Imports of python-telegram-bot, the knowledge base and the CRM happen inside the commands so that
`rm-assistant --help` stays fast.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bot.settings import Settings

logger = logging.getLogger(__name__)

#: Seconds the start-up `getMe` may take to connect, and again to answer.
PREFLIGHT_TIMEOUT = 10.0


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
    from bot.cli.errors import describe_operator_error, one_line
    from bot.logsafe import sanitize
    from bot.telegram.app import run_bot

    check_bot_api(settings)
    mode = "webhook at " + settings.telegram_webhook_url if settings.telegram_webhook_url else "long polling"
    click.echo(sanitize(f"TELEGRAM_BOT_TOKEN is set: starting the Telegram bot ({mode})."), err=True)
    try:
        run_bot(settings)
    except Exception as exc:
        if describe_operator_error(exc) is not None:
            raise  # the root group prints it as one line
        logger.debug("bot failed", exc_info=True)
        raise click.ClickException(f"the Telegram bot stopped: {one_line(str(exc))}") from exc


def check_bot_api(settings: Settings, *, timeout: float = PREFLIGHT_TIMEOUT) -> None:
    """One `getMe` before anything is loaded, through the bot's own HTTP backend: a rejected token or an
    unreachable Bot API fails within seconds, as one line (the root group describes PTB's errors)."""
    import asyncio

    from telegram import Bot
    from telegram.request import BaseRequest, HTTPXRequest

    assert settings.telegram_bot_token is not None
    request: BaseRequest
    if settings.telegram_http_backend == "aiohttp":
        from bot.telegram.http import AiohttpRequest

        request = AiohttpRequest(connection_pool_size=1, read_timeout=timeout, connect_timeout=timeout)
    else:
        request = HTTPXRequest(connection_pool_size=1, read_timeout=timeout, connect_timeout=timeout)
    # Only to build the endpoint the way PTB does (`{token}` placeholder or appended); never initialised.
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_api_base_file_url,
        request=request,
        get_updates_request=request,
    )

    async def get_me() -> None:
        await request.initialize()
        try:
            await request.post(f"{bot.base_url}/getMe")
        finally:
            await request.shutdown()

    asyncio.run(get_me())
    logger.debug("Bot API reachable, token accepted")
