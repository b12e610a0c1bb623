"""A chunk as answerable units (sentences of prose, table rows with their header) and the quotes shown
for a source. Shared by evidence selection and the composers."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from knowledge.chunking import split_long, split_sentences
from knowledge.lexical import tokenize

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 160
LONG_SENTENCE = 120
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}")
_BULLETS = "●•▪◆■"
_CLOSERS = "”’」』）)"
_OPENERS = "“‘「『（("


@dataclass(frozen=True, slots=True)
class Unit:
    text: str  # display text (table rows rendered as "列：值；列：值")
    tokens: frozenset[str]


def _strip_md(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return re.sub(r"^\s*(?:[-*+]\s+|>\s*)", "", text).strip()


def _cells(row: str) -> list[str]:
    return [_strip_md(c.strip()) for c in row.strip().strip("|").split("|")]


@lru_cache(maxsize=8192)
def units(text: str) -> tuple[Unit, ...]:
    """A chunk as answerable units: sentences of prose, table rows with their header."""
    lines = text.split("\n")
    out: list[Unit] = []
    header: list[str] | None = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("|"):
            if _TABLE_SEPARATOR.match(stripped):
                continue
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            cells = _cells(stripped)
            if _TABLE_SEPARATOR.match(nxt):
                header = cells
                continue
            if header and len(header) == len(cells):
                shown = "；".join(f"{h}：{c}" for h, c in zip(header, cells, strict=True) if c)
            else:
                shown = "；".join(c for c in cells if c)
            out.append(Unit(shown + "。", frozenset(tokenize(shown))))
            continue
        header = None
        for sentence in answer_sentences(_strip_md(stripped)):
            out.append(Unit(sentence, frozenset(tokenize(sentence))))
    return tuple(out)


def answer_sentences(text: str) -> list[str]:
    """Sentences for answers: split at 。！？ (and bullets) only, so "“1”指…；“N”指…" stays whole; a
    sentence still too long to lead an answer is split at ；, then at commas (messy extracted text)."""
    out: list[str] = []
    for part in (p.strip() for p in _strong_split(text)):
        if not part:
            continue
        if len(part) <= LONG_SENTENCE:
            out.append(part)
            continue
        for sentence in split_sentences(part):
            out.extend(
                split_long(sentence, LONG_SENTENCE, 0) if len(sentence) > LONG_SENTENCE else [sentence]
            )
    return out


def _strong_split(text: str) -> list[str]:
    """Split after 。！？ (with the closing quotes that follow) and before bullets. A question or
    exclamation inside quotes does not end the sentence: "提出“…介绍产品吗？”这一问题，提醒…" is one."""
    parts: list[str] = []
    start = depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS:
            depth = max(0, depth - 1)
        elif ch in _BULLETS and i > start:
            parts.append(text[start:i])
            start = i
        elif ch in "。！？!?" and not (depth and ch != "。"):
            end = i + 1
            while end < len(text) and text[end] in _CLOSERS:
                end += 1
            depth = 0
            parts.append(text[start:end])
            start = i = end
            continue
        i += 1
    parts.append(text[start:])
    return parts


def excerpt(text: str, focus: str | None) -> str:
    """The quote shown for a source: the whole chunk when short, else the focus sentence and neighbours."""
    parts = list(units(text))
    if not parts:
        return text[:EXCERPT_CHARS]
    if sum(len(u.text) for u in parts) <= EXCERPT_CHARS:
        return glue([u.text for u in parts])
    i = next((k for k, u in enumerate(parts) if u.text == focus), 0)
    lo, hi = i, i + 1
    while True:
        grown = False
        if hi < len(parts) and sum(len(u.text) for u in parts[lo : hi + 1]) <= EXCERPT_CHARS:
            hi += 1
            grown = True
        if lo > 0 and sum(len(u.text) for u in parts[lo - 1 : hi]) <= EXCERPT_CHARS:
            lo -= 1
            grown = True
        if not grown:
            break
    shown = glue([u.text for u in parts[lo:hi]])
    if len(shown) > EXCERPT_CHARS + 20:
        shown = shown[:EXCERPT_CHARS] + "…"
        hi = len(parts)  # the closing ellipsis is already there
    return ("…" if lo > 0 else "") + shown + ("…" if hi < len(parts) and not shown.endswith("…") else "")


def glue(parts: Sequence[str]) -> str:
    out = ""
    for p in parts:
        if out and out[-1].isascii() and out[-1].isalnum() and p[:1].isascii() and p[:1].isalnum():
            out += " "
        out += p
    return out


def terminate(sentence: str) -> str:
    """A sentence ready to stand in an answer: bullets and trailing commas gone, a full stop at the end."""
    sentence = sentence.strip().lstrip("●•▪◆■ ").rstrip(",，、:：")
    if sentence and sentence[-1] in "。！？；!?;.…”」』）)":
        return sentence
    return sentence + "。"
