"""Structure of Chinese laws and regulator rules: 编/章/节 headings and 第X条 articles.

`parse_regulation` splits a document's text into blocks, one per article, each with its heading path
("第三章 反洗钱义务", "第二章 … > 第一节 …"); text before the first article (title, adoption dates, table of
contents) is a block without an article label. The parser tells an article heading from a cross-reference
("依照本法第四十条的规定") by position (line start, or right after a sentence end when a PDF text layer ran
lines together), by what follows the number, and by the numbering: articles and chapters must come in
sequence. `chunking.chunk_document` turns the blocks into chunks.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from knowledge.numerals import chinese_int

logger = logging.getLogger(__name__)

_NUM = r"[零〇一二两三四五六七八九十百千0-9０-９]+"
#: An article label at the start of a string: 第十二条, 第一百零三条, 第12条, 第二十条之一.
ARTICLE_START = re.compile(rf"第\s?({_NUM})\s?条(之[一二三四五六七八九十]+)?")
#: A heading: 第一编 / 第二分编 / 第三章 / 第一节, then its title.
HEADING_START = re.compile(rf"第\s?({_NUM})\s?(分编|编|章|节)")
_LEVELS = {"编": 0, "分编": 1, "章": 2, "节": 3}
# What follows "第X条" in a cross-reference rather than an article heading.
_REFERENCE_FOLLOWERS = frozenset("的规款项至和或及与第之、，,。；;所前后")
# What a body never starts with, while a reference with a stray space may ("第四十条 第一款").
_SPACED_REFERENCE = frozenset("的规款项至第之、，,。；;")
# What precedes "第X条" in a cross-reference ("本法第", "依照第", "第五十三条、第五十四条").
_REFERENCE_BEFORE = frozenset("法照据用、和或至及条第款项")
_HEADING_REJECT = re.compile(r"[。；;，,、：:！？!?]|的规定|规定的")
_TERMINATORS = "。；;！？!?"
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}])")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_HTML_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")
_ANNEX = re.compile(r"^(附件|附录|附表)\s*[0-9一二三四五六七八九十]*\s*[:：]?")
_LAW_NAME = re.compile(r"(法|条例|办法|规定|细则|规则|指引|准则|决定|通知|意见|规范|指导意见)(（[^）]*）)?$")

#: A document is read as a regulation when at least this many sequential article headings are found.
MIN_ARTICLES = 3


def cn_number(text: str) -> int | None:
    """Parse 十二 / 一百零三 / 一〇三 / 12 / １２ into an int; None when it is not a number."""
    return chinese_int(text)


def collapse_cjk_spaces(text: str) -> str:
    """Remove spaces between two CJK characters ("总 则" → "总则"); other spaces are kept."""
    return _CJK_SPACE.sub("", text)


def looks_like_law_name(line: str) -> bool:
    """A short line naming a law or rule (…法, …条例, …管理办法, …规定)."""
    line = line.strip()
    if not 2 < len(line) <= 60 or _HEADING_REJECT.search(line) or ARTICLE_START.match(line):
        return False
    return not HEADING_START.match(line) and bool(_LAW_NAME.search(line))


@dataclass(slots=True)
class Block:
    """Consecutive lines of one article (`label` "第十二条") or of text outside articles (`label` "")."""

    path: tuple[str, ...]
    label: str = ""
    lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Article:
    number: int
    label: str
    body: str  # text after the label on the same line
    spaced: bool  # whitespace (or a colon) separates the label from the body


@dataclass(slots=True)
class _Heading:
    level: int
    number: int
    name: str  # "第三章 反洗钱义务"
    rest: str  # text after the heading on the same line (an article run into it)


def _article_at(text: str, last: int) -> _Article | None:
    """An article heading at the start of `text` that may follow article number `last`."""
    m = ARTICLE_START.match(text)
    if not m:
        return None
    number = cn_number(m.group(1))
    if number is None or number == 0:
        return None
    suffix = m.group(2) or ""
    rest = text[m.end() :]
    spaced = rest[:1].isspace() or rest[:1] in ":：【"
    if rest and not spaced and rest[0] in _REFERENCE_FOLLOWERS:
        return None
    # 第二十条之一 follows 第二十条; a plain label follows the previous number.
    sequential = number == last if suffix else (number == last + 1 or (last == 0 and number == 1))
    # A spaced label may skip numbers (an excerpt, repealed articles) or restart a second rule at 第一条.
    if not (sequential or (spaced and (number > last or (number == 1 and last >= MIN_ARTICLES)))):
        return None
    label = f"第{m.group(1).strip()}条{suffix}"
    body = rest.lstrip(" \t\u3000:：")
    if spaced and body[:1] in _SPACED_REFERENCE:
        return None  # "第四十条 第一款规定的": a reference with a stray space
    return _Article(number, label, body, spaced)


def _heading_at(text: str, counters: dict[int, int], next_article: int) -> _Heading | None:
    """A 编/章/节 heading at the start of `text`, numbered in sequence for its level."""
    m = HEADING_START.match(text)
    if not m:
        return None
    number = cn_number(m.group(1))
    if number is None or number == 0:
        return None
    level = _LEVELS[m.group(2)]
    last = counters.get(level, 0)
    # In sequence, or 第一… again (the body after a table of contents, a new part), or an excerpt's first;
    # an excerpt may also skip chapters (checked below: the heading must then have a title).
    if number < last and number != 1:
        return None
    rest = text[m.end() :]
    if rest[:1] and not rest[:1].isspace() and rest[0] in _REFERENCE_FOLLOWERS:
        return None
    title, tail = rest, ""
    # A PDF layer may run the first article (or section) into the heading line: cut it off there.
    for inner in re.finditer(r"第", rest):
        candidate = rest[inner.start() :]
        if _article_at(candidate, next_article - 1) or HEADING_START.match(candidate):
            title, tail = rest[: inner.start()], candidate
            break
    title = collapse_cjk_spaces(title.strip(" \t\u3000"))
    if len(title) > 40 or _HEADING_REJECT.search(title):
        return None
    if number > last + 1 and last != 0 and not title:
        return None
    name = f"第{m.group(1).strip()}{m.group(2)}" + (f" {title}" if title else "")
    return _Heading(level, number, name, tail)


def _split_embedded(line: str, next_article: int, counters: dict[int, int]) -> tuple[str, str]:
    """Split `line` before an article or heading that a PDF layer ran into the preceding text."""
    for m in re.finditer(r"第", line):
        start = m.start()
        if start == 0:
            continue
        before, candidate = line[start - 1], line[start:]
        if HEADING_START.match(candidate):
            heading = _heading_at(candidate, counters, next_article)
            if heading is None:
                continue
            in_sequence = heading.number == counters.get(heading.level, 0) + 1
            # "……第一章 总则第一条 为了……": a heading cut off by an article is structure wherever it sits.
            if heading.rest or (in_sequence and before in _TERMINATORS):
                return line[:start], candidate
            continue
        article = _article_at(candidate, next_article - 1)
        if article is None or article.number != next_article:
            continue
        # After a sentence end; or spaced from its body ("会议通过第一条 为了"), which references never are.
        if before in _TERMINATORS or (article.spaced and before not in _REFERENCE_BEFORE):
            return line[:start], candidate
    return line, ""


class _Parser:
    def __init__(self, title: str) -> None:
        self.title = title
        self.blocks: list[Block] = []
        self.headings: dict[int, str] = {}  # level → heading name
        self.counters: dict[int, int] = {}  # level → last number
        self.last_article = 0
        self.articles = 0
        self.current: Block | None = None

    def path(self) -> tuple[str, ...]:
        return tuple(self.headings[level] for level in sorted(self.headings))

    def _open(self, label: str) -> Block:
        block = Block(self.path(), label)
        self.blocks.append(block)
        self.current = block
        return block

    def _text(self, line: str) -> None:
        block = self.current
        if block is None or (not block.label and block.path != self.path()):
            block = self._open("")
        if block.label and block.lines == [block.label]:
            block.lines[0] = f"{block.label} {line}"  # the label stood alone on its line
        else:
            block.lines.append(line)

    def heading(self, level: int, name: str, number: int | None) -> None:
        if number is not None:
            for lv in [lv for lv in self.counters if lv > level]:
                del self.counters[lv]
            self.counters[level] = number
        for lv in [lv for lv in self.headings if lv >= level]:
            del self.headings[lv]
        self.headings[level] = name
        self.current = None

    def feed(self, line: str) -> None:
        while line:
            leading = _article_at(line.strip(), self.last_article)
            expected = (leading.number if leading is not None else self.last_article) + 1
            head, tail = _split_embedded(line, expected, self.counters)
            self._feed_one(head)
            line = tail

    def _feed_one(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        if self.articles and len(line) <= 40 and _ANNEX.match(line):
            self.heading(-1, collapse_cjk_spaces(line), None)  # an annex ends the last article
            return
        heading = _heading_at(line, self.counters, self.last_article + 1)
        if heading is not None:
            self.heading(heading.level, heading.name, heading.number)
            if heading.rest:
                self.feed(heading.rest)
            return
        article = _article_at(line, self.last_article)
        if article is not None:
            if article.number == 1 and self.last_article >= MIN_ARTICLES:
                self.headings.clear()  # a second rule in the same file starts over
                self.counters.clear()
            self.last_article = article.number
            self.articles += 1
            block = self._open(article.label)
            block.lines.append(f"{article.label} {article.body}".rstrip())
            return
        self._text(line)


def _iter_lines(text: str, markdown: bool, parser: _Parser) -> None:
    in_fence = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.replace("\u00a0", " ").strip()
        if markdown:
            if line.startswith("```"):
                in_fence = not in_fence
                continue
            if _HTML_COMMENT.match(line):
                continue
            m = _MD_HEADING.match(line) if not in_fence else None
            if m:
                name = m.group(2).strip()
                if len(m.group(1)) == 1 and name == parser.title:
                    continue  # the title heading: the chunks carry the title already
                if HEADING_START.match(name) and _heading_at(name, parser.counters, parser.last_article + 1):
                    parser.feed(name)
                else:
                    # Any other heading names the part of the document that follows (levels above 章).
                    parser.heading(-7 + len(m.group(1)), collapse_cjk_spaces(name), None)
                continue
        elif not parser.blocks and line == parser.title:
            continue  # the title line of a plain text or PDF: the chunks carry the title already
        parser.feed(line)


def parse_regulation(text: str, *, title: str = "", markdown: bool = False) -> list[Block] | None:
    """Blocks of a document with 第X条 structure; None when it has fewer than `MIN_ARTICLES` articles."""
    parser = _Parser(title)
    _iter_lines(text, markdown, parser)
    if parser.articles < MIN_ARTICLES:
        return None
    return [b for b in parser.blocks if any(line.strip() for line in b.lines)]


def looks_like_regulation(text: str) -> bool:
    """Whether `text` has at least `MIN_ARTICLES` sequential article headings (第一条, 第二条 …)."""
    parser = _Parser("")
    for line in text.split("\n"):
        parser.feed(line)
        if parser.articles >= MIN_ARTICLES:
            return True
    return False
