"""A question asking which ones ("指定的是哪几家医院") is not answered by a rule that names none.

The rule "客户每年可在指定的三级甲等医院免费体检一次" is about the hospitals, but it describes them (指定的,
相关, 合作的) instead of naming them: quoted as the answer, it reads as if it said which. When every mention
of the kind of thing asked for in the lead is such a description, the reply says the documents do not name
them (what kind of item it is stays a grounded answer) and quotes the rule.
"""

from __future__ import annotations

import logging
import re

from knowledge.evidence import Evidence
from knowledge.passages import terminate
from knowledge.question import MAX_CHARS
from knowledge.types import Answer

logger = logging.getLogger(__name__)

#: "哪几家医院", "哪些机构", "哪个部门": the question word and the kind of item it asks to be named.
_WHICH = re.compile(r"哪(?:几?[家个所位种类款只]|些)?(?P<kind>[\u4e00-\u9fff]{1,4})")
#: Asides in brackets ("（三甲医院）") restate the description; they are not names.
_ASIDE = re.compile(r"（[^（）]*）|\([^()]*\)")
_TAIL = re.compile(r"[呢吗啊呀吧的]+$")
#: A description in place of names: the items are designated, related or partners, not listed.
_GENERIC = re.compile(r"指定|相关|合作|特约|签约|特定|有关")
#: How far before the kind a description may start ("指定的三级甲等医院").
WINDOW = 8


def revise(answer: Answer, ev: Evidence | None) -> Answer:
    """`answer`, or a not-stated reply when the lead only describes the items the question asks to name."""
    if ev is None or not answer.grounded or answer.verdict is not None or not ev.lead:
        return answer
    found = _WHICH.search(ev.question.text[:MAX_CHARS])
    if found is None:
        return answer
    asked = _TAIL.sub("", found.group("kind"))
    sentence, n = ev.lead[0]
    # The kind is the noun the question word opens ("哪些医院做" → 医院, "哪家合作机构" → 机构).
    kinds = [asked[:i] for i in range(len(asked), 0, -1)] + [asked[-2:]]
    kind = next((k for k in kinds if k in sentence), "")
    described = _described(sentence, kind) if kind else ""
    if not described:
        return answer
    # Grounded: the rule does answer what kind of item it is ("三级甲等医院"), only not which ones.
    first = f"资料只说“{described}”，未写明具体是哪些{kind}，请向分行私人银行部门确认。"
    return Answer(
        answer.question,
        (first, f"相关规定：{terminate(sentence)}[{n}]"),
        answer.citations,
        grounded=True,
        composer=answer.composer,
        verdict="not_stated",
    )


def _described(sentence: str, kind: str) -> str:
    """The description ("指定的三级甲等医院") when every mention of `kind` in the sentence is one; ""
    when the sentence names the items or does not mention them."""
    sentence = _ASIDE.sub("", sentence)
    spans = [m.start() for m in re.finditer(re.escape(kind), sentence)]
    if not spans or "、" in sentence:
        return ""
    phrases = []
    for start in spans:
        window = re.split(r"[，,。；;：:]", sentence[max(0, start - WINDOW) : start])[-1]
        generic = _GENERIC.search(window)
        if generic is None:
            return ""
        phrases.append(window[generic.start() :] + kind)
    return phrases[0]
