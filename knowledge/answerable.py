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

import jieba.posseg

from knowledge import conditions, fragments, lexicon, listing
from knowledge import question as q_mod
from knowledge.actions import action_terms, find_action
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
#: A conduct question in colloquial words (`conduct_relevant`): share of its weight in words the documents
#: use, and the best passage's share of that.
MIN_KNOWN_SHARE, MIN_KNOWN_COVERAGE = 0.4, 0.5
SPECIFIC_IDF = 3.0  # a word this rare in the corpus names a topic (服务, 以上 do not)
#: A word this rare (a hotline number, 过节) is a passage's own term: a question using it is on its topic.
ANCHOR_IDF = 4.5
ANCHOR_CANDIDATES = 2
#: ... and the question must be near a passage by meaning: off-topic questions share rare everyday words
#: with some passage (股票, 酒店, 一份) but sit further from it.
ANCHOR_DENSE = 0.87
#: A task for the assistant ("帮我订一张机票", "给我写…") is not a question about the documents.
_TASK = re.compile(r"^(?:请|麻烦)?(?:帮我|给我|替我|帮忙|帮)")
#: Place and person names are not a topic of the bank's documents ("北京天气" is not about 北京's branch).
_NAME_TAGS = frozenset({"ns", "nr", "nrt", "nrfg"})
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
    asked: str = "",
    nearby: str = "",
) -> Coverage:
    """The lead's coverage of the key terms. A lead that shares only common words with the question (服务,
    以上) while a key term is one no document uses (接送机, 现金) is about a nearby topic; a shared specific
    word (保养, 权限) keeps it: RMs paraphrase (车子, 查看), and a lead holding the topic's word answers.
    `asked`: the question's text, where a term no document uses is read for a segmentation leftover
    ("贵宾区带客户" → 区带, see `fragments`) of words the lead or the `nearby` passages use."""
    context = set(unit.tokens) | set(tokenize(f"{chunk.title} {chunk.heading}"))
    text = unit.text + chunk.heading + chunk.title
    uncovered = tuple(t for t in key if hit(t, context, text) < 0.5)
    absent = tuple(
        dict.fromkeys(
            word
            for t in uncovered
            if foreign(t, alts[t], parts[t], index)
            for word in [_own_word(t, asked, text, text + nearby, index)]
            if word
        )
    )
    share = 1.0 - sum(key[t] for t in uncovered) / sum(key.values()) if key else 1.0
    specific = any(
        max(index.idf(a) for a in (t, *alts[t], *parts[t])) >= SPECIFIC_IDF
        for t in key
        if t not in uncovered and t not in lexicon.QUANTITY_WORDS
    )
    return Coverage(share, uncovered, absent, specific)


def _own_word(t: str, asked: str, text: str, evidence: str, index: BM25Index) -> str:
    """The word a foreign term stands for ("" for a leftover of its neighbours), still foreign or ""."""
    word = fragments.own_word(t, asked, evidence, lambda w: index.idf(w) > 0)
    if word == t or not word:
        return word
    parts = [p for p in tokenize(word) if p != word]
    return word if word not in text and foreign(word, lexicon.synonyms(word)[1:], parts, index) else ""


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
    topic ("推广活动可分为七类：…"; one that has the topic as an item, "共八类：…、汽车维护、…", is not, nor
    one that opens a section of the list without a count: "客户关怀还包括健康、教育、文化…" is one item)."""
    listed = section_list(candidates, corpus, topic, hit)
    if listed is None:
        return None
    extended, items, parent = listed
    inside = {candidates[s[1]].chunk.chunk_id for s in items if s[1] < len(candidates)}
    heads = [
        listing.head(s[3].text)
        for s in lead
        if listing.items(s[3].text) >= 3
        and (listing.counted(s[3].text) or candidates[s[1]].chunk.chunk_id not in inside)
    ]
    if any(all(hit(t, set(tokenize(h)), h) >= 0.8 for t in topic) for h in heads):
        return None
    return extended, items, listing.intro(parent, items_chunks(extended, items))


_ASIDE = re.compile(r"（[^（）]*）|\([^()]*\)")
_GRANTS = re.compile(r"享有|享受|可获得|配有")


def tier_list(tier: str, candidates: Sequence[Candidate], first: Scored) -> Scored | None:
    """A list question about one tier ("白金客户的服务有哪些") whose best sentence is about several tiers
    ("把客户分为钻石客户、白金客户和黄金客户三类…": the tiers are its items) or about another tier is
    answered by the sentence that grants that tier its list ("白金客户享有A、B、C和D"); asides in brackets
    do not count as tiers."""
    named = lexicon.tiers_in(_ASIDE.sub("", first[3].text))
    if not named or named == (tier,):
        return None  # a best sentence about this tier alone, or about no tier, is about the topic asked
    for ci, cand in enumerate(candidates[:NEAR_CANDIDATES]):
        for ui, unit in enumerate(units(cand.chunk.text)):
            text = _ASIDE.sub("", unit.text)
            if (
                lexicon.tiers_in(text) == (tier,)
                and _GRANTS.search(text)
                and (listing.items(text) >= 3 or listing.is_enumeration(text))
            ):
                return (first[0], ci, ui, unit, 1.0)
    return None


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


_LIST_WORD = r"(?:哪些|哪几[个类种项样块件]?|什么|啥)"


def names_kind(q: Question, t: str) -> bool:
    """In a list question, the word right after the list word names the kind of item ("涵盖哪些币种",
    "要交什么证件"): an enumeration lists its items without that word."""
    asking = q_mod.asking_part(q.text[: q_mod.MAX_CHARS]).lower()
    return bool(re.search(_LIST_WORD + re.escape(t.lower()), asking))


def predicate(q: Question, t: str) -> bool:
    """In a list question, the word right before the list word is what is done with the items ("提供些啥",
    "都寄些什么", "要核对什么"), not the topic a section heading names."""
    asking = q_mod.asking_part(q.text[: q_mod.MAX_CHARS]).lower()
    return bool(re.search(re.escape(t.lower()) + r"(?:都|一)?些?" + _LIST_WORD, asking))


def key(t: str, single: set[str]) -> bool:
    """A key term of the question: a content word (not a light verb, a question word, a particle or a
    deictic such as 这块)."""
    return (
        (len(t) > 1 or t in single)
        and t not in lexicon.LIGHT_VERBS
        and not q_mod.is_question_word(t)
        and not lexicon.filler(t)
    )


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


def conduct_relevant(
    q: Question,
    candidates: Sequence[Candidate],
    weight: dict[str, float],
    total: float,
    index: BM25Index,
    matched: Callable[[Candidate, dict[str, float]], float],
) -> bool:
    """A yes/no question about what the RM may do, in an RM's own words ("客户资料能发给老同学帮忙看看吗"):
    colloquial words no document uses (老同学, 帮忙) weigh like the rarest word and sink its coverage. It is
    still about the documents when they know its act (发给 as 泄露), most of its weight is in words they
    use, a retrieved passage holds most of those, and a retrieved sentence is about its action. Off-topic
    yes/no questions (will a share price rise) fail: their words and acts are not the documents'."""
    terms, _by_object = action_terms(q)
    if not terms or not total or not any(index.idf(a) > 0 for a in lexicon.synonyms(terms[0])):
        return False  # the act asked about must be one the documents know ("请假去旅游" is not)
    known = {
        t: w
        for t, w in weight.items()
        if not lexicon.filler(t)
        and any(index.idf(a) > 0 for a in (t, *lexicon.synonyms(t)[1:], *lexicon.related(t)))
    }
    known_total = sum(known.values())
    # One-character words no document uses (问, 跟) are grammar, not topic: they do not dilute the share.
    weighed = sum(w for t, w in weight.items() if not lexicon.filler(t) and (len(t) > 1 or t in known))
    if known_total < MIN_KNOWN_SHARE * min(total, weighed):
        return False
    best = max(matched(c, known) for c in candidates) / known_total
    return best >= MIN_KNOWN_COVERAGE and any(
        find_action(unit, terms) >= 0 for c in candidates[:NEAR_CANDIDATES] for unit in units(c.chunk.text)
    )


def anchored(
    q: Question, tokens: Sequence[str], candidates: Sequence[Candidate], index: BM25Index, top_dense: float
) -> bool:
    """A question the relevance gate finds too far from every passage is still on the documents' topic
    when it uses a word only a passage or two use (96777, 过节) and a top retrieved passage holds it: the
    documents cover the topic, not the detail asked ("96777几点到几点有人接"), so the reply is "not stated"
    with that rule, not a refusal. Off-topic questions share no such word (股价, 天气 are in no document)."""
    if top_dense < ANCHOR_DENSE or _TASK.match(q.text):
        return False
    top = [set(c.chunk.tokens) for c in candidates[:ANCHOR_CANDIDATES]]
    for t in tokens:
        if len(t) < 2 or lexicon.filler(t) or index.idf(t) < ANCHOR_IDF or _is_name(t):
            continue
        if any(t in held for held in top):
            return True
    return False


def _is_name(word: str) -> bool:
    return any(p.flag in _NAME_TAGS for p in jieba.posseg.cut(word))
