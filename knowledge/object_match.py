"""A yes/no lead is about the thing the question asks of (issue #17, answerability before verdict).

"别的银行卡付机票钱还能享受9.9折吗" once got "能。" quoting the beauty card's 6折: the lead sentence named
a discount, but another one. When the question names a value (9.9折) and the lead states a different value
of the same kind and never the asked one, the lead is about another object: the retrieved passage that
states the asked value answers instead (its condition evaluated against the question: "须使用本行信用卡"
against 别的银行卡 is a no), or, when none does, the verdict is withdrawn and the rule is only quoted.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from knowledge import conditions
from knowledge.compose import UNDECIDED_TEXT
from knowledge.evidence import Evidence
from knowledge.passages import terminate, units
from knowledge.question import MAX_CHARS, Question, no_word
from knowledge.types import Answer, Citation

logger = logging.getLogger(__name__)

#: A discount the question or a rule names ("9.9折", "六折", "6 折").
_DISCOUNT = re.compile(r"(\d+(?:\.\d+)?|[一二三四五六七八九](?:点[一二三四五六七八九])?)\s*折")
_DIGITS = str.maketrans("一二三四五六七八九点", "123456789.")
_CITE = re.compile(r"\[\d+\]")
#: The bare verdict word a lead starts with ("能。", "不可以。").
_VERDICT_PART = re.compile(r"^[^，。：:]{1,4}[。：:]$")
_PASSAGES = 3


def discounts(text: str) -> set[str]:
    """The discounts `text` names, as digits ("六折" → "6")."""
    return {m.group(1).translate(_DIGITS) for m in _DISCOUNT.finditer(text)}


def revise(q: Question, answer: Answer, ev: Evidence | None) -> Answer:
    """`answer` when its lead is about the value the question names; else the passage that states it."""
    if ev is None or answer.verdict not in ("yes", "no") or answer.composer != "extractive":
        return answer
    question = q.text[:MAX_CHARS]
    asked = discounts(question)
    stated = discounts(_CITE.sub("", "".join(answer.lead)))
    if not asked or not stated or asked & stated:
        return answer
    logger.debug("object: lead states %s, question asks %s", stated, asked)
    for cand in ev.candidates[:_PASSAGES]:
        sentences = [u.text for u in units(cand.chunk.text)]
        hit = next((s for s in sentences if asked & discounts(s)), None)
        if hit is None:
            continue
        ch = cand.chunk
        cite = Citation(n=1, source=ch.source, title=ch.title, text=ch.text, heading=ch.heading)
        found = conditions.limit(question, sentences)
        if found is None:
            return Answer(q.text, (UNDECIDED_TEXT, f"{terminate(hit)}[1]"), (cite,), grounded=True)
        quoted = dict.fromkeys((f"{terminate(hit)}[1]", f"{terminate(found.sentence)}[1]"))
        lead = (f"{no_word(q)}。", *quoted)
        return Answer(q.text, lead, (cite,), grounded=True, composer="extractive", verdict="no")
    rest = tuple(p for p in answer.lead if not _VERDICT_PART.match(p))
    return dataclasses.replace(answer, lead=(UNDECIDED_TEXT, *rest), verdict=None)
