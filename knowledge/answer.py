"""Answer composition: the extractive composer (default, no LLM) and the optional, checked LLM composer.

The extractive composer leads with the sentence(s) of the top hits that best answer the question (query
token overlap weighted by IDF, a bonus for numbers/conditions when the question asks for them), then lists
numbered quotes with their source titles. When the evidence is too weak it says so and cites nothing.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from knowledge.chunking import split_long, split_sentences
from knowledge.lexical import tokenize
from knowledge.types import Answer, Citation

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from knowledge.base import Candidate
    from knowledge.lexical import BM25Index

logger = logging.getLogger(__name__)

NO_ANSWER_TEXT = (
    "抱歉，知识库中没有找到与这个问题相关的内容，无法给出有依据的回答。"
    "建议换个说法再问，或向培训/合规同事确认。"
)

#: Relevance gate, calibrated on the 112 eval questions against ~30 off-topic ones (bench/bench_knowledge.py).
#: e5 cosines are compressed: unrelated Chinese text still scores ~0.80-0.88 against our corpus.
STRONG_DENSE = 0.885  # the best dense match alone is enough above this
MIN_DENSE = 0.85  # below this nothing counts
MIN_COVERAGE = 0.45  # in between, the best chunk must hold this share of the question's IDF mass
MAX_CITATIONS = 3
MAX_LEAD_SENTENCES = 3
EXCERPT_CHARS = 160

# Questions that ask for an amount, a count, a threshold or a condition want a sentence with numbers.
_WANTS_NUMBER = re.compile(
    r"几|多少|多久|多长|多大|多高|门槛|条件|标准|要求|额度|金额|上限|下限|期限|频率|比例|费用|收费|起点|以上|达到|多少钱|何时|什么时候|时限|天内|次"
)
_HAS_NUMBER = re.compile(
    r"\d|[一二两三四五六七八九十百千万亿半]+\s*(?:次|个|天|日|周|年|月|小时|万|元|%|人|家|项|位|张|条|份|倍|级|类|步)"
)
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}")
_NUMERAL = r"[\d一二两三四五六七八九十百千万半]"
# "几次/几折/多少钱…" asks for a quantity of that unit; a sentence with "5次/六折/5000元" fills the slot.
_SLOT = re.compile(r"(?:几|多少)(次|折|天|年|个月|月|周|小时|分钟|万元|万|元|钱|岁|张|本|位|人|倍|成|种|项)")
# "哪些/哪几/包括什么" asks for a list; a sentence that enumerates answers it.
_WANTS_LIST = re.compile(r"哪些|哪几|包括什么|包含什么|有什么|有啥|分为|分成|几类|几种")
_ENUMERATION = re.compile(r"、.+、|包括|包含|分为|分成|如下|[：:].+[，；、]")
RANK_DECAY = 1.0  # unit scores from the n-th retrieved chunk are divided by (1 + RANK_DECAY * n)


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str  # display text (table rows rendered as "列：值；列：值")
    tokens: frozenset[str]


@dataclass(frozen=True, slots=True)
class Source:
    """A numbered piece of evidence."""

    n: int
    candidate: Candidate
    excerpt: str

    @property
    def citation(self) -> Citation:
        ch = self.candidate.chunk
        return Citation(n=self.n, source=ch.source, title=ch.title, text=ch.text, heading=ch.heading)


@dataclass(frozen=True, slots=True)
class Evidence:
    question: str
    grounded: bool
    lead: tuple[tuple[str, int], ...]  # (sentence, source n)
    sources: tuple[Source, ...]


def _strip_md(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return re.sub(r"^\s*(?:[-*+]\s+|>\s*)", "", text).strip()


def _cells(row: str) -> list[str]:
    return [_strip_md(c.strip()) for c in row.strip().strip("|").split("|")]


@lru_cache(maxsize=8192)
def _units(text: str) -> tuple[_Unit, ...]:
    """A chunk as answerable units: sentences of prose, table rows with their header."""
    lines = text.split("\n")
    out: list[_Unit] = []
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
            out.append(_Unit(shown + "。", frozenset(tokenize(shown))))
            continue
        header = None
        for sentence in _answer_sentences(_strip_md(stripped)):
            out.append(_Unit(sentence, frozenset(tokenize(sentence))))
    return tuple(out)


_STRONG_END = re.compile(r"(?<=[。！？!?])[”’」』）)]*|(?=[●•▪◆■])")
LONG_SENTENCE = 120


def _answer_sentences(text: str) -> list[str]:
    """Sentences for answers: split at 。！？ (and bullets) only, so "“1”指…；“N”指…" stays whole; a
    sentence still too long to lead an answer is split at ；, then at commas (messy extracted text)."""
    out: list[str] = []
    for part in (p.strip() for p in _STRONG_END.split(text)):
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


def select_evidence(
    question: str,
    candidates: Sequence[Candidate],
    *,
    top_dense: float,
    index: BM25Index,
    tokenize_question: Callable[[str], list[str]],
) -> Evidence:
    """Decide whether the candidates answer the question and pick the lead sentences and quotes.

    `tokenize_question` splits the question into words (jieba precise mode).
    `top_dense` is the best cosine similarity of the whole dense result list (not only the fused top).
    """
    # One token per word for weighing (钻石客户 once, not also 钻石 and 客户); chunks are matched on
    # cut_for_search tokens, which include every compound and its parts.
    q_tokens = list(dict.fromkeys(tokenize_question(question)))
    if not q_tokens or not candidates:
        return Evidence(question, False, (), ())
    # Tokens the corpus never uses weigh like the rarest word: an off-topic question then has low coverage.
    unknown = math.log(1.0 + (len(index) + 0.5) / 0.5)
    weight = {t: (index.idf(t) or unknown) for t in q_tokens}
    total = sum(weight.values())
    # A compound the chunk lacks still earns partial credit for its parts (机场贵宾 → 机场, 贵宾).
    parts = {t: [p for p in tokenize(t) if p != t] for t in q_tokens}

    def matched(tokens: frozenset[str] | set[str]) -> float:
        score = 0.0
        for t, w in weight.items():
            if t in tokens:
                score += w
            elif parts[t]:
                score += 0.8 * w * sum(p in tokens for p in parts[t]) / len(parts[t])
        return score

    def coverage(tokens: frozenset[str] | set[str]) -> float:
        return matched(tokens) / total

    covs = [coverage(set(c.chunk.tokens) | set(tokenize(c.chunk.title))) for c in candidates]
    best = max(range(len(candidates)), key=lambda i: (covs[i], -i))
    grounded = top_dense >= STRONG_DENSE or (covs[best] >= MIN_COVERAGE and top_dense >= MIN_DENSE)
    if not grounded:
        logger.debug("no evidence for %r: coverage %.2f dense %.3f", question, covs[best], top_dense)
        return Evidence(question, False, (), ())

    wants_number = bool(_WANTS_NUMBER.search(question))
    wants_list = bool(_WANTS_LIST.search(question))
    slots = {m.group(1) for m in _SLOT.finditer(question)}
    slot_res = [re.compile(_NUMERAL + r"+\s*" + re.escape("元" if s == "钱" else s)) for s in slots]
    scored: list[tuple[float, int, int, _Unit]] = []  # (score, candidate idx, unit idx, unit)
    for ci, cand in enumerate(candidates[:4]):
        if covs[ci] < 0.5 * covs[best] and ci > 0:
            continue
        context = set(tokenize(f"{cand.chunk.title} {cand.chunk.heading}"))
        rank_factor = 1.0 / (1.0 + RANK_DECAY * ci)
        for ui, unit in enumerate(_units(cand.chunk.text)):
            own = matched(unit.tokens)
            ctx = matched(context | unit.tokens) - own
            score = (own + 0.4 * ctx) / total
            if slot_res and any(r.search(unit.text) for r in slot_res):
                score += 0.3
            elif wants_number and _HAS_NUMBER.search(unit.text):
                score += 0.15
            if wants_list and _ENUMERATION.search(unit.text):
                score += 0.15
            if len(unit.text) < 6:
                score *= 0.5  # fragments such as "8" or a lone heading word
            if unit.text.rstrip("”’」』）) ").endswith(("？", "?")):
                score *= 0.5  # a question (e.g. from a course outline) does not answer a question
            scored.append((score * rank_factor, ci, ui, unit))
    if not scored:
        return Evidence(question, False, (), ())
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    top_score = scored[0][0]

    lead: list[tuple[int, int, _Unit]] = [(scored[0][1], scored[0][2], scored[0][3])]
    covered = set(scored[0][3].tokens)
    lead_ci = scored[0][1]
    for score, ci, ui, unit in scored[1:]:
        if len(lead) >= MAX_LEAD_SENTENCES or sum(len(u.text) for _, _, u in lead) > 200:
            break
        if score < 0.7 * top_score:
            break
        if any(unit.text == u.text for _, _, u in lead):
            continue
        new = {t for t in q_tokens if t in unit.tokens and t not in covered}
        if ci == lead_ci:
            # A neighbour from the same passage joins when it adds words, the asked-for number or the list.
            fills = (wants_number and _HAS_NUMBER.search(unit.text)) or (
                wants_list and _ENUMERATION.search(unit.text)
            )
            if not new and not fills:
                continue
        elif score < 0.9 * top_score or not new:
            continue  # another source must be nearly as good and add something
        lead.append((ci, ui, unit))
        covered |= unit.tokens

    # Number the sources in order of first use: lead sources first, then other strong candidates.
    order: list[int] = []
    for ci, _, _ in lead:
        if ci not in order:
            order.append(ci)
    for ci in range(min(4, len(candidates))):
        if len(order) >= MAX_CITATIONS:
            break
        if ci not in order and covs[ci] >= 0.7 * covs[best]:
            order.append(ci)
    best_unit = {ci: unit for _s, ci, _ui, unit in reversed(scored)}  # highest score wins (reversed)
    sources = tuple(
        Source(n=n, candidate=candidates[ci], excerpt=_excerpt(candidates[ci], best_unit.get(ci)))
        for n, ci in enumerate(order, start=1)
    )
    n_of = {ci: n for n, ci in enumerate(order, start=1)}
    # Read like the document: by source, then in the order the sentences appear there.
    ordered = sorted(lead, key=lambda item: (n_of[item[0]], item[1]))
    return Evidence(question, True, tuple((u.text, n_of[ci]) for ci, _, u in ordered), sources)


def _excerpt(cand: Candidate, focus: _Unit | None) -> str:
    """The quote shown for a source: the whole chunk when short, else the focus sentence and neighbours."""
    units = list(_units(cand.chunk.text))
    if not units:
        return cand.chunk.text[:EXCERPT_CHARS]
    if sum(len(u.text) for u in units) <= EXCERPT_CHARS:
        return _glue([u.text for u in units])
    i = next((k for k, u in enumerate(units) if focus is not None and u.text == focus.text), 0)
    lo, hi = i, i + 1
    while True:
        grown = False
        if hi < len(units) and sum(len(u.text) for u in units[lo : hi + 1]) <= EXCERPT_CHARS:
            hi += 1
            grown = True
        if lo > 0 and sum(len(u.text) for u in units[lo - 1 : hi]) <= EXCERPT_CHARS:
            lo -= 1
            grown = True
        if not grown:
            break
    text = _glue([u.text for u in units[lo:hi]])
    if len(text) > EXCERPT_CHARS + 20:
        text = text[:EXCERPT_CHARS] + "…"
        hi = len(units)  # the closing ellipsis is already there
    return ("…" if lo > 0 else "") + text + ("…" if hi < len(units) and not text.endswith("…") else "")


def _glue(parts: Sequence[str]) -> str:
    out = ""
    for p in parts:
        if out and out[-1].isascii() and out[-1].isalnum() and p[:1].isascii() and p[:1].isalnum():
            out += " "
        out += p
    return out


def no_answer(question: str) -> Answer:
    return Answer(question=question, lead=(NO_ANSWER_TEXT,), citations=(), grounded=False, composer="none")


def compose_extractive(evidence: Evidence) -> Answer:
    """Lead sentence(s), each with its [n] marker; the numbered sources are `Answer.citations`."""
    if not evidence.grounded or not evidence.lead:
        return no_answer(evidence.question)
    return Answer(
        question=evidence.question,
        lead=tuple(f"{_terminate(text)}[{n}]" for text, n in evidence.lead),
        citations=tuple(s.citation for s in evidence.sources),
        grounded=True,
        confidence=0.7,
        composer="extractive",
    )


def _terminate(sentence: str) -> str:
    sentence = sentence.strip().lstrip("●•▪◆■ ").rstrip(",，、:：")
    if sentence and sentence[-1] in "。！？；!?;.…”」』）)":
        return sentence
    return sentence + "。"


# ---------------------------------------------------------------------------------------------- LLM
_CITE = re.compile(r"\[(\d{1,2})\]")


def _format_sources(sources: Sequence[Source]) -> str:
    blocks = []
    for src in sources:
        ch = src.candidate.chunk
        head = f"[{src.n}] 《{ch.title}》" + (f" · {ch.heading}" if ch.heading else "")
        blocks.append(f"{head}\n{ch.text}")
    return "\n\n".join(blocks)


def compose_with_llm(evidence: Evidence, *, llm: BaseChatModel, fallback: Answer) -> Answer:
    """Ask the LLM to answer from the numbered sources only; any error, timeout or bad citation → fallback.

    The timeout is the chat client's own (`ChatOpenAI(timeout=...)`): it raises, and we fall back.
    """
    if not evidence.grounded or not evidence.sources:
        return fallback
    from langchain_core.messages import HumanMessage, SystemMessage

    import prompts

    messages = [
        SystemMessage(content=prompts.load("answer_system")),
        HumanMessage(
            content=prompts.load("answer_user").format(
                sources=_format_sources(evidence.sources), question=evidence.question
            )
        ),
    ]
    try:
        reply: Any = llm.invoke(messages)
    except Exception:  # the client's timeout, connection errors, bad replies: the extractive answer stands
        logger.warning("LLM answer failed; using the extractive answer", exc_info=True)
        return fallback
    text = reply.content if hasattr(reply, "content") else reply
    if not isinstance(text, str) or not text.strip():
        logger.warning("LLM returned no text; using the extractive answer")
        return fallback
    text = text.strip()
    cited = {int(n) for n in _CITE.findall(text)}
    by_n = {s.n: s for s in evidence.sources}
    if not cited or not cited <= set(by_n):
        logger.warning(
            "LLM answer cites %s, allowed %s; using the extractive answer", sorted(cited), sorted(by_n)
        )
        return fallback
    used = [by_n[n] for n in sorted(cited)]
    return Answer(
        question=evidence.question,
        lead=split_lead(text),
        citations=tuple(s.citation for s in used),
        grounded=True,
        confidence=fallback.confidence,
        composer="llm",
        verdict=fallback.verdict,
        warnings=fallback.warnings,
    )


# A lead sentence ends at 。！？ plus any closing quotes and the [n] markers that follow it.
_LEAD_END = re.compile(r"(?<=[。！？!?])[”’」』）)]*(?:\s*\[\d{1,2}\])*")


def split_lead(text: str) -> tuple[str, ...]:
    """An LLM reply as lead sentences, each keeping the [n] markers written after it."""
    out: list[str] = []
    start = 0
    for m in _LEAD_END.finditer(text):
        if m.end() > start:
            piece = text[start : m.end()].strip()
            if piece:
                out.append(piece)
            start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return tuple(out)
