"""Answers that compare a count in the question with the count the rule allows.

"专家号一年能约8次吗" answered by "每年5次" is 不能, not 能: the rule sets a ceiling, so a yes/no question
asking for more than it is refused, one asking for no more is allowed. "约了3次了还能约几次" is the ceiling
minus the uses. The rule's count is read from the answer's own cited sentences, so nothing is stated
that the documents do not say; when the answer quotes more than one ceiling (a list) nothing changes.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from knowledge.numerals import chinese_int
from knowledge.question import YES_NO, Question, verdict_words
from knowledge.types import Answer

logger = logging.getLogger(__name__)

_NUM = r"[0-9一二两三四五六七八九十]+"
_UNIT = r"(?:次|回|遍)"
#: "约了3次", "已经用了两回", "约满5次了", "用过2次", "已约4次": uses already made.
_USED = re.compile(
    rf"(?:[了过满]|已经?[^\d，。,？?！!\s]{{0,3}}?)\s*({_NUM})\s*{_UNIT}|(?<![第\d])({_NUM})\s*{_UNIT}\s*了"
)
#: "能约8次", "第6次", "两回": the count asked about (not one preceded by 了/过, which is a use).
_ASKED = re.compile(rf"(?<![了过满\d])(第)?\s*({_NUM})\s*{_UNIT}")
#: "还能再约吗" after the uses: one more.
_ONE_MORE = re.compile(r"还|再|继续")
#: "是不是不限次", "是无限次的吗", "次数不限吗": the question proposes that the uses are unlimited.
_UNLIMITED = re.compile(
    r"(?:不限|无限|不封顶)(?:制)?(?:次|使用)|次数(?:不限|无限|没有?限制?)|没有次数限制|随便用"
)
#: The rule says so ("使用贵宾休息室不限次数").
_RULE_UNLIMITED = re.compile(r"不限(?:制)?次数?|次数不限|无限次")
_ASKS_BE = re.compile(r"是不是|是否|是.{0,12}吗")
_HOW_MANY = re.compile(rf"几\s*{_UNIT}|多少\s*{_UNIT}")
#: The rule's ceiling in the cited text: "每年5次", "每年可在…免费体检一次", "每年12次（十二次）".
_CEILING = re.compile(rf"每(年|月|季度?)[^。；;]*?({_NUM})\s*次")
_PERIOD_ASKED = re.compile(r"(年|月|季)")
_CITE = re.compile(r"\[\d+\]")
#: A direct reply the composers put first ("能。", "可以。", "资料未直接说明…："): replaced by the new one.
_DIRECT = re.compile(r"(?:^|(?<=：))(?:能|可以|会|有|需要|不能|不可以|没有|不会)[。：:]")


def revise(q: Question, answer: Answer) -> Answer:
    """`answer` with the verdict (or remaining count) the rule's ceiling gives, when it applies."""
    if not answer.grounded or answer.verdict == "not_stated":
        return answer
    text = q.text
    if q.kind == YES_NO and _UNLIMITED.search(text):
        return _unlimited(q, answer)
    used_m = _USED.search(text)
    used = chinese_int(used_m.group(1) or used_m.group(2)) if used_m else None
    asked_m = next((m for m in _ASKED.finditer(text) if used_m is None or _apart(m, used_m)), None)
    ceiling = _ceiling(answer.answer)
    if ceiling is None:
        return answer
    period, limit = ceiling
    asked_period = _PERIOD_ASKED.findall(text)
    if asked_period and period[0] not in asked_period and "今年" not in text:
        return answer  # "一个月几次" against a yearly ceiling: not comparable
    if used is not None and asked_m is None and _HOW_MANY.search(text):
        left = max(limit - used, 0)
        note = f"按每{period}{limit}次计，已用{used}次，还可{left}次（以实际使用记录为准）。"
        return dataclasses.replace(answer, lead=(note, *answer.lead))
    if q.kind != YES_NO or _HOW_MANY.search(text):
        return answer
    if asked_m is None:
        if used is None or not _ONE_MORE.search(text[used_m.end() if used_m else 0 :]):
            return answer
        total = used + 1  # "已经约满5次了 还能再约吗": one more use
    else:
        asked = chinese_int(asked_m.group(2))
        if asked is None:
            return answer
        total = asked if asked_m.group(1) or used is None else used + asked
    yes, no = verdict_words(q)
    verdict = "yes" if total <= limit else "no"
    body = _body(answer)
    if verdict == "no":
        lead: tuple[str, ...] = (f"{no}：每{period}最多{limit}次。", *body)
    else:
        lead = (f"{yes}。每{period}{limit}次。", *body)
    return dataclasses.replace(answer, lead=lead, verdict=verdict)


def _apart(a: re.Match[str], b: re.Match[str]) -> bool:
    return a.end() <= b.start() or b.end() <= a.start()


def _unlimited(q: Question, answer: Answer) -> Answer:
    """ "是不是不限次": yes when the cited rule says 不限次数, no (with the count) when it sets a ceiling."""
    yes, no = ("是", "不是") if _ASKS_BE.search(q.text) else verdict_words(q)
    body = _body(answer)
    cited = _CITE.sub("", answer.answer)
    if _RULE_UNLIMITED.search(cited):
        return dataclasses.replace(answer, lead=(f"{yes}，不限次数。", *body), verdict="yes")
    ceiling = _ceiling(answer.answer)
    if ceiling is None:
        return answer
    period, limit = ceiling
    return dataclasses.replace(answer, lead=(f"{no}：每{period}最多{limit}次。", *body), verdict="no")


def _ceiling(text: str) -> tuple[str, int] | None:
    found = {(m.group(1)[0], chinese_int(m.group(2))) for m in _CEILING.finditer(_CITE.sub("", text))}
    values = {(p, n) for p, n in found if n is not None}
    if len(values) != 1:
        return None
    return next(iter(values))


def _body(answer: Answer) -> tuple[str, ...]:
    from knowledge.compose import UNDECIDED_TEXT

    out: list[str] = []
    for part in answer.lead:
        if part == UNDECIDED_TEXT:
            continue
        part = _DIRECT.sub("", part)
        if part:
            out.append(part)
    return tuple(out)
