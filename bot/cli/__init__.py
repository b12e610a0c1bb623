"""The `rm-assistant` command line: one root group, sub-commands registered by their modules."""

from __future__ import annotations

import logging
import sys

import click
from pydantic import ValidationError

from bot.cli import app as cli_app
from bot.cli import audit as cli_audit
from bot.cli import crm as cli_crm
from bot.cli import kb as cli_kb
from bot.cli import ops as cli_ops
from bot.logsafe import configure_logging
from bot.settings import get_settings

logger = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
def cli(verbose: bool) -> None:
    """RM Assistant: knowledge base, CRM and Telegram bot for relationship managers."""
    level = logging.DEBUG if verbose else getattr(logging, get_settings().rm_log_level.upper(), logging.INFO)
    configure_logging(level)


cli_kb.register(cli)
cli_crm.register(cli)
cli_app.register(cli)
cli_ops.register(cli)
cli_audit.register(cli)


def _describe_settings_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
        parts.append(f"{name}: {err['msg']}")
    return "; ".join(parts)


def main() -> None:
    """Entry point of the `rm-assistant` console script."""
    try:
        cli(prog_name="rm-assistant")
    except ValidationError as exc:
        # A bad value in the environment or `.env`: name the variable, no traceback.
        click.echo(f"Error: invalid setting: {_describe_settings_error(exc)}", err=True)
        sys.exit(2)
