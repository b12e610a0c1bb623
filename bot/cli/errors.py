"""Operator errors of the command line: one line `Error: …`, a non-zero exit code, no traceback.

An operator error is a problem of the environment, not of the code: a malformed setting, an unreachable
or unusable database, a data directory that cannot be written, a Bot API that is unreachable or rejects
the token. `OperatorGroup` (the root group's class) turns each into one masked, secret-redacted line
and logs the traceback at DEBUG (shown with `-v`). Anything else is a bug: its traceback is logged
(masked, redacted) and the exit code is 1.
"""

from __future__ import annotations

import errno
import logging
import re
import sys
from typing import Any

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.logsafe import sanitize

logger = logging.getLogger(__name__)

#: Exit codes: a setting that does not parse or validate; an environment that cannot be used.
EXIT_SETTINGS = 2
EXIT_OPERATOR = 1
#: Longest message printed (a server's error text can be long; the full one is in the DEBUG log).
MAX_MESSAGE = 400

_SETTINGS_FIELD_RE = re.compile(r'field "(?P<field>[A-Za-z0-9_]+)"')


def one_line(text: str, limit: int | None = MAX_MESSAGE) -> str:
    """Collapse whitespace (newlines, tabs) and cut to `limit` characters (None: never cut)."""
    flat = " ".join(str(text).split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1] + "…"


class OperatorError(click.ClickException):
    """Printed by click as `Error: <message>` on one line (sanitised); exit code 1."""

    exit_code = EXIT_OPERATOR

    def __init__(self, message: str) -> None:
        super().__init__(one_line(sanitize(message)))


class InvalidSettingError(OperatorError):
    """A setting that does not parse or validate; exit code 2 (like a usage error)."""

    exit_code = EXIT_SETTINGS


def describe_settings_error(exc: ValidationError) -> str:
    """`RM_TOP_K: Input should be a valid integer…; RM_TIMEZONE: …` (the values are never repeated)."""
    parts = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{name}: {message}")
    return "; ".join(parts)


def _database_message(exc: BaseException) -> str | None:
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None:
        return None
    if isinstance(exc, sa_exc.NoSuchModuleError):
        return f"DATABASE_URL: unsupported database or driver ({exc})"
    if isinstance(exc, sa_exc.ArgumentError):
        return f"DATABASE_URL: {exc}"
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        sqlite = type(exc.orig).__module__.startswith("sqlite3")
        where = "DATABASE_URL / RM_DATA_DIR" if sqlite else "DATABASE_URL"
        return f"database unavailable ({where}): {exc.orig}"
    if isinstance(exc, sa_exc.TimeoutError):
        return f"database unavailable (DATABASE_URL): {exc}"
    alembic_exc = sys.modules.get("alembic.util.exc")
    if alembic_exc is not None and isinstance(exc, alembic_exc.CommandError):
        return f"database schema migration failed: {exc}"
    return None


def _telegram_message(exc: BaseException) -> str | None:
    tg_error = sys.modules.get("telegram.error")
    if tg_error is None or not isinstance(exc, tg_error.TelegramError):
        return None
    if isinstance(exc, tg_error.InvalidToken):
        return f"TELEGRAM_BOT_TOKEN was rejected by the Telegram Bot API ({exc.message})"
    if isinstance(exc, tg_error.NetworkError):
        return f"cannot reach the Telegram Bot API (TELEGRAM_API_BASE_URL): {exc.message}"
    return f"the Telegram Bot API refused a request: {exc.message}"


def _vector_message(exc: BaseException) -> str | None:
    store = sys.modules.get("knowledge.store")
    if store is not None and isinstance(exc, store.VectorIndexUnavailable):
        return f"{exc} (CHROMA_HOST / CHROMA_PORT / RM_DATA_DIR)"
    return None


def describe_operator_error(exc: BaseException) -> tuple[str, int] | None:
    """(message, exit code) when `exc` (or an exception it was raised from) is an operator error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ValidationError) and current.title == "Settings":
            return f"invalid setting: {describe_settings_error(current)}", EXIT_SETTINGS
        if isinstance(current, SettingsError):
            match = _SETTINGS_FIELD_RE.search(str(current))
            name = match.group("field").upper() if match else "a setting"
            return f"invalid setting: {name}: cannot parse the value", EXIT_SETTINGS
        message = _database_message(current) or _telegram_message(current) or _vector_message(current)
        if message is not None:
            return message, EXIT_OPERATOR
        if isinstance(current, OSError):  # the data directory, a file, a socket (ConfigurationError too)
            return str(current) or type(current).__name__, EXIT_OPERATOR
        current = current.__cause__
    return None


class OperatorGroup(click.Group):
    """The root group: operator errors become one sanitised line; click's own messages are sanitised."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:  # a command's own error: printed by click, sanitised here
            message = one_line(sanitize(exc.message), limit=None)  # the command chose it: keep it whole
            exc.message = message  # type: ignore[misc]  # Final in click's stubs only
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # `rm-assistant review export | head`: click exits quietly
            described = describe_operator_error(exc)
            if described is None:
                # A bug: never silent, and never through Python's hook (which would print secrets).
                logger.error("unexpected error (please report it)", exc_info=True)
                raise OperatorError(f"unexpected {type(exc).__name__}: {exc} (traceback above)") from None
            message, code = described
            logger.debug("operator error", exc_info=True)
            raise (InvalidSettingError if code == EXIT_SETTINGS else OperatorError)(message) from None
