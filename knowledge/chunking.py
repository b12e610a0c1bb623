"""Chinese-aware chunking: split on Markdown headings and sentence ends, pack sentences up to a target size
with overlap, never cut inside a sentence unless that sentence alone is too long. Markdown tables are kept
whole or split by row groups, each group repeating the table header. Plain text has its headings
recognised by shape (`plain_headings`), so a chunk never spans two articles of a pasted-together file.

Laws and regulator rules (第X条 structure, see `knowledge.regulations`) are chunked along their articles
instead: one article per chunk, its chapter (and section) plus the article label as heading; an article
longer than `2 * target` splits into parts, each keeping the label in its heading ("第四十条（续）")."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from knowledge.loaders import LoadedDocument
from knowledge.regulations import Block, parse_regulation

logger = logging.getLogger(__name__)

DEFAULT_TARGET = 300
DEFAULT_OVERLAP = 60

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_TABLE_LINE = re.compile(r"^\s*\|")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
# A sentence ends at a Chinese/ASCII terminator (plus closing quotes/brackets), or at ". " in English.
_SENTENCE_END = re.compile(
    r"(?<=[。！？；!?;．｡])[”’」』）)\]】》\"']*"
    r"|(?<=\.)[”’\"')\]]*(?=\s)"
    r"|(?<=…)(?!…)"
)
_SOFT_BREAK = re.compile(r"(?<=[，,、：:])|(?<=\s)(?=\S)")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document to index; `heading` is the heading path ("节 > 小节")."""

    text: str
    heading: str
    index: int


@dataclass(slots=True)
class _Unit:
    text: str
    joiner: str  # what goes between the previous unit and this one
    atomic: bool = False  # table row groups are never merged with prose or overlapped


def _split_with_gaps(text: str) -> list[tuple[str, bool]]:
    """Sentences of one paragraph and whether whitespace preceded each (to re-join them faithfully)."""
    pieces: list[tuple[str, bool]] = []
    start = 0
    bounds = [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    for end in bounds:
        if end <= start:
            continue
        raw = text[start:end]
        if raw.strip():
            pieces.append((raw.strip(), raw[:1].isspace()))
        start = end
    return pieces


def split_sentences(text: str) -> list[str]:
    """Split one paragraph into sentences, keeping terminators; empty pieces dropped."""
    return [sentence for sentence, _ in _split_with_gaps(text)]


def split_long(sentence: str, target: int, overlap: int) -> list[str]:
    """Split a sentence longer than `target`: at commas/spaces first, hard cuts as a last resort."""
    if len(sentence) <= target:
        return [sentence]
    parts = [p for p in _SOFT_BREAK.split(sentence) if p]
    pieces: list[str] = []
    current = ""
    for part in parts:
        if len(part) > target:
            if current:
                pieces.append(current)
                current = ""
            step = max(1, target - overlap)
            for i in range(0, len(part), step):
                pieces.append(part[i : i + target])
                if i + target >= len(part):
                    break
            continue
        if len(current) + len(part) > target and current:
            pieces.append(current)
            current = ""
        current += part
    if current:
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def _table_units(lines: list[str], target: int) -> list[_Unit]:
    header: list[str] = []
    body = lines
    if len(lines) >= 2 and _TABLE_SEPARATOR.match(lines[1]):
        header, body = lines[:2], lines[2:]
    units: list[_Unit] = []
    group: list[str] = []
    head_len = sum(len(h) + 1 for h in header)
    for row in body:
        if group and head_len + sum(len(r) + 1 for r in group) + len(row) > target:
            units.append(_Unit("\n".join(header + group), "\n", atomic=True))
            group = []
        group.append(row)
    if group or header:
        units.append(_Unit("\n".join(header + group), "\n", atomic=True))
    return units


# Plain text has no heading markup; a heading is a short line standing alone between finished sentences.
MAX_PLAIN_HEADING = 30
#: A short line repeated this often is a running header or footer (a slide deck's name), not a heading.
RUNNING_HEADER_COUNT = 4
MAX_HEADING_RUN = 3
_SENTENCE_PUNCT = re.compile(r"[。！？；;!?，,：:]")
_TERMINATED = re.compile(r"[。！？；;!?:：.…”’」』）)\]】》\"']$")
_BULLET = re.compile(r"^[-–—•·●▪◆■*>]")
_NUMBERS_ONLY = re.compile(r"^[\d\W_]+$")
# Numbering tells the level: 第X章 > 一、/(一) > 1./3.1 > (1); an unnumbered line is a document title.
_PLAIN_LEVELS = (
    (re.compile(r"^第[一二三四五六七八九十百零〇\d]+[章部篇编]"), 2),
    (re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十]+[)）])"), 3),
    (re.compile(r"^\d+(?:\.\d+)*(?:[、.．]|\s)"), 4),
    (re.compile(r"^[(（]\d+[)）]"), 5),
)


def plain_headings(text: str) -> dict[int, tuple[int, str]]:
    """Heading lines of plain text by line number: (level, name). A heading is at most
    MAX_PLAIN_HEADING characters, holds no sentence punctuation, is no bullet, page number or running
    header, follows a finished sentence (a short line after an unfinished one is a wrapped line) and
    precedes body text. More than MAX_HEADING_RUN such lines in a row are a list, not headings."""
    lines = [line.strip() for line in text.split("\n")]
    counts: dict[str, int] = {}
    for line in lines:
        if 0 < len(line) <= MAX_PLAIN_HEADING:
            counts[line] = counts.get(line, 0) + 1
    found: dict[int, tuple[int, str]] = {}
    run: dict[int, tuple[int, str]] = {}  # candidates since the last body line
    after_break = True  # the previous non-empty line ended a sentence (or there was none)
    for pos, line in enumerate(lines):
        if not line:
            continue
        numbers = bool(_NUMBERS_ONLY.match(line))
        running = counts.get(line, 0) >= RUNNING_HEADER_COUNT
        level = next((lv for pattern, lv in _PLAIN_LEVELS if pattern.match(line)), 1)
        # A numbered label may end with a colon ("(1)钻石客户：" over its list).
        name = line[:-1] if level > 1 and line[-1] in ":：" else line
        candidate = (
            after_break
            and len(name) <= MAX_PLAIN_HEADING
            and not numbers
            and not running
            and not _SENTENCE_PUNCT.search(name)
            and not _BULLET.match(name)
        )
        if candidate:
            run[pos] = (level, name)
        elif not (numbers or running):  # body text: the run before it were headings, unless a list
            if len(run) <= MAX_HEADING_RUN:
                found.update(run)
            run = {}
        if not (numbers or running):  # page numbers and running headers sit inside a page's flow
            after_break = candidate or bool(_TERMINATED.search(line))
    return found


def _sections(text: str, title: str, markdown: bool) -> Iterator[tuple[str, list[str]]]:
    """Yield (heading path, lines) per section: Markdown #-headings, or headings of plain text."""
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False
    plain = None if markdown else plain_headings(text)
    for pos, raw in enumerate(text.split("\n")):
        line = raw.rstrip()
        if markdown and line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        heading: tuple[int, str] | None = None
        if plain is not None:
            heading = plain.get(pos)
        elif not in_fence and (m := _HEADING.match(line)):
            heading = (len(m.group(1)), m.group(2).strip())
        if heading:
            yield _path(stack, title), lines
            lines = []
            level = heading[0]
            stack = [(lv, h) for lv, h in stack if lv < level]
            stack.append(heading)
            continue
        lines.append(line)
    yield _path(stack, title), lines


def _path(stack: list[tuple[int, str]], title: str) -> str:
    names = [h for _, h in stack]
    if names and names[0] == title:
        names = names[1:]  # an H1 repeating the title adds nothing
    return " > ".join(names)


def _units(lines: list[str], target: int, overlap: int, markdown: bool) -> list[_Unit]:
    units: list[_Unit] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if markdown and _TABLE_LINE.match(line):
            table: list[str] = []
            while i < len(lines) and _TABLE_LINE.match(lines[i]):
                table.append(lines[i].strip())
                i += 1
            units.extend(_table_units(table, target))
            continue
        i += 1
        stripped = line.strip()
        if not stripped:
            continue
        first = True
        for sentence, spaced in _split_with_gaps(stripped):
            for k, piece in enumerate(split_long(sentence, target, overlap)):
                if first:
                    joiner = "\n"
                    first = False
                else:
                    joiner = " " if spaced and k == 0 else ""
                units.append(_Unit(piece, joiner))
    return units


def _pack(units: list[_Unit], target: int, overlap: int) -> list[str]:
    """Greedily pack units into chunks of at most `target` chars, carrying sentence overlap."""
    chunks: list[str] = []
    current: list[_Unit] = []
    carried = 0  # how many leading units of `current` are overlap from the previous chunk

    def size(group: list[_Unit]) -> int:
        return sum(len(u.text) + len(u.joiner) for u in group)

    def flush() -> tuple[list[_Unit], int]:
        if len(current) <= carried:
            return [], 0  # nothing new since the last chunk
        chunks.append(_render(current))
        tail: list[_Unit] = []
        for unit in reversed(current[carried:]):
            # Whole trailing sentences only, and never the entire chunk.
            if unit.atomic or size(tail) + len(unit.text) > overlap or len(tail) + 1 >= len(current):
                break
            tail.insert(0, unit)
        return tail, len(tail)

    for unit in units:
        if unit.atomic:
            flush()
            chunks.append(_render([unit]))
            current, carried = [], 0
            continue
        if current and size(current) + len(unit.joiner) + len(unit.text) > target:
            current, carried = flush()
        current.append(unit)
    flush()
    return chunks


def _render(group: list[_Unit]) -> str:
    out = ""
    for unit in group:
        out += (unit.joiner if out else "") + unit.text
    return out.strip()


def chunk_document(
    doc: LoadedDocument, *, target: int = DEFAULT_TARGET, overlap: int = DEFAULT_OVERLAP
) -> list[Chunk]:
    """Split a loaded document into chunks of about `target` characters."""
    if target < 20 or not 0 <= overlap < target:
        raise ValueError("need target >= 20 and 0 <= overlap < target")
    out: list[Chunk] = []
    if doc.kind == "faq":
        for question, answer in doc.entries:
            head = f"问：{question}\n答："
            for piece in _pack(_units(answer.split("\n"), target, overlap, False), target, overlap):
                out.append(Chunk(text=head + piece, heading=question, index=len(out)))
        return out
    markdown = doc.kind == "markdown"
    blocks = parse_regulation(doc.text, title=doc.title, markdown=markdown)
    if blocks is not None:
        return _regulation_chunks(blocks, target, overlap)
    for heading, lines in _sections(doc.text, doc.title, markdown):
        for text in _pack(_units(lines, target, overlap, markdown), target, overlap):
            out.append(Chunk(text=text, heading=heading, index=len(out)))
    return out


def _regulation_chunks(blocks: list[Block], target: int, overlap: int) -> list[Chunk]:
    """One chunk per article (parts of `2 * target` for long ones); text outside articles packed as usual."""
    out: list[Chunk] = []
    limit = 2 * target
    for block in blocks:
        path = " > ".join(block.path)
        if not block.label:
            for text in _pack(_units(block.lines, target, overlap, False), target, overlap):
                out.append(Chunk(text=text, heading=path, index=len(out)))
            continue
        heading = f"{path} > {block.label}" if path else block.label
        whole = "\n".join(line.strip() for line in block.lines if line.strip())
        parts = [whole] if len(whole) <= limit else _pack(_units(block.lines, limit, 0, False), limit, 0)
        for k, text in enumerate(parts):
            out.append(Chunk(text=text, heading=heading if k == 0 else f"{heading}（续）", index=len(out)))
    return out
