"""Process-wide logging that never writes personal numbers (ID card, phone, bank card) in clear, nor a
configured secret (bot token, LLM API key, webhook secret, database password).

Two steps: `MaskingFormatter` masks personal numbers and redacts secrets in the formatted line (traceback
included); `configure_secrets` also installs a log-record factory that redacts secrets in every record as
it is created, so handlers with other formatters (pytest's caplog, a library's own) never see them.
`redact_secrets` is the same replacement for text that does not go through logging (CLI messages).
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from crm_adapter.masking import mask_personal_numbers

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Libraries whose INFO chatter (one line per HTTP request, migration context…) would drown our logs.
NOISY_LOGGERS = ("httpx", "httpcore", "chromadb", "jieba", "urllib3", "apscheduler", "alembic", "bm25s")

#: What a secret is replaced with.
REDACTED = "[REDACTED]"
#: Shorter values are not redacted (they would garble ordinary text); secrets are far longer.
MIN_SECRET_LENGTH = 4
# `scheme://user:password@host`: the password part, wherever a URL with credentials is printed.
_URL_PASSWORD_RE = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@")

_secrets: tuple[str, ...] = ()
_base_record_factory: Callable[..., logging.LogRecord] | None = None


def redact_secrets(text: str) -> str:
    """Replace every configured secret (and its URL-quoted forms) and URL passwords with `REDACTED`."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _URL_PASSWORD_RE.sub(rf"\g<head>{REDACTED}@", text)


def sanitize(text: str) -> str:
    """Both protections: personal numbers masked, secrets redacted."""
    return redact_secrets(mask_personal_numbers(text))


def configure_secrets(values: Iterable[str | None]) -> None:
    """Set the secrets to redact (replacing earlier ones) and install the redacting record factory."""
    global _secrets
    found: set[str] = set()
    for value in values:
        if value and len(value.strip()) >= MIN_SECRET_LENGTH:
            found |= {value, quote(value, safe=""), quote(value)}
    _secrets = tuple(sorted(found, key=len, reverse=True))  # longest first: no partial replacement
    _install_record_factory()


def _install_record_factory() -> None:
    global _base_record_factory
    if _base_record_factory is not None:
        return
    base = logging.getLogRecordFactory()
    _base_record_factory = base

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        if _secrets:
            _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord) -> None:
    """Redact the message (arguments merged in) and the traceback text of one record, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed format string: the handler reports it later, as usual
        return
    clean = redact_secrets(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = redact_secrets(text)
        if clean != text:
            record.exc_text = clean  # formatters use exc_text instead of formatting exc_info again
    if record.stack_info:
        record.stack_info = redact_secrets(record.stack_info)


class MaskingFormatter(logging.Formatter):
    """Masks personal numbers and redacts secrets in the whole formatted record (traceback and PTB's
    update dumps included)."""

    def format(self, record: logging.LogRecord) -> str:
        return sanitize(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at emit time (test runners and consoles swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure_logging(level: int) -> None:
    """Send logs to stderr through the masking formatter; calling it again only changes the level."""
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(MaskingFormatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
