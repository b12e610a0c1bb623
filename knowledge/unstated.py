"""A question about a detail no document mentions is not stated, even when a related rule is found.

"4S店基础保养包括换机油吗" or "私行开户要带哪些材料" retrieve the nearest rule (保养 once a year, 开户 KYC),
and quoting it as the answer would present a neighbouring topic as the reply. When a key term of the question
is used by no indexed document at all (`Evidence.foreign`) and the lead leaves much of the question
uncovered, the reply says the documents do not settle it and quotes the related rule as related.
"""

from __future__ import annotations

import dataclasses
import logging
import re

import jieba.posseg

from knowledge.evidence import Evidence
from knowledge.passages import terminate
from knowledge.types import Answer

logger = logging.getLogger(__name__)

#: Part-of-speech tags of a thing asked about (机油, 材料, 呼市); colloquial fillers (这块, 随便, 有人),
#: verbs and personal names (a client's name is not a topic) are not.
_THING_TAGS = frozenset({"n", "nz", "ns", "nt", "vn"})

#: Tag initials of adverbs, pronouns, numerals, measure words, particles, prepositions, conjunctions.
_FILLER_TAGS = frozenset("drmqupcyez")

_SAYS_UNSTATED = re.compile(r"资料(?:中)?(?:没有|未)(?:规定|写明|列明)")
#: Below this share of the question's key terms in the lead, a foreign term decides "not stated".
MAX_COVERAGE = 0.8


def revise(answer: Answer, ev: Evidence | None) -> Answer:
    """`answer`, or a not-stated reply when the question asks about something no document mentions."""
    if ev is None or not answer.grounded or answer.verdict is not None or not ev.lead:
        return answer
    if _SAYS_UNSTATED.match(ev.lead[0][0]):
        # The knowledge base itself says the documents do not define it ("资料没有规定…的资产标准").
        return dataclasses.replace(answer, verdict="not_stated")
    if not ev.foreign or ev.term_coverage >= MAX_COVERAGE:
        return answer
    things = [t for t in ev.foreign if _names_a_thing(t)]
    if not things:
        return answer
    sentence, n = ev.lead[0]
    terms = "、".join(things)
    first = f"资料未规定这一点（未提及：{terms}），请向分行私人银行部门确认。"
    citations = tuple(s.citation for s in ev.sources if s.n == n)
    return Answer(
        answer.question,
        (first, f"相关规定：{terminate(sentence)}[{n}]"),
        citations,
        grounded=False,
        composer="none",
        verdict="not_stated",
    )


def _names_a_thing(term: str) -> bool:
    return any(len(p.word) >= 2 and p.flag in _THING_TAGS for p in jieba.posseg.cut(term))


def is_filler(term: str) -> bool:
    """A colloquial word that asks nothing of its own (随便, 有人, 这块): adverbs, pronouns, measure words."""
    return all(p.flag[:1] in _FILLER_TAGS for p in jieba.posseg.cut(term))
