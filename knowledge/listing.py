"""List questions ("有哪些权益", "分哪几类"): how well a sentence serves as the list asked for.

A list answer names several items: separated by 、 or ； (the corpus writes both), often announced by a
count ("共八类：", "措施包括：").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from knowledge.lexical import tokenize
from knowledge.manifest import StoredChunk
from knowledge.numerals import chinese_int

logger = logging.getLogger(__name__)

WANTS_LIST = re.compile(
    r"哪些|哪几|(?:包括|包含|涵盖|覆盖)(?:什么|啥|哪)|有什么|有啥|有哪|些(?:什么|啥)|分为|分成|几类|几种"
    r"|(?:查|检查|核实|注意|准备|带)(?:什么|啥)|什么(?:材料|资料|证件|手续)"
)
ENUMERATION = re.compile(r"、.+、|包括|包含|分为|分成|如下|[：:].+[，；、]")
_COUNTED = re.compile(r"[一二两三四五六七八九十\d]+\s*(?:大类|类|项|种|步|部分|方面|个要点|要点|点)[：:]")
_SEPARATORS = ("、", "；", ";")
#: Fit of a sentence to a list question: a list of three or more items, a shorter enumeration, and a
#: bonus when the list is announced by its count.
FULL_LIST, SHORT_LIST, COUNTED = 0.3, 0.15, 0.15


def wants_list(question: str) -> bool:
    return bool(WANTS_LIST.search(question))


_HEAD_END = re.compile(r"[：:、；;]|包括|包含|分为|分成|如下|有以下")


def head(text: str) -> str:
    """What a list sentence is about: the words before its items ("推广活动可分为七类：…" → 推广活动可)."""
    found = _HEAD_END.search(text)
    return text[: found.start()] if found else text


def asks_list(word: str) -> bool:
    """A word that asks for the list ("包括", "哪些"), not its topic."""
    return bool(WANTS_LIST.search(word)) or word in ("包括", "包含", "都有", "有些")


def is_enumeration(text: str) -> bool:
    return bool(ENUMERATION.search(text))


_ASIDE = re.compile(r"（[^（）]*）|\([^()]*\)")


def items(text: str) -> int:
    """Items a sentence lists (1 when it lists nothing). Separators inside brackets list an aside's
    items ("（与A、B并列）"), not the sentence's own."""
    text = _ASIDE.sub("", text)
    return max(text.count(sep) for sep in _SEPARATORS) + 1


def counted(text: str) -> bool:
    """The sentence announces its list by a count ("可分为七类：", "共三项：")."""
    return bool(_COUNTED.search(text))


def list_fit(text: str) -> float:
    """How much a sentence looks like the answer to a list question (0 when it lists nothing)."""
    if items(text) >= 3:
        fit = FULL_LIST
    elif is_enumeration(text):
        fit = SHORT_LIST
    else:
        return 0.0
    return fit + (COUNTED if _COUNTED.search(text) else 0.0)


def topic_fit(text: str, heading: str, topic: Callable[[set[str], str], float]) -> float:
    """A list's fit to a list question, none when the question's topic is only one of its items ("体检都查
    些什么" is not answered by "权益共五类：出行、体检、…"): the topic heads the list."""
    fit = list_fit(text)
    if fit and items(text) >= 3:
        about = f"{head(text)} {heading}"
        if topic(set(tokenize(about)), about) == 0:
            return 0.0
    return fit


_COUNT_IN_HEADING = re.compile(r"([一二两三四五六七八九十\d]+)\s*(?:大类|个|类|项|种|步|部分|方面|要点|条)")
_SECTION = " > "


def sibling_sections(chunks: Sequence[StoredChunk], words: Sequence[str]) -> list[int] | None:
    """Positions of retrieved chunks that together are a counted list of sections.

    "分类的三个维度 > 维度一：财富水平", "… > 维度二：风险偏好", "… > 维度三：…": no sentence lists the
    three, the document's structure does. Only a complete list counts: the parent heading's count must
    equal the number of distinct sections retrieved, so an incomplete list is never passed off as whole,
    and the heading must name what is asked for (one of `words`: 维度).
    """
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for i, chunk in enumerate(chunks):
        if _SECTION not in chunk.heading:
            continue
        parent, _leaf = chunk.heading.rsplit(_SECTION, 1)
        groups.setdefault((chunk.source, parent), {}).setdefault(chunk.heading, i)
    for (_source, parent), sections in groups.items():
        last = parent.rsplit(_SECTION, 1)[-1]
        found = _COUNT_IN_HEADING.search(last)
        if found is None or len(sections) < 2 or not any(w in last for w in words):
            continue
        if chinese_int(found.group(1)) == len(sections):
            return sorted(sections.values(), key=lambda i: chunks[i].ord)
    return None


def parent_of(heading: str) -> str:
    """ "专属机场贵宾服务 > 机票折扣" → "专属机场贵宾服务" ("" for a top-level heading)."""
    return heading.rsplit(_SECTION, 1)[0] if _SECTION in heading else ""


def section_items(chunk: StoredChunk, corpus: Sequence[StoredChunk]) -> list[StoredChunk]:
    """The sections under `chunk`'s parent heading, in document order (one chunk each, its first): the
    items of a list the document writes as sub-headings ("专属机场贵宾服务 > 全程专人引领 / 机票折扣 / …").
    Empty when the parent has fewer than two sections, or a count in its heading that does not match."""
    parent = parent_of(chunk.heading)
    if not parent:
        return []
    first: dict[str, StoredChunk] = {}
    for c in sorted((c for c in corpus if c.source == chunk.source), key=lambda c: c.ord):
        if parent_of(c.heading) == parent:
            first.setdefault(c.heading, c)
    found = _COUNT_IN_HEADING.search(parent.rsplit(_SECTION, 1)[-1])
    if len(first) < 2 or (found is not None and chinese_int(found.group(1)) != len(first)):
        return []
    sections = list(first.values())
    if found is None:
        # "其他等级的医疗次数": a remark about what the items leave out, not an item.
        items = [c for c in sections if not leaf(c.heading).startswith(_REMARK)]
        sections = items if len(items) >= 2 else sections
    return sections


_REMARK = ("其他", "其它")


def leaf(heading: str) -> str:
    return heading.rsplit(_SECTION, 1)[-1].strip()


def intro(parent: str, sections: Sequence[StoredChunk]) -> str:
    """The lead line of a list of sections: "专属机场贵宾服务包括以下4项：全程专人引领、机票折扣、…。"."""
    leaves = [leaf(c.heading) for c in sections]
    # A heading that itself holds 、 ("健康、教育、文化类增值服务") would blur the items: separate with ；.
    names = ("；" if any("、" in n for n in leaves) else "、").join(leaves)
    return f"{leaf(parent)}包括以下{len(sections)}项：{names}。"
