"""The `rm-assistant` command line: one root group, sub-commands registered by their modules.

Operator errors (bad settings, unreachable database or Bot API, unusable data directory) print one line
`Error: …` and exit non-zero: see `bot.cli.errors.OperatorGroup`, the root group's class. Every message
and log line is masked (personal numbers) and redacted (the bot token, API keys, passwords).
"""

from __future__ import annotations

import logging

import click

from bot.cli import app as cli_app
from bot.cli import audit as cli_audit
from bot.cli import benefits as cli_benefits
from bot.cli import changes as cli_changes
from bot.cli import checks as cli_checks
from bot.cli import crm as cli_crm
from bot.cli import kb as cli_kb
from bot.cli import ops as cli_ops
from bot.cli.errors import OperatorGroup
from bot.logsafe import configure_logging, configure_secrets
from bot.settings import get_settings

logger = logging.getLogger(__name__)


@click.group(cls=OperatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
def cli(verbose: bool) -> None:
    """RM Assistant: knowledge base, CRM and Telegram bot for relationship managers."""
    # Logging first, so that `-v` shows the traceback of a settings error too.
    configure_logging(logging.DEBUG if verbose else logging.WARNING)
    settings = get_settings()
    configure_secrets(settings.secret_values())
    configure_logging(logging.DEBUG if verbose else logging.getLevelNamesMapping()[settings.rm_log_level])


cli_kb.register(cli)
cli_changes.register(cli.commands["kb"])  # type: ignore[arg-type]
cli_crm.register(cli)
cli_benefits.register(cli.commands["crm"])  # type: ignore[arg-type]
cli_app.register(cli)
cli_ops.register(cli)
cli_audit.register(cli)
cli_checks.register(cli)


def main() -> None:
    """Entry point of the `rm-assistant` console script (errors: see `bot.cli.errors`)."""
    cli(prog_name="rm-assistant")
