"""The console twin: the bot's command table, features and renderers in a terminal REPL."""

from bot.console.session import DEFAULT_STAFF_CODE, ConsoleSession, run_console

__all__ = ["DEFAULT_STAFF_CODE", "ConsoleSession", "run_console"]
