"""The answer pipeline: understand → (rules) → retrieve → select evidence → compose → check.

Each stage is its own module with its own tests; this module only wires them, so the order of decisions
can be read in one place:

1. `question.understand`: type, slot, tiers, amount, client facts.
2. `rule_answers.answer`: lookups and arithmetic on the rule tables; when they cover the question the
   answer is exact and retrieval is skipped.
3. `retrieval.retrieve`: hybrid search (bounded cost for long questions).
4. `evidence.select`: lead sentences, authority, focus/slot/action checks, yes/no verdict.
5. `compose.from_evidence` (and `llm.compose` when configured), then `counts.revise` (a count asked
   against the rule's ceiling), `peer_cases.revise` (a case study never settles our own rule) and
   `confirm.revise` (a fact proposed by the question and stated by the rule unrestricted is a yes),
   `scope.revise` (a yes for a case outside the rule's scope is a no), `unstated.revise` (a detail no
   document mentions is not stated), `unnamed.revise` (a rule that describes the items asked for
   without naming them does not say which).
6. `check.check`: confidence, findings (承诺收益 …), citation consistency.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from knowledge import (
    check,
    compose,
    confirm,
    counts,
    evidence,
    lexicon,
    object_match,
    peer_cases,
    question,
    rule_answers,
    scope,
    unnamed,
    unstated,
)
from knowledge.index import Snapshot
from knowledge.retrieval import Retrieved
from knowledge.types import Answer, ClientFacts

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

#: Synonyms added to the BM25 query (a few: each one costs a posting list).
MAX_EXPANSION = 12


@dataclass(frozen=True, slots=True)
class Draft:
    """The deterministic part of an answer (cached per snapshot); the LLM, when configured, rephrases it."""

    answer: Answer
    evidence: evidence.Evidence | None


def draft(
    text: str,
    client: ClientFacts | None,
    *,
    snap: Snapshot,
    retrieve: Callable[[str, list[str], str], Retrieved],
    tokenize_question: Callable[[str], list[str]],
) -> Draft:
    q = question.understand(text, client)
    if not q.text:
        return Draft(compose.no_answer(q.text), None)
    ruled = rule_answers.answer(q, snap.rules)
    if ruled is not None:
        ruled = scope.required(q, scope.revise(q, confirm.revise(q, counts.revise(q, ruled), None)), None)
        return Draft(check.check(ruled, None), None)
    found = retrieve(q.text, expansion(q, tokenize_question), "hybrid")
    if q.action:
        # The rule on an action is often phrased far from the question ("能告诉吗" / "不得泄露"): a
        # BM25 search on the action's words alone adds the passages that use them.
        words = lexicon.expand(tokenize_question(q.action))
        extra = retrieve(" ".join(words), [], "bm25")
        seen = {c.chunk.chunk_id for c in found.candidates}
        more = [c for c in extra.candidates[:3] if c.chunk.chunk_id not in seen]
        found = Retrieved(found.candidates[:4] + more + found.candidates[4:], found.top_dense)
    ev = evidence.select(
        q,
        found.candidates,
        top_dense=found.top_dense,
        index=snap.bm25,
        tokenize_question=tokenize_question,
        corpus=snap.chunks,
    )
    composed = object_match.revise(q, compose.from_evidence(ev), ev)
    composed = peer_cases.revise(counts.revise(q, composed), ev, snap.chunks)
    composed = scope.required(q, unstated.revise(scope.revise(q, confirm.revise(q, composed, ev)), ev), ev)
    composed = unnamed.revise(composed, ev)
    return Draft(check.check(composed, ev), ev)


def expansion(q: question.Question, tokenize_question: Callable[[str], list[str]]) -> list[str]:
    """Synonyms and related document words for the BM25 query; the action of a yes/no question first,
    since its synonyms are what the rule is written in (告诉 → 泄露)."""
    words = tokenize_question(q.text[: question.MAX_CHARS])
    action = lexicon.expand_query(tokenize_question(q.action)) if q.action else []
    return [w for w in dict.fromkeys(action + lexicon.expand_query(words)) if w not in words][:MAX_EXPANSION]


def search_terms(text: str, tokenize_question: Callable[[str], list[str]]) -> list[str]:
    """The expansion `draft` gives the retrieval stage, for a plain search (`KnowledgeBase.search`), so
    that a search and an answer to the same words see the same candidates."""
    return expansion(question.understand(text), tokenize_question)


def finish(d: Draft, llm: BaseChatModel | None) -> Answer:
    """The served answer: the draft, rephrased by the LLM for plain extractive answers when configured."""
    ev = d.evidence
    if llm is None or ev is None or not d.answer.grounded or d.answer.composer != "extractive" or ev.verdict:
        return d.answer
    from knowledge import llm as llm_mod

    rephrased = llm_mod.compose(ev, llm=llm, fallback=d.answer)
    if rephrased is d.answer:
        return d.answer
    return check.check(rephrased, ev)
