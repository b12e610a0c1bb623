"""Stage 3 — select evidence: which retrieved sentences answer the question, and do they address what
was asked?

Sentences are scored by the question's words they hold (IDF-weighted, synonyms counted), discounted by
retrieval rank and by the document's authority (our rules outrank a peer bank's case study). Then the
question's demands are checked, so a near sentence is not passed off as the answer:

* focus: the lead must hold the question's topic words (回访, 礼物 …), not just its tier or generic words;
* slot: a "几次/几折/多久/多少钱" question needs a sentence that states a count/discount/period/price;
* action: a yes/no question ("能收吗") needs a sentence about that action (收受 …) and its modal word
  (不得/可以 …) gives the verdict.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from knowledge import answerable, authority, leads, lexicon, listing, polarity
from knowledge import question as q_mod
from knowledge.actions import action_terms as _action_terms
from knowledge.actions import find_action as _find_action
from knowledge.actions import single_focus as _single_focus
from knowledge.lexical import BM25Index, normalise, tokenize
from knowledge.manifest import StoredChunk
from knowledge.passages import Unit, excerpt, units
from knowledge.question import Question
from knowledge.retrieval import Candidate
from knowledge.types import Citation

logger = logging.getLogger(__name__)

#: Relevance gate, calibrated on the retrieval eval against off-topic questions (bench/bench_knowledge.py).
#: e5 cosines are compressed: unrelated Chinese text still scores ~0.80-0.88 against our corpus.
STRONG_DENSE = 0.885  # the best dense match alone is enough above this
MIN_DENSE = 0.85  # below this nothing counts
MIN_COVERAGE = 0.45  # in between, the best chunk must hold this share of the question's IDF mass
MIN_FOCUS = 0.5  # the lead (with its heading) must hold this share of the topic words' IDF mass
MIN_TERM_COVERAGE = 0.6  # below this, a lead lacking a key term no document uses is about something else
MAX_CITATIONS = 3
MAX_CANDIDATES = 7  # sentences are read from this many retrieved chunks
MAX_QUESTION_TOKENS = 48  # the rarest words of a long question are enough to weigh sentences
QUESTION_CHARS = 600  # sentences are weighed against this much of a long question
RANK_DECAY = 1.0  # unit scores from the n-th retrieved chunk are divided by (1 + RANK_DECAY * n)

_HAS_NUMBER = re.compile(
    r"\d|[一二两三四五六七八九十百千万亿半]+\s*(?:次|个|天|日|周|年|月|小时|万|元|%|人|家|项|位|张|条|份|倍|级|类|步)"
)
_SLOT_FILLERS = {
    "count": re.compile(r"[\d一二两三四五六七八九十]+\s*(?:次|个|项|类|本|张)|不限次数|一次"),
    "discount": re.compile(r"[\d一二三四五六七八九.]+\s*折|折扣|优惠"),
    "frequency": re.compile(
        r"每(?:年|月|季|季度|周|天|日|半年)|[\d一二两三四五六七八九十]+\s*(?:分钟|小时|天|日|个月|周|年)内?"
    ),
    "price": re.compile(r"免费|免收|收费|[\d,]+\s*元|不收"),
    "threshold": re.compile(r"\d+\s*万|\d+\s*元|门槛|以上|达到"),
}
#: "几号休息室", "几号开业": the number asked is one written with 号/日 (evidence only, not a question slot).
_ASKS_NUMBER = re.compile(r"几号|多少号")
_NUMBER_FILLER = re.compile(r"[\d一二两三四五六七八九十]+\s*[号日]")
#: `Evidence.marker` of a no decided by the rule's own exception or condition.
CONDITION = "condition"
#: `Evidence.marker` of a no to leaving undone what the rule requires ("能先不登记证件吗").
SKIPPED = "skipped"
_PUNCT = re.compile(r"[\s？?！!。，,、：:“”\"'（）()]")


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
    question: Question
    relevant: bool  # passed the relevance gate
    addressed: bool  # the lead addresses the question's focus / slot / action
    lead: tuple[tuple[str, int], ...]  # (sentence, source n)
    sources: tuple[Source, ...]
    verdict: str | None = None  # yes / no from the lead's modal word (yes/no questions)
    marker: str = ""  # that modal word ("不得", "可以" …)
    missing: str = ""  # why not addressed: "focus" | "slot" | "action" | "verdict" | "tier" | "subject"
    coverage: float = 0.0  # best chunk's share of the question's IDF mass
    focus: float = 0.0  # lead's share of the topic words' IDF mass
    top_dense: float = 0.0
    lead_authority: str = ""
    #: Share of the question's key terms (IDF-weighted, synonyms counted, words the corpus never uses
    #: included) that the lead sentence with its heading holds; `uncovered` lists the ones it lacks.
    term_coverage: float = 1.0
    key_terms: tuple[str, ...] = ()  # the question's key terms the coverage is measured on
    uncovered: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()  # uncovered key terms that no indexed document uses at all
    list_intro: str = ""  # the line naming every item of a list written as sections (compose leads with it)
    limit: str = ""  # the rule's exception/condition clause that decided a no ("但CA和ZH航班不提供…")
    candidates: tuple[Candidate, ...] = ()  # what selection read, best first (confidence features)
    lead_rank: int = 0  # index in `candidates` of the lead's passage


def _none(q: Question, *, coverage: float = 0.0, top_dense: float = 0.0) -> Evidence:
    return Evidence(q, False, False, (), (), coverage=coverage, top_dense=top_dense)


def select(
    q: Question,
    candidates: Sequence[Candidate],
    *,
    top_dense: float,
    index: BM25Index,
    tokenize_question: Callable[[str], list[str]],
    corpus: Sequence[StoredChunk] = (),
) -> Evidence:
    """Decide whether the candidates answer `q` and pick the lead sentences and quotes."""
    # One token per word for weighing (钻石客户 once, not also 钻石 and 客户); chunks are matched on
    # cut_for_search tokens, which include every compound and its parts.
    q_tokens = list(dict.fromkeys(tokenize_question(q.text[:QUESTION_CHARS])))
    if not q_tokens or not candidates:
        return _none(q, top_dense=top_dense)
    # Tokens the corpus never uses weigh like the rarest word: an off-topic question then has low coverage.
    unknown = math.log(1.0 + (len(index) + 0.5) / 0.5)
    weight = {t: (index.idf(t) or unknown) for t in q_tokens}
    if len(weight) > MAX_QUESTION_TOKENS:
        weight = dict(sorted(weight.items(), key=lambda kv: -kv[1])[:MAX_QUESTION_TOKENS])
    total = sum(weight.values())
    # A compound the chunk lacks still earns partial credit for its parts (机场贵宾 → 机场, 贵宾);
    # a synonym counts as the word itself (告诉 → 泄露).
    parts = {t: [p for p in tokenize(t) if p != t] for t in weight}
    alts = {t: (*lexicon.synonyms(t)[1:], *lexicon.related(t)) for t in weight}
    part_alts = {p: lexicon.synonyms(p) for ps in parts.values() for p in ps}
    single = _single_focus(q)
    # Topic words: not generic, and known to the corpus (a word no document uses cannot be matched; the
    # relevance gate has already weighed it).
    focus_words = {
        t: w
        for t, w in weight.items()
        if ((t not in lexicon.GENERIC_WORDS and len(t) > 1) or t in single)
        and any(index.idf(a) > 0 for a in (t, *alts[t], *parts[t]))
    }
    focus_total = sum(focus_words.values())

    def hit(t: str, tokens: frozenset[str] | set[str], text: str) -> float:
        if t in tokens or any(a in tokens or (len(a) > 1 and a in text) for a in alts[t]):
            return 1.0
        # A part counts by its synonyms too (违规操作 → 违规 → "不合规").
        partial = (
            0.8
            * sum(any(a in tokens or (len(a) > 1 and a in text) for a in part_alts[p]) for p in parts[t])
            / len(parts[t])
            if parts[t]
            else 0.0
        )
        if len(t) > 2:
            # 专家号 / 专家挂号: most of a longer word's characters in the sentence is nearly a match.
            chars = sum(c in text for c in t) / len(t)
            if chars >= 0.66:
                partial = max(partial, 0.8 * chars)
        return partial

    def matched(tokens: frozenset[str] | set[str], text: str, words: dict[str, float]) -> float:
        return sum(w * hit(t, tokens, text) for t, w in words.items())

    def chunk_tokens(c: Candidate) -> set[str]:
        return set(c.chunk.tokens) | set(tokenize(c.chunk.title))

    covs = [matched(chunk_tokens(c), c.chunk.text, weight) / total for c in candidates]
    best = max(range(len(candidates)), key=lambda i: (covs[i], -i))
    relevant = top_dense >= STRONG_DENSE or (covs[best] >= MIN_COVERAGE and top_dense >= MIN_DENSE)
    anchored = False
    if not relevant and top_dense >= MIN_DENSE:
        relevant = answerable.conduct_relevant(
            q, candidates, weight, total, index, lambda c, w: matched(chunk_tokens(c), c.chunk.text, w)
        )
        if not relevant:
            # On the topic of a passage but far from its words: the detail asked is not stated.
            relevant = anchored = answerable.anchored(q, q_tokens, candidates, index, top_dense)
    if not relevant:
        logger.debug("no evidence for %r: coverage %.2f dense %.3f", q.text[:80], covs[best], top_dense)
        return _none(q, coverage=covs[best], top_dense=top_dense)

    slot_re = _SLOT_FILLERS.get(q.slot or "")
    if slot_re is None and q.slot is None and _ASKS_NUMBER.search(q.text[: q_mod.MAX_CHARS]):
        slot_re = _NUMBER_FILLER
    subject = q.subject_tier
    wants_list = listing.wants_list(q.text[: q_mod.MAX_CHARS])
    action_terms, by_object = _action_terms(q)
    asked = _PUNCT.sub("", q.text[: q_mod.MAX_CHARS])
    titled = [_titled(c.chunk.heading, asked) for c in candidates]
    stem = q_mod.definition_stem(q)
    scored: list[tuple[float, int, int, Unit, float]] = []  # (score, candidate, unit, unit, focus)
    for ci, cand in enumerate(candidates[:MAX_CANDIDATES]):
        if covs[ci] < 0.5 * covs[best] and ci > 0:
            continue
        ch = cand.chunk
        context = set(tokenize(f"{ch.title} {ch.heading}"))
        trust = authority.weight(ch.authority, peer_question=q.peer_bank)
        factor = trust / (1.0 + RANK_DECAY * ci)
        for ui, unit in enumerate(units(ch.text)):
            own = matched(unit.tokens, unit.text, weight)
            ctx = matched(context | unit.tokens, unit.text + ch.heading, weight) - own
            score = (own + 0.4 * ctx) / total
            focus = (
                matched(context | unit.tokens, unit.text + ch.heading, focus_words) / focus_total
                if focus_total
                else 1.0
            )
            if focus_total and focus == 0:
                score *= 0.3  # a sentence without the topic words only looks relevant
            named = lexicon.tiers_in(unit.text)
            if subject and named and subject not in named:
                score *= 0.5  # "钻石客户每年5次" does not answer a question about 白金客户
                focus = -focus  # marks the conflict: never "focused", still findable as related text
            # Fit to the kind of answer asked for; not discounted by retrieval rank (the rank says how
            # well the passage matches the words, not whether it holds the number or list asked for).
            fit = 0.0
            if slot_re is not None and slot_re.search(unit.text):
                fit += 0.3
            elif q.kind == q_mod.AMOUNT and _HAS_NUMBER.search(unit.text):
                fit += 0.1
            if wants_list and focus > 0:
                fit += listing.topic_fit(
                    unit.text, ch.heading, lambda toks, text: matched(toks, text, focus_words)
                )
            if titled[ci]:
                fit += 0.3  # the section is titled with the question ("1+N模式是什么")
            verbatim = bool(stem) and stem in unit.text
            if verbatim:
                fit += 0.3  # the sentence holds what is asked about as written ("客户管理的核心")
            if action_terms and _find_action(unit, action_terms) >= 0:
                fit += 0.3
            # A verbatim definition is not discounted by retrieval rank either.
            score = (
                score * (trust if verbatim else factor) + fit * (1.0 if focus >= MIN_FOCUS else 0.3) * trust
            )
            if len(unit.text) < 6:
                score *= 0.5  # fragments such as "8" or a lone heading word
            if unit.text.rstrip("”’」』）) ").endswith(("？", "?")):
                score *= 0.5  # a question (e.g. from a course outline) does not answer a question
            scored.append((score, ci, ui, unit, focus))
    if not scored:
        return _none(q, coverage=covs[best], top_dense=top_dense)
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))

    verdict, marker, missing = None, "", ""
    focused = [s for s in scored if s[4] >= MIN_FOCUS]
    first = focused[0] if focused else scored[0]
    if action_terms:
        # The action is the focus of a yes/no question: the sentence must be about it.
        terms = action_terms
        with_action = [s for s in scored if _find_action(s[3], terms) >= 0]
        if not with_action:
            missing = "action"
        else:
            # The best sentence about the action that says yes or no; none: the question is not settled.
            befalls = q.action.startswith("被")  # "会被通报吗": what befalls the RM, not what they do
            objects = polarity.objects(q_mod.SKIP.sub("", q.action) if q.skips else q.action)
            for item in with_action[:6]:
                # A duty earlier in the sentence covers the action when the object names it, or when
                # the question asks to leave the action out ("应在开户环节…，做好客户身份验证").
                verdict, marker = polarity.verdict(
                    item[3].text,
                    terms,
                    focused=(by_object or q.skips or q.asks_requirement or befalls) and item[4] >= MIN_FOCUS,
                    consequence=befalls,
                )
                if verdict == "yes" and not polarity.names_all(item[3].text, objects):
                    # "可提供保守的投资组合" does not allow recommending 高风险产品: a yes must be about
                    # what the question names, a prohibition may be broader.
                    verdict, marker = None, ""
                if verdict is not None:
                    first = item
                    break
            else:
                first, missing = with_action[0], "verdict"
        if q.skips and verdict is not None:
            # "能先不登记证件吗" against "开户时应…登记身份证件": a duty may not be left undone; a
            # prohibition or a permission says nothing about leaving the action out.
            if verdict == "yes" and marker in lexicon.REQUIRE:
                verdict, marker = "no", SKIPPED
            else:
                verdict, marker, missing = None, "", "verdict"
    elif not focused:
        # Only sentences about other tiers: the rule for this tier is not written down.
        conflicts = [x for x in scored if x[4] <= -MIN_FOCUS]
        missing = "tier" if conflicts else "focus"
        if conflicts:
            first = conflicts[0]
    if not missing and q.kind == q_mod.YES_NO and not action_terms and subject:
        # "白金客户有投资顾问服务吗": a sentence granting it to that tier (and no other) says yes.
        verdict, marker = polarity.entitled(first[3].text, subject, [w for w in focus_words if len(w) > 1])
    if not missing and slot_re is not None:
        filled = [s for s in focused if slot_re.search(s[3].text)]
        if filled and filled[0][0] >= 0.5 * first[0]:
            first = filled[0]
        elif not slot_re.search(first[3].text):
            missing = "slot"
    limit_clause = ""
    if answerable.asks_yes_no(q) and missing in ("", "verdict") and verdict != "no":
        # The rule's own exceptions and conditions, against the case the question names.
        limited = answerable.limit(q, first, scored, candidates)
        if limited is not None:
            first, found = limited
            verdict, marker, missing, limit_clause = "no", CONDITION, "", found.clause
    if anchored:
        # Too far from the passage's words for its sentence to answer (or to say yes or no): quote it
        # as the related rule.
        verdict, marker, missing = None, "", "detail"
    key = answerable.key_terms(q, weight, single)
    asked_text = normalise(q.text[: q_mod.MAX_CHARS])
    nearby = "\n".join(c.chunk.text for c in candidates[: answerable.NEAR_CANDIDATES])
    cov = answerable.coverage(
        key, first[3], candidates[first[1]].chunk, hit, alts, parts, index, asked_text, nearby
    )
    uncovered, foreign, term_coverage = cov.uncovered, cov.foreign, cov.term_coverage
    if wants_list and listing.items(first[3].text) >= 3:
        # "涵盖哪些币种" answered by "美元、欧元、日元…": the kind of item is not the topic.
        foreign = tuple(t for t in foreign if not answerable.names_kind(q, t))
    if (
        foreign
        and not cov.specific
        and term_coverage < MIN_TERM_COVERAGE
        and verdict is None
        and missing in ("", "verdict", "slot")
    ):
        missing = "subject"  # the nearest topic is not the answer: not stated
    parents = [listing.parent_of(c.chunk.heading) for c in candidates]
    lead = (
        leads.gather(first, scored, q_tokens, slot_re, wants_list, parents, min_focus=MIN_FOCUS)
        if not missing
        else [first]
    )
    list_intro = ""
    if wants_list and not missing and verdict is None:
        # The sections of one counted heading may be the list asked for ("三个维度 > 维度一…").
        topic = [t for t in focus_words if len(t) > 1 and not listing.asks_list(t)]
        # A section must name every key term but the predicate ("出行这块给客户提供些啥" → 出行).
        key_topic = [t for t in key if not listing.asks_list(t) and not answerable.predicate(q, t)]
        sections = listing.sibling_sections([c.chunk for c in candidates[:MAX_CANDIDATES]], topic)
        opening = {s[1]: s for s in scored if s[2] == 0}  # a section's first sentence names its item
        granted = answerable.tier_list(subject, candidates, first) if subject else None
        if granted is not None:
            lead = [granted]
        elif sections and all(ci in opening for ci in sections):
            lead = [opening[ci] for ci in sections]
        elif corpus:
            listed = answerable.complete_list(candidates, corpus, key_topic, lead, hit)
            if listed is not None:
                candidates, lead, list_intro = listed
    order: list[int] = []
    for _s, ci, *_ in lead:
        if ci not in order:
            order.append(ci)
    if not missing:
        for ci in range(min(4, len(covs))):
            if len(order) >= MAX_CITATIONS:
                break
            if ci not in order and covs[ci] >= 0.7 * covs[best]:
                order.append(ci)
    best_unit = {ci: unit.text for _s, ci, _ui, unit, _f in reversed(scored)}  # highest score wins
    sources = tuple(
        Source(n=n, candidate=candidates[ci], excerpt=excerpt(candidates[ci].chunk.text, best_unit.get(ci)))
        for n, ci in enumerate(order, start=1)
    )
    n_of = {ci: n for n, ci in enumerate(order, start=1)}
    ordered = sorted(lead, key=lambda item: (n_of[item[1]], item[2]))  # read like the document
    return Evidence(
        question=q,
        relevant=True,
        addressed=not missing,
        lead=tuple((s[3].text, n_of[s[1]]) for s in ordered)
        if verdict is None
        else ((first[3].text, n_of[first[1]]),),
        sources=sources,
        verdict=verdict,
        marker=marker,
        missing=missing,
        coverage=covs[best],
        focus=abs(first[4]),
        top_dense=top_dense,
        lead_authority=candidates[first[1]].chunk.authority,
        term_coverage=round(term_coverage, 3),
        key_terms=tuple(key),
        uncovered=uncovered,
        foreign=foreign,
        limit=limit_clause,
        list_intro=list_intro,
        candidates=tuple(candidates[:MAX_CANDIDATES]),
        lead_rank=first[1],
    )


def _titled(heading: str, asked: str) -> bool:
    last = _PUNCT.sub("", heading.rsplit(">", 1)[-1])
    return len(last) >= 4 and last in asked
