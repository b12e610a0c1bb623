"""Stage 4b — compose from the selected evidence (the extractive composer, no LLM).

Yes/no questions lead with the verdict the evidence gives ("不可以：客户经理不得泄露…[1]"); other
questions lead with the best sentences. Evidence that does not address the question is not quoted as
an answer: the reply says the knowledge base does not settle it (grounded=False).
"""

from __future__ import annotations

import logging
import re

from knowledge import lexicon
from knowledge.evidence import CONDITION, SKIPPED, Evidence
from knowledge.passages import terminate
from knowledge.question import no_word, yes_word
from knowledge.types import Answer

logger = logging.getLogger(__name__)

NO_ANSWER_TEXT = (
    "抱歉，知识库中没有找到与这个问题相关的内容，无法给出有依据的回答。"
    "建议换个说法再问，或向培训/合规同事确认。"
)
NOT_SETTLED_TEXT = (
    "知识库中没有对这个问题的明确规定，无法给出有依据的回答，请向合规部门或分行私人银行部门确认。"
)
UNDECIDED_TEXT = "资料未直接说明可以或不可以，相关规定如下（请结合实际情况向合规部门确认）："
#: A question proposing a restriction ("是不是只在…", "仅限…吗") and a rule stating none.
_ONLY = re.compile(r"(?:是不是|是否|难道)(?:只|仅)|(?:只|仅)(?:在|能|限|有)[^，。？?]{1,12}(?:吗|么|吧)")
_UNRESTRICTED = re.compile(r"24小时|全天候|不间断|全年无休|随时随地|不限次数|不限时")
_SLOT_LABELS = {
    "count": "具体次数",
    "discount": "具体折扣",
    "frequency": "具体频率或时限",
    "price": "收费标准",
    "threshold": "具体标准",
}


def no_answer(question: str) -> Answer:
    return Answer(question=question, lead=(NO_ANSWER_TEXT,), citations=(), grounded=False, composer="none")


def from_evidence(ev: Evidence) -> Answer:
    q = ev.question
    if not ev.relevant or not ev.lead:
        return no_answer(q.text)
    if ev.missing == "verdict":
        # The rule is about the action but says neither yes nor no ("客户经理…持续监控投资组合"): quote it
        # as a weak answer (the check stage marks it), never as a verdict.
        sentence, n = ev.lead[0]
        used = tuple(s.citation for s in ev.sources if s.n == n)
        related = (UNDECIDED_TEXT, f"{terminate(sentence)}[{n}]")
        return Answer(q.text, related, used, grounded=True, composer="extractive")
    if not ev.addressed:
        if _ONLY.search(q.text) and ev.lead and _UNRESTRICTED.search(ev.lead[0][0]):
            # "是不是只在上班时间…" against "提供24小时不间断的服务": the restriction asked about is
            # contradicted by the rule, whatever word the question used for the time or place.
            sentence, n = ev.lead[0]
            used = tuple(s.citation for s in ev.sources if s.n == n)
            denied = (f"{no_word(q)}：{terminate(sentence)}[{n}]",)
            return Answer(q.text, denied, used, grounded=True, composer="extractive", verdict="no")
        return _not_settled(ev)
    citations = tuple(s.citation for s in ev.sources)
    if ev.verdict is not None:
        sentence, n = ev.lead[0]
        body = f"{terminate(sentence)}[{n}]"
        if ev.verdict == "no":
            word = "不宜" if ev.marker in lexicon.DISCOURAGE else ("不需要" if _needs(ev) else no_word(q))
            direct: tuple[str, ...] = (f"{word}：{body}",)
        else:
            direct = (yes_word(q), body)
        return Answer(q.text, direct, citations, grounded=True, composer="extractive", verdict=ev.verdict)
    lead = tuple(f"{terminate(text)}[{n}]" for text, n in ev.lead)
    if ev.list_intro:
        lead = (ev.list_intro, *lead)
    return Answer(q.text, lead, citations, grounded=True, composer="extractive")


def _needs(ev: Evidence) -> bool:
    # "要不要…" answered by a prohibition is still 不可以; only a missing requirement is 不需要.
    if ev.marker in (CONDITION, SKIPPED):
        return False  # the question's case fails the rule's condition: a refusal, not "not required"
    return ev.question.asks_requirement and ev.marker not in lexicon.PROHIBIT


def _not_settled(ev: Evidence) -> Answer:
    q = ev.question
    if ev.missing in ("slot", "tier", "detail") and ev.lead:
        if ev.missing == "tier":
            first = (
                f"知识库未规定{q.subject_tier}客户的这项安排（资料只列明了其他等级），"
                "请向分行私人银行部门确认。"
            )
        else:
            # "detail": the passage's topic, not the slot asked, is what the question shares with it.
            label = _SLOT_LABELS.get(q.slot or "", "这一点") if ev.missing == "slot" else "这一点"
            first = f"知识库未规定{label}，请向分行私人银行部门确认。"
        related = tuple(f"相关规定：{terminate(text)}[{n}]" for text, n in ev.lead[:1])
        used = {n for _t, n in ev.lead[:1]}
        citations = tuple(s.citation for s in ev.sources if s.n in used)
        return Answer(
            q.text, (first, *related), citations, grounded=False, composer="none", verdict="not_stated"
        )
    return Answer(q.text, (NOT_SETTLED_TEXT,), (), grounded=False, composer="none", verdict="not_stated")
