"""Pinyin keys and query classification for client search.

Stored per client (indexed columns): full pinyin without tones or separators ("zhangwei") and initials
("zw"). Homophones share keys, so 张伟 and 章伟 are both found by "zhangwei". Every substring of the name
(up to `MAX_TERM_LEN` characters) is stored in a term table, so a Chinese substring search is an index
lookup on both SQLite and PostgreSQL (pg_trgm cannot index 1–2 character CJK substrings).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: Substrings longer than this are not stored; longer queries fall back to an escaped LIKE scan.
MAX_TERM_LEN = 8

#: Polyphonic characters read differently as surnames (pypinyin gives the common reading).
_SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "区": "ou",
    "查": "zha",
    "乐": "yue",
    "仇": "qiu",
    "朴": "piao",
    "盖": "ge",
    "覃": "qin",
    "翟": "zhai",
    "缪": "miao",
    "召": "shao",
    "繁": "po",
    "燕": "yan",
    "种": "chong",
    "冼": "xian",
    "秘": "bi",
    "员": "yun",
    "洗": "xian",
}

_WORD_RE = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class PinyinKeys:
    full: str  # "zhangwei"
    initials: str  # "zw"


def normalize_text(value: str) -> str:
    """NFKC (full-width → half-width), trimmed, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", value).split())


def pinyin_keys(name: str) -> PinyinKeys:
    """Full pinyin and initials for a (usually Chinese) name; latin words are kept lower-cased."""
    # Imported lazily: pypinyin loads a large phrase dictionary (~0.5 s) that only writes need.
    from pypinyin import Style, lazy_pinyin

    name = normalize_text(name)
    full: list[str] = []
    initials: list[str] = []
    for index, part in enumerate(lazy_pinyin(name, style=Style.NORMAL, errors="default")):
        if index == 0 and name[:1] in _SURNAME_READINGS:
            part = _SURNAME_READINGS[name[:1]]
        for word in _WORD_RE.findall(part.lower()):
            full.append(word)
            initials.append(word[0])
    return PinyinKeys(full="".join(full), initials="".join(initials))


def name_terms(name: str) -> set[str]:
    """Every substring of the (normalised, lower-cased) name up to MAX_TERM_LEN characters."""
    text = normalize_text(name).lower()
    terms: set[str] = set()
    for start in range(len(text)):
        for end in range(start + 1, min(len(text), start + MAX_TERM_LEN) + 1):
            term = text[start:end].strip()
            if term:
                terms.add(term)
    return terms


def pinyin_query(query: str) -> str | None:
    """`"Zhang Wei"`, `"zhang'wei"` → "zhangwei"; None when the query is not pure latin letters."""
    compact = re.sub(r"[\s'’·-]+", "", normalize_text(query).lower())
    if compact and re.fullmatch(r"[a-z]+", compact):
        return compact
    return None


def escape_like(value: str, escape: str = "\\") -> str:
    """Escape LIKE metacharacters so `%`, `_` and `\\` in user input match literally."""
    return value.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")


def prefix_upper_bound(prefix: str) -> str:
    """Smallest string greater than every string starting with `prefix` (for index range scans)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


__all__ = [
    "MAX_TERM_LEN",
    "PinyinKeys",
    "escape_like",
    "name_terms",
    "normalize_text",
    "pinyin_keys",
    "pinyin_query",
    "prefix_upper_bound",
]
