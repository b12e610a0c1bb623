"""Personal numbers never reach the log output in clear."""

from __future__ import annotations

import io
import logging

from bot.logsafe import MaskingFormatter


def test_formatter_masks_message_args_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tests.logsafe")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("client phone %s card %s", "13812345678", "6222021234567890123")
        try:
            raise ValueError("bad id 110101199003071234")
        except ValueError:
            log.exception("lookup failed")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    for raw in ("13812345678", "6222021234567890123", "110101199003071234"):
        assert raw not in out
    assert "138****5678" in out
    assert "ValueError" in out  # the traceback itself is kept
