"""Clean the text layer pypdf extracts from a PDF, page by page.

Laws and regulator rules reach the bank as PDFs whose text layers carry print furniture and layout breaks:
running headers and footers on every page, page numbers ("第 3 页 共 20 页", "- 3 -", a lone "3"), visual
line wraps inside sentences, letter-spaced lines ("第 一 条"), and layers that put one glyph (or a few) per
line. `clean_pdf_pages` drops the furniture and re-joins the text so that sentences and article boundaries
survive: CJK characters are joined without spaces, English words across a wrap with one space (a hyphen at
the wrap is removed), and a line never runs into an article, chapter or list-item start.

Every step is conservative for ordinary documents (a header must repeat on several pages, only the first
and last lines of a page are looked at, table-like lines are not re-flowed), so it runs on every PDF.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.regulations import ARTICLE_START, HEADING_START

logger = logging.getLogger(__name__)

_DASHES = r"-—–－_~·•"
_PAGE_NUMBER = re.compile(
    "|".join(
        (
            rf"[{_DASHES}\s]*\d{{1,4}}[{_DASHES}\s]*",  # 3 / - 3 - / — 12 —
            r"第\s*\d{1,4}\s*页\s*(?:[,，/、]?\s*共\s*\d{1,4}\s*页)?",  # 第 3 页 共 20 页
            r"共\s*\d{1,4}\s*页\s*[,，]?\s*第\s*\d{1,4}\s*页",
            r"\d{1,4}\s*/\s*\d{1,4}",
            r"(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?",
        )
    ),
    re.IGNORECASE,
)
_DECORATED_PAGE_NUMBER = re.compile(rf"[{_DASHES}]+\d{{1,4}}[{_DASHES}]+|第\d{{1,4}}页(?:共\d{{1,4}}页)?")
_ITEM_START = re.compile(
    r"^(?:[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}[、．.]|\d{1,2}[、．.](?!\d)|[①-⑳])"
)
_CLOSERS = "”’」』）)]】》\"'"
_TERMINATORS = "。！？；：!?;:．."
_CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPACED_PAIR = re.compile(r"(?<=\S) (?=\S)")

#: Lines shorter than this share of the document's typical line length end a paragraph.
SHORT_LINE = 0.75
#: At least this many one- or two-glyph lines in a row make a run to re-join.
MIN_GLYPH_RUN = 5


@dataclass(frozen=True, slots=True)
class CleanedPdf:
    """The cleaned text and the running headers/footers that were dropped (the first is the most common)."""

    text: str
    removed_headers: tuple[str, ...] = ()


def is_page_number(line: str) -> bool:
    """A page-number line: "3", "- 3 -", "第 3 页 共 20 页", "3 / 20", "Page 3 of 20"."""
    line = line.strip()
    return bool(line) and _PAGE_NUMBER.fullmatch(line) is not None


def _header_key(line: str) -> str:
    # Running headers and footers differ only in their page numbers.
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def _nonblank(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.strip()]


def _drop_split_page_number(lines: list[str]) -> list[str]:
    """Remove a decorated page number spread over the last lines ("-", "3", "-": a one-glyph layer)."""
    idx = _nonblank(lines)
    for n in range(2, 5):
        tail = idx[-n:]
        if len(tail) < n or any(len(lines[i].strip()) > 3 for i in tail):
            break
        if _DECORATED_PAGE_NUMBER.fullmatch("".join(lines[i].strip() for i in tail)):
            return [line for i, line in enumerate(lines) if i not in set(tail)]
    return lines


def _drop_page_numbers(lines: list[str]) -> list[str]:
    """Remove one page number at the top and one at the bottom of a page (also when split over lines)."""
    idx = _nonblank(lines)
    drop = {i for i in (idx[:1] + idx[-1:]) if is_page_number(lines[i])}
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return kept if idx and idx[-1] in drop else _drop_split_page_number(kept)


def _edge_lines(lines: list[str], depth: int = 2) -> list[int]:
    idx = _nonblank(lines)
    return sorted(set(idx[:depth] + idx[-depth:]))


def _is_structural(line: str) -> bool:
    line = line.strip()
    return bool(ARTICLE_START.match(line) or HEADING_START.match(line) or _ITEM_START.match(line))


def _running_headers(pages: list[list[str]]) -> Counter[str]:
    """Header/footer keys found at the edges of at least half the pages (and on two or more)."""
    counts: Counter[str] = Counter()
    for lines in pages:
        keys = {
            _header_key(lines[i])
            for i in _edge_lines(lines)
            if not _is_structural(lines[i]) and not _ends_sentence(lines[i])
        }
        counts.update(k for k in keys if 3 <= len(k) <= 60)
    needed = max(2, len(pages) // 2)
    return Counter({k: n for k, n in counts.items() if n >= needed})


def _is_glyph_line(line: str) -> bool:
    return 0 < len(line.strip()) <= 2


def _rejoin_glyph_runs(lines: list[str]) -> list[str]:
    """Join runs of one- or two-glyph lines (a broken text layer) back into one line each."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _is_glyph_line(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        j = i
        glyphs = 0
        end = i  # one past the last glyph line of the run
        while j < len(lines) and (_is_glyph_line(lines[j]) or not lines[j].strip()):
            if lines[j].strip():
                glyphs += 1
                end = j + 1
            j += 1
        run = lines[i:end]
        text = "".join(part.strip() or " " for part in run)
        if glyphs >= MIN_GLYPH_RUN and len(_CJK_CHAR.findall(text)) * 2 >= len(text.replace(" ", "")):
            out.append(re.sub(r" {2,}", " ", text).strip())
        else:
            out.extend(run)
        i = end
    return out


def _fix_letter_spacing(line: str) -> str:
    """ "第 二 条  本 法 所 称" → "第二条 本法所称": a line whose words are single glyphs lost its spacing."""
    words = [t for t in line.split(" ") if t]
    singles = sum(len(w) == 1 for w in words)
    mostly_single = len(words) >= 4 and singles >= 0.7 * len(words)
    all_single_cjk = len(words) >= 2 and singles == len(words) and bool(_CJK_CHAR.search(line))
    if not (mostly_single or all_single_cjk):
        return line
    return re.sub(r" {2,}", " ", _SPACED_PAIR.sub("", line)).strip()


def _ends_sentence(line: str) -> bool:
    stripped = line.rstrip().rstrip(_CLOSERS)
    return not stripped or stripped[-1] in _TERMINATORS


def _is_heading_line(line: str) -> bool:
    return bool(HEADING_START.match(line.strip())) and len(line.strip()) <= 40


def _columnar(line: str) -> bool:
    return "\t" in line or "  " in line.strip()


def _continues(prev: str, nxt: str, typical: int) -> bool:
    """Whether visual line `nxt` continues the paragraph whose last visual line is `prev`."""
    if not prev.strip() or not nxt.strip():
        return False
    if _ends_sentence(prev) or _is_heading_line(prev) or _is_structural(nxt):
        return False
    if not typical or len(prev.strip()) < SHORT_LINE * typical:
        return False  # a short line ends its paragraph (and with too few lines to tell, nothing is joined)
    return not (_columnar(prev) or _columnar(nxt))


def _glue(left: str, right: str) -> str:
    left, right = left.rstrip(), right.strip()
    if (
        len(left) > 1
        and left[-1] == "-"
        and left[-2].isascii()
        and left[-2].isalpha()
        and right[:1].islower()
    ):
        return left[:-1] + right  # "regu-" + "lation"
    if left[-1:].isascii() and left[-1:].isalnum() and right[:1].isascii() and right[:1].isalnum():
        return f"{left} {right}"
    if left[-1:] in ",.;:" and right[:1].isascii() and right[:1].isalnum():
        return f"{left} {right}"
    return left + right  # CJK: no space at a wrap


def _typical_length(pages: list[list[str]]) -> int:
    lengths = sorted(len(line.strip()) for lines in pages for line in lines if len(line.strip()) >= 8)
    return lengths[int(len(lengths) * 0.8)] if len(lengths) >= 5 else 0


def _strip_edges(lines: list[str], headers: Counter[str]) -> tuple[list[str], list[str]]:
    """Drop running headers/footers and one page number at each edge of a page, walking inwards."""
    idx = _nonblank(lines)
    drop: set[int] = set()
    removed: list[str] = []
    for edge in (idx[:3], idx[::-1][:3]):
        number_seen = False
        for i in edge:
            if i in drop:
                continue
            if not number_seen and is_page_number(lines[i]):
                number_seen = True
            elif _header_key(lines[i]) in headers:
                removed.append(lines[i].strip())
            else:
                break
            drop.add(i)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    bottom = idx[-1] in drop if idx else False
    return kept if bottom else _drop_split_page_number(kept), removed


def clean_pdf_pages(pages: Sequence[str]) -> CleanedPdf:
    """Clean the extracted text of each page of one PDF and join the pages into one text."""
    raw = [[line.replace("\u00a0", " ").rstrip() for line in page.split("\n")] for page in pages]
    headers = _running_headers([_drop_page_numbers(lines) for lines in raw]) if len(raw) >= 2 else Counter()
    removed: Counter[str] = Counter()
    split: list[list[str]] = []
    for lines in raw:
        kept, dropped = _strip_edges(lines, headers)
        removed.update(dropped)
        split.append(kept)
    typical = _typical_length(split)
    flowed: list[str] = []
    prev_visual = ""
    for lines in split:
        for line in _rejoin_glyph_runs(lines):
            line = _fix_letter_spacing(line.strip())
            if not line:
                continue
            if flowed and _continues(prev_visual, line, typical):
                flowed[-1] = _glue(flowed[-1], line)
            else:
                flowed.append(line)
            prev_visual = line
    if removed:
        logger.debug("dropped running headers/footers: %s", dict(removed))
    return CleanedPdf(text="\n".join(flowed), removed_headers=tuple(h for h, _ in removed.most_common()))
