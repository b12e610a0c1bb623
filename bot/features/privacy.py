"""Trainers see no client data: client names known to the CRM become 某客户, personal numbers are masked.

Questions reach trainers through `/unanswered` (the gap inbox), `/handoffs` and the exports for trainers.
RMs name their clients in questions ("张伟的太太想开户怎么办"); a trainer needs the question, not the
client. Supervisors and admins may read their scope's client data and see the texts as they are.

Names are matched longest first at every position (so 欧阳明 wins over a client called 欧阳), latin names
case-insensitively; one-character names are left alone (they would wipe out ordinary words). Texts and
names are compared folded: traditional characters as simplified (張偉 is 张伟), latin letters lower-cased
without accents. A Chinese name also matches in pinyin as whole latin words: "zhangwei", "zhang wei",
"Zhang Wei", "Zhāng-Wěi", and surname last ("Wei Zhang"). Its pinyin initials ("wjg" for 王建国) match only
as a whole word of at least `MIN_INITIALS` letters that no other client's name shares and that cannot be
an ordinary word (no vowel letter, not a common abbreviation such as "kyc" or "pdf").
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from bot import roles
from crm_adapter.masking import mask_personal_numbers

if TYPE_CHECKING:
    from crm_adapter import CRMAdapter, Staff

logger = logging.getLogger(__name__)

PLACEHOLDER = "某客户"
#: Shorter names are not replaced: a one-character "name" is an ordinary word.
MIN_NAME_CHARS = 2
#: A name's pinyin shorter than this ("wue") is too likely an ordinary latin word.
MIN_PINYIN_LETTERS = 4
#: Initials shorter than this ("zw") would redact ordinary abbreviations.
MIN_INITIALS = 3
#: How long the CRM's client names are reused before they are read again.
NAMES_TTL_SECONDS = 60.0
#: Roles that never see client data in the texts they are shown.
#: Vowel-free abbreviations an RM may write that could also be a client's initials.
_ABBREVIATIONS = frozenset({
    "bbc", "cbrc", "cctv", "cfp", "cfpb", "cnh", "crm", "crs", "csrc", "gdp", "hkd", "kyc", "lpr", "mbs",
    "mgm", "mpf", "nft", "pbc", "pbs", "pdf", "pmt", "ppt", "qdlp", "qflp", "rmb", "sms", "sql", "ssn",
    "tkt", "ttm", "txt", "wfh", "www", "xls", "xlsx",
})  # fmt: skip
_LATIN_WORD = re.compile(r"[a-z]+")
#: What may stand between the syllables of a pinyin name ("zhang wei", "zhang-wei", "zhang'wei").
_SYLLABLE_GAP = frozenset(" '’·-")
#: Longest run of latin words tried as one name (a four-character name in separate syllables).
_MAX_WORDS = 4


@functools.cache
def _t2s() -> Callable[[str], str]:
    from opencc_purepy import OpenCC  # loads its dictionaries (~0.1 s): only when a text is redacted

    return OpenCC("t2s").convert


def _fold_char(ch: str) -> str:
    """One character as compared: simplified, lower-cased, without accents (always one character)."""
    if ch < "\x80":
        return ch.lower()
    base = unicodedata.normalize("NFKD", ch)[:1] or ch
    if "\u3400" <= base <= "\u9fff" or "\uf900" <= base <= "\ufaff":
        base = _t2s()(base)
    base = base.lower()
    return base if len(base) == 1 else ch


class _Folds(dict[int, str]):
    """`str.translate` table filled on demand: each character is folded once per process."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        return folded


_FOLDS = _Folds()
_HAN = re.compile(r"[\u3400-\u9fff]+")


def fold(text: str) -> str:
    """`text` as names are compared (same length, so offsets carry over to the original)."""
    return text.translate(_FOLDS)


def _is_han(text: str) -> bool:
    return _HAN.fullmatch(text) is not None


@functools.lru_cache(maxsize=1 << 14)
def _reading(ch: str, surname: bool) -> str:
    """One character's pinyin: a surname as the CRM's search keys read it (曾 zeng), others alone."""
    if surname:
        from crm_adapter.pinyin import pinyin_keys

        return pinyin_keys(ch).full
    from pypinyin import Style, lazy_pinyin

    return "".join(_LATIN_WORD.findall("".join(lazy_pinyin(ch, style=Style.NORMAL)).lower()))


@functools.lru_cache(maxsize=1 << 18)
def _pinyin_forms(name: str) -> tuple[tuple[str, ...], str]:
    """A Chinese name's pinyin as latin words would be joined ("zhangwei", and "weizhang" surname last
    for two or three characters) and its initials ("zw")."""
    syllables = [_reading(ch, i == 0) for i, ch in enumerate(name)]
    if not all(syllables):
        return (), ""
    forms = ["".join(syllables)]
    if len(name) in (2, 3):
        forms.append("".join(syllables[1:]) + syllables[0])
    return tuple(f for f in forms if len(f) >= MIN_PINYIN_LETTERS), "".join(s[0] for s in syllables)


def _could_be_initials(key: str) -> bool:
    return len(key) >= MIN_INITIALS and not set(key) & set("aeiou") and key not in _ABBREVIATIONS


class ClientRedactor:
    """Replace known client names with 某客户 and mask personal numbers (immutable, thread-safe)."""

    __slots__ = ("_initials", "_lengths", "_names", "_pinyin")

    def __init__(self, names: Iterable[str]) -> None:
        kept = {fold(n.strip()) for n in names if len(n.strip()) >= MIN_NAME_CHARS}
        self._names = frozenset(kept)
        self._lengths = tuple(sorted({len(n) for n in kept}, reverse=True))
        pinyin: set[str] = set()
        initials: dict[str, int] = {}
        for name in kept:
            if not _is_han(name):
                continue
            forms, abbreviation = _pinyin_forms(name)
            pinyin.update(forms)
            initials[abbreviation] = initials.get(abbreviation, 0) + 1
        self._pinyin = frozenset(pinyin)
        # Initials only where they point at one name: "zw" (张伟, 章伟, 张薇…) never qualifies anyway.
        self._initials = frozenset(k for k, n in initials.items() if n == 1 and _could_be_initials(k))

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        masked = mask_personal_numbers(text)
        if not self._names or not masked:
            return masked
        folded = fold(masked)
        latin = self._latin_spans(folded)
        out: list[str] = []
        i, end = 0, len(masked)
        while i < end:
            stop = latin.get(i, i)
            for size in self._lengths:
                if i + size <= end and folded[i : i + size] in self._names:
                    stop = max(stop, i + size)
                    break
            if stop > i:
                if not out or not out[-1].endswith(PLACEHOLDER):  # "张伟张薇" → one 某客户
                    out.append(PLACEHOLDER)
                i = stop
            else:
                out.append(masked[i])
                i += 1
        return "".join(out)

    def _latin_spans(self, folded: str) -> dict[int, int]:
        """Start → end of each name written in pinyin: whole latin words only, longest first."""
        spans: dict[int, int] = {}
        if not self._pinyin and not self._initials:
            return spans
        words = [(m.start(), m.end()) for m in _LATIN_WORD.finditer(folded)]
        i = 0
        while i < len(words):
            j = i + 1  # the run of words joined by single separators that starts at word i
            while j < len(words) and j - i < _MAX_WORDS and _joined(folded, words[j - 1], words[j]):
                j += 1
            for k in range(j, i, -1):
                key = "".join(folded[a:b] for a, b in words[i:k])
                if key in self._pinyin or (k == i + 1 and key in self._initials):
                    spans[words[i][0]] = words[k - 1][1]
                    i = k
                    break
            else:
                i += 1
        return spans


def _joined(folded: str, left: tuple[int, int], right: tuple[int, int]) -> bool:
    return right[0] - left[1] == 1 and folded[left[1]] in _SYLLABLE_GAP


def _unchanged(text: str) -> str:
    return text


class ClientPrivacy:
    """The CRM's client names, and a redactor of them, re-read every `ttl` seconds (thread-safe).

    Without a CRM (the CLI's knowledge-only commands) only personal numbers are masked. The redactor is
    built on first use and kept while the names read again are the same (building it reads every name's
    pinyin).
    """

    def __init__(
        self,
        crm: CRMAdapter | None,
        *,
        ttl: float = NAMES_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._crm = crm
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, frozenset[str]] | None = None
        self._redactor: tuple[frozenset[str], ClientRedactor] | None = None

    def names(self) -> frozenset[str]:
        """Every client name the CRM knows (read again after `ttl` seconds)."""
        now = self._clock()
        cached = self._cached
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is None or now - cached[0] >= self._ttl:
                names = self._crm.client_names() if self._crm is not None else frozenset()
                if cached is not None and names == cached[1]:
                    names = cached[1]  # unchanged: the same object keeps the redactor built on it
                cached = (now, names)
                self._cached = cached
            return cached[1]

    def redactor(self) -> ClientRedactor:
        names = self.names()
        built = self._redactor
        if built is not None and built[0] is names:
            return built[1]
        with self._lock:
            built = self._redactor
            if built is None or built[0] is not names:
                built = (names, ClientRedactor(names))
                self._redactor = built
            return built[1]

    def redact(self, text: str) -> str:
        return self.redactor().redact(text)

    def for_viewer(self, staff: Staff) -> Callable[[str], str]:
        """What to apply to question texts shown to `staff`: redaction for trainers, nothing otherwise."""
        return self.redactor().redact if roles.is_redacted(staff) else _unchanged

    def forget(self) -> None:
        """Read the names again on next use (after a client import)."""
        with self._lock:
            self._cached = None


__all__ = ["PLACEHOLDER", "ClientPrivacy", "ClientRedactor", "fold"]
