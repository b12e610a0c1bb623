"""Answerability helpers of evidence selection (issue #17): is the lead about the question's case?

* key terms and their coverage: a lead that shares only common words with the question, while one of its
  key terms is a word no document uses, is about a nearby topic (`foreign`);
* a rule's exceptions and conditions read against the case the question names (`limit`, see conditions);
* a list the document writes as sub-sections of one heading (`section_list`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from knowledge import conditions, lexicon, listing
from knowledge import question as q_mod
from knowledge.lexical import BM25Index, tokenize
from knowledge.manifest import StoredChunk
from knowledge.passages import Unit, units
from knowledge.question import Question
from knowledge.retrieval import Candidate

logger = logging.getLogger(__name__)

#: A scored sentence of evidence selection: (score, candidate index, unit index, unit, focus).
Scored = tuple[float, int, int, Unit, float]
#: Sections are looked for among this many retrieved chunks (and their documents).
NEAR_CANDIDATES = 7
SPECIFIC_IDF = 3.0  # a word this rare in the corpus names a topic (服务, 以上 do not)
Hit = Callable[[str, set[str], str], float]  # evidence's match of a question word in a text (0…1)


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of the question's key terms a lead sentence (with its heading) holds."""

    term_coverage: float  # IDF-weighted share of the key terms held
    uncovered: tuple[str, ...]
    foreign: tuple[str, ...]  # uncovered terms no indexed document uses at all
    specific: bool  # a held key term is a specific word (not a common or quantity word)


def coverage(
    key: Mapping[str, float],
    unit: Unit,
    chunk: StoredChunk,
    hit: Hit,
    alts: Mapping[str, Sequence[str]],
    parts: Mapping[str, Sequence[str]],
    index: BM25Index,
) -> Coverage:
    """The lead's coverage of the key terms. A lead that shares only common words with the question (服务,
    以上) while a key term is one no document uses (接送机, 现金) is about a nearby topic; a shared specific
    word (保养, 权限) keeps it: RMs paraphrase (车子, 查看), and a lead holding the topic's word answers."""
    context = set(unit.tokens) | set(tokenize(f"{chunk.title} {chunk.heading}"))
    text = unit.text + chunk.heading + chunk.title
    uncovered = tuple(t for t in key if hit(t, context, text) < 0.5)
    absent = tuple(t for t in uncovered if foreign(t, alts[t], parts[t], index))
    share = 1.0 - sum(key[t] for t in uncovered) / sum(key.values()) if key else 1.0
    specific = any(
        max(index.idf(a) for a in (t, *alts[t], *parts[t])) >= SPECIFIC_IDF
        for t in key
        if t not in uncovered and t not in lexicon.QUANTITY_WORDS
    )
    return Coverage(share, uncovered, absent, specific)


def complete_list(
    candidates: Sequence[Candidate],
    corpus: Sequence[StoredChunk],
    topic: list[str],
    lead: list[Scored],
    hit: Hit,
) -> tuple[list[Candidate], list[Scored], str] | None:
    """The list the document writes as sub-headings of a section named like the question's topic
    ("机场贵宾服务都有啥" → 专属机场贵宾服务 > 全程专人引领 / 机票折扣 / …): every item is quoted, with the
    line naming them. None when no section fits, or when the lead is already a full list headed by the
    topic ("推广活动可分为七类：…"; one that has the topic as an item, "共八类：…、汽车维护、…", is not)."""
    listed = section_list(candidates, corpus, topic, hit)
    if listed is None:
        return None
    extended, items, parent = listed
    heads = [listing.head(s[3].text) for s in lead if listing.items(s[3].text) >= 3]
    if any(all(hit(t, set(tokenize(h)), h) >= 0.8 for t in topic) for h in heads):
        return None
    return extended, items, listing.intro(parent, items_chunks(extended, items))


def items_chunks(candidates: Sequence[Candidate], items: Sequence[Scored]) -> list[StoredChunk]:
    return [candidates[s[1]].chunk for s in items]


def section_list(
    candidates: Sequence[Candidate],
    corpus: Sequence[StoredChunk],
    topic: list[str],
    hit: Hit,
) -> tuple[list[Candidate], list[Scored], str] | None:
    """The first section (of a retrieved chunk, else of their documents) whose heading names every topic
    word, its sub-sections as lead items (each one's opening sentence), with the candidates extended by
    the sub-sections not retrieved."""
    if not topic:
        return None
    # Sections of the retrieved chunks first, then the other sections of their documents.
    sources = {c.chunk.source for c in candidates[:NEAR_CANDIDATES]}
    near = [c.chunk for c in candidates[:NEAR_CANDIDATES]]
    seen: set[str] = set()
    for chunk in [*near, *(c for c in corpus if c.source in sources)]:
        parent = listing.parent_of(chunk.heading)
        if parent in seen:
            continue
        seen.add(parent)
        name = listing.leaf(parent)
        tokens = set(tokenize(name))
        if not parent or not all(hit(t, tokens, name) >= 0.8 for t in topic):
            continue
        sections = listing.section_items(chunk, corpus)
        if not sections:
            continue
        extended = list(candidates)
        ids = {c.chunk.chunk_id: i for i, c in enumerate(extended)}
        lead: list[Scored] = []
        for section in sections:
            if section.chunk_id not in ids:
                ids[section.chunk_id] = len(extended)
                extended.append(Candidate(section, 0.0, 0.0, 0.0))
            opening = units(section.text)
            if opening:
                lead.append((1.0, ids[section.chunk_id], 0, opening[0], 1.0))
        return extended, lead, parent
    return None


_ASKS = re.compile(r"[吗么嘛][？?。！!\s]*$|[行能可好成对]不[？?。！!\s]*$|能不能|可不可以|有没有|是否")


def asks_yes_no(q: Question) -> bool:
    """A yes/no question, also one that asks for an amount with 吗 ("也有折扣吗")."""
    return q.kind == q_mod.YES_NO or bool(_ASKS.search(q.text[: q_mod.MAX_CHARS]))


def key_terms(q: Question, weight: Mapping[str, float], single: set[str]) -> dict[str, float]:
    """The question's key terms with their weights: content words of the clauses that ask."""
    asking = q_mod.asking_part(q.text[: q_mod.MAX_CHARS]).lower()
    return {
        t: w
        for t, w in weight.items()
        if t not in lexicon.GENERIC_WORDS and key(t, single) and t.lower() in asking
    }


def key(t: str, single: set[str]) -> bool:
    """A key term of the question: a content word (not a light verb, a question word or a particle)."""
    return (len(t) > 1 or t in single) and t not in lexicon.LIGHT_VERBS and not q_mod.is_question_word(t)


_MODAL_HEAD = "要能需可会该得"
_PARTICLE_TAIL = "是的了"


def foreign(t: str, alts: Sequence[str], parts: Sequence[str], index: BM25Index) -> bool:
    """No document uses the word, a synonym of it, or all of its parts; segmentation leftovers such as
    "要查" (要 + 查) or "法是" (…法 + 是) are judged by the word they hold."""
    if t.isascii() or any(index.idf(a) > 0 for a in (t, *alts)):
        return False  # Latin words may be codes or instructions around the question, not its topic
    if parts and all(index.idf(p) > 0 for p in parts):
        return False
    core = t[1:] if t[0] in _MODAL_HEAD else t[:-1] if t[-1] in _PARTICLE_TAIL else ""
    # A one-character leftover ("能约" → 约) is too short to say what the question is about.
    return not (core and (len(core) == 1 or any(index.idf(a) > 0 for a in lexicon.synonyms(core))))


def limit(
    q: Question, first: Scored, scored: list[Scored], candidates: Sequence[Candidate]
) -> tuple[Scored, conditions.Limit] | None:
    """The lead's passage read for an exception or condition that rules out the question's case; the
    sentence holding it becomes the lead."""
    ci = first[1]
    passage = list(units(candidates[ci].chunk.text))
    ordered = [first[3]] + [u for u in passage if u.text != first[3].text]
    found = conditions.limit(q.text[: q_mod.MAX_CHARS], [u.text for u in ordered])
    if found is None:
        return None
    unit = next(u for u in ordered if u.text == found.sentence)
    item = next((s for s in scored if s[1] == ci and s[3].text == unit.text), None)
    ui = next(i for i, u in enumerate(passage) if u.text == unit.text) if unit is not first[3] else first[2]
    return (item or (first[0], ci, ui, unit, first[4])), found
