"""Folding text for matching what people type against what the CRM stores: full-width forms, traditional
characters and Chinese numerals are written many ways, and a check that only sees one way is bypassed."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from knowledge.numerals import chinese_int

# Chinese numerals that number a product or series ("五号", "十二期"): written as digits when folded.
_SERIES_NUMERAL = re.compile(r"([零〇一二两三四五六七八九十百]+)(?=[号期款代])")
# Separators inside a code or a pinyin word ("P 9001", "P-9001", "xin xiang"): folded away.
_LATIN_GAP = re.compile(r"(?<=[a-z0-9])[\s\-_.·]+(?=[a-z0-9])")


@functools.cache
def _t2s() -> Callable[[str], str]:
    from opencc_purepy import OpenCC  # loads its dictionaries on first use only

    return OpenCC("t2s").convert


def to_simplified(text: str) -> str:
    """Traditional characters as simplified ones (張偉 → 张伟); other text unchanged."""
    return _t2s()(text) if any(ord(ch) > 0x2E7F for ch in text) else text


def fold(text: str) -> str:
    """NFKC (full-width → ASCII), simplified characters, lower case, series numerals as digits."""
    folded = to_simplified(unicodedata.normalize("NFKC", text)).lower()
    return _SERIES_NUMERAL.sub(_series_digits, folded)


def compact_latin(folded: str) -> str:
    """A folded text with the separators between latin letters and digits removed ("p-9001" → "p9001")."""
    return _LATIN_GAP.sub("", folded)


def _series_digits(m: re.Match[str]) -> str:
    value = chinese_int(m.group(1))
    return str(value) if value is not None else m.group(1)
