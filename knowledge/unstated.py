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
from knowledge.question import LIST, MAX_CHARS
from knowledge.types import Answer

logger = logging.getLogger(__name__)

#: Part-of-speech tags of a thing asked about (机油, 材料, 呼市); colloquial fillers (这块, 随便, 有人),
#: verbs and personal names (a client's name is not a topic) are not.
_THING_TAGS = frozenset({"n", "nz", "ns", "nt", "vn"})

#: Tag initials of adverbs, pronouns, numerals, measure words, particles, prepositions, conjunctions.
_FILLER_TAGS = frozenset("drmqupcyez")
#: Hedges jieba tags as attributes (主要 is "b"): "主要看X是吗" asks whether X holds, not about 主要.
_HEDGES = frozenset({"主要", "一般", "通常", "基本", "大概", "大致"})

_SAYS_UNSTATED = re.compile(r"资料(?:中)?(?:没有|未)(?:规定|写明|列明)")
#: The knowledge base's note inside a sentence that a detail is not written ("…，没有写明具体的处理要求").
_NOTES_UNSTATED = re.compile(r"(?:没有|未)(?:写明|规定|列明)具体")
_NUM = r"[\d一二两三四五六七八九十百半]+"
#: A question asking for a value (how long, how often, how many of a kind) and what a sentence must hold
#: to give it; "定期", "及时" or "相关" do not ("客户档案要保存多少年" vs "应及时更新客户档案").
_VALUES: tuple[tuple[re.Pattern[str], re.Pattern[str] | None, str], ...] = (
    (
        re.compile(r"多少年|几年|多久|多长时间|多少天|几天|几个月|多少个月|保存期|期限是"),
        re.compile(
            rf"{_NUM}\s*(?:个)?(?:工作)?(?:年|月|天|日|小时|周|星期|分钟)|长期|永久|终身|当[天日]|即时|实时"
        ),
        "具体期限",
    ),
    (
        re.compile(rf"{_NUM}?(?:个)?[年月季周]\S{{0,4}}还是\S{{0,4}}{_NUM}?(?:个)?[年月季周]"),
        re.compile(rf"每(?:{_NUM})?(?:个)?[年月季周天日]|{_NUM}\s*(?:个)?(?:年|月|季度|周)\S?{_NUM}次"),
        "具体频率",
    ),
    # "几家", "有24家": a count of branches, hospitals, people (not 几个, which asks for a list).
    (re.compile(rf"(?:(?<!哪)几|多少|有{_NUM})\s*(?P<unit>[家所名位])"), None, "具体数量"),
)
#: Below this share of the question's key terms in the lead, a foreign term decides "not stated".
MAX_COVERAGE = 0.8


def revise(answer: Answer, ev: Evidence | None) -> Answer:
    """`answer`, or a not-stated reply when the question asks about something no document mentions."""
    if ev is None or not answer.grounded or answer.verdict is not None or not ev.lead:
        return answer
    if _SAYS_UNSTATED.match(ev.lead[0][0]):
        # The knowledge base itself says the documents do not define it ("资料没有规定…的资产标准").
        return dataclasses.replace(answer, verdict="not_stated")
    if len(ev.lead) == 1 and ev.question.kind != LIST and _NOTES_UNSTATED.search(ev.lead[0][0]):
        return dataclasses.replace(answer, verdict="not_stated")
    label = _value_missing(ev)
    if label:
        return _related(answer, ev, f"资料未规定{label}，请向分行私人银行部门确认。")
    if not ev.foreign or ev.term_coverage >= MAX_COVERAGE:
        return answer
    things = [t for t in ev.foreign if _names_a_thing(t)]
    if not things:
        return answer
    terms = "、".join(things)
    return _related(answer, ev, f"资料未规定这一点（未提及：{terms}），请向分行私人银行部门确认。")


def _value_missing(ev: Evidence) -> str:
    """The label of the value the question asks for when no lead sentence gives one, else ""."""
    asked = ev.question.text[:MAX_CHARS]
    lead = "".join(text for text, _n in ev.lead)
    if ev.candidates and 0 <= ev.lead_rank < len(ev.candidates):
        # The value may follow in the lead's passage ("…首家中心在深圳开业。…已成立24家").
        lead += ev.candidates[ev.lead_rank].chunk.text
    for question, value, label in _VALUES:
        found = question.search(asked)
        if found is None:
            continue
        if value is None:
            value = re.compile(rf"{_NUM}\s*{found.group('unit')}")
        return "" if value.search(lead) else label
    return ""


def _related(answer: Answer, ev: Evidence, first: str) -> Answer:
    sentence, n = ev.lead[0]
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
    if term in _HEDGES:
        return True
    return all(p.flag[:1] in _FILLER_TAGS for p in jieba.posseg.cut(term))
