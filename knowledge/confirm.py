"""Confirmation questions ("贵宾休息室是不是不限次数", "开存款证明是免费的吧") get the yes they ask for.

A question that proposes a fact and asks whether it holds, answered by a rule that states that fact
without any restriction, is answered 是/可以 before the rule. The rule must hold every key term of the
question (the evidence stage measures it) and must not restrict or refuse (不提供, 仅, 取决于 …): a
partial match stays a plain quote, and anything not stated stays not stated.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from knowledge import lexicon, unstated
from knowledge.evidence import Evidence
from knowledge.question import LIST, Question, yes_word
from knowledge.types import Answer

logger = logging.getLogger(__name__)

_CONFIRM = re.compile(r"(?:吗|吧|么|嘛|不|没)[？?。！!\s]*$|是不是|有没有|是否|对不对|对吧")
_WH = re.compile(r"哪|什么|怎么|如何|怎样|多少|几|谁|为什么|啥|咋|多久")
#: A rule that restricts, refuses or leaves the case open does not confirm it.
#: What a rule must state to confirm a question about a quantity (费用 → 免费/元 …).
_SLOT_VALUES = {
    "price": re.compile(r"免|元|收费"),
    "count": re.compile(r"次|不限"),
    "discount": re.compile(r"折|优惠"),
    "frequency": re.compile(r"每[年月季周天日]|小时|天"),
}
_RESTRICTS = re.compile(
    "|".join(lexicon.PROHIBIT + lexicon.DISCOURAGE)
    + r"|不提供|不享有|不包括|不适用|不含|不再|取决于|资料未|未规定|没有规定|仅|只[有能限可]|除外|但"
)


def revise(q: Question, answer: Answer, ev: Evidence | None) -> Answer:
    """`answer` led by the yes a confirmation question asks for, when the rule states it unrestricted."""
    if not answer.grounded or answer.verdict is not None or q.kind == LIST:
        return answer
    head = q.text
    if not _CONFIRM.search(head) or _WH.search(head):
        return answer
    if answer.composer == "extractive":
        if ev is None or ev.missing or ev.list_intro:
            return answer
        if not all(unstated.is_filler(t) for t in ev.uncovered):
            return answer  # "是不是随便用": 随便 asks nothing the rule must state; a noun or verb does
    elif answer.composer != "rules" or q.asks_requirement or not _slot_answered(q, answer.answer):
        # A rule table row names the entitlement; a duty ("要客户自己出吗") or a quantity it does not
        # give (费用 of 旅游定制) is not confirmed by it.
        return answer
    if _RESTRICTS.search(answer.answer):
        return answer
    return dataclasses.replace(answer, lead=(yes_word(q), *answer.lead), verdict="yes")


def _slot_answered(q: Question, text: str) -> bool:
    pattern = _SLOT_VALUES.get(q.slot or "")
    return q.slot is None or (pattern is not None and bool(pattern.search(text)))
