"""Chinese and Arabic numerals as RMs and regulations write them: 十二, 一百零三, 一〇三, 3千5百, １２."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

_DIGITS: dict[str, int] = {ch: d for d, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_DIGITS.update({str(d): d for d in range(10)})
_DIGITS.update({chr(0xFF10 + d): d for d in range(10)})  # full-width ０–９
_UNITS = {"十": 10, "百": 100, "千": 1000}


def chinese_int(text: str) -> int | None:
    """The whole number a numeral stands for; None when `text` is not one (units above 千 excluded)."""
    text = text.strip().replace(",", "")
    if not text:
        return None
    total = 0
    digit: int | None = None
    for ch in text:
        if ch in _DIGITS:  # a run of digits ("一〇三", "4000") accumulates positionally
            digit = _DIGITS[ch] if digit is None else digit * 10 + _DIGITS[ch]
        elif ch in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)
