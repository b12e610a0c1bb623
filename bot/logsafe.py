"""Process-wide logging that never writes personal numbers (ID card, phone, bank card) in clear."""

from __future__ import annotations

import logging
import sys

from crm_adapter.masking import mask_personal_numbers

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Libraries whose INFO chatter (one line per HTTP request, migration context…) would drown our logs.
NOISY_LOGGERS = ("httpx", "httpcore", "chromadb", "jieba", "urllib3", "apscheduler", "alembic", "bm25s")


class MaskingFormatter(logging.Formatter):
    """Masks personal numbers in the whole formatted record, traceback and PTB's update dumps included."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_personal_numbers(super().format(record))


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
