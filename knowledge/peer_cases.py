"""A peer bank's case study never answers a question about this bank's own rule.

"咱行私行门槛是1000万吧" or "新来的RM都要去香港培训吗" answered from 招商银行's history would present another
bank's practice as ours. When the question does not name another bank and the answer's lead comes from a
case study (its document is ranked 同业案例, or the lead's passage names a peer bank), the reply says the
documents do not settle it for this bank and quotes the case for what it is, naming the bank.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from knowledge import authority, polarity
from knowledge.evidence import Evidence
from knowledge.manifest import StoredChunk
from knowledge.passages import terminate
from knowledge.types import Answer, Citation

logger = logging.getLogger(__name__)

#: Banks the case studies are about, in the order to name them ("招商银行" before "招行").
_BANKS = re.compile(r"招商银行|招行|中信银行|中信|瑞银|UBS|花旗银行|花旗|工商银行|工行|交通银行|交行")
#: The question asks whether something holds for this bank ("咱行", "我们", "本行").
_OWN = re.compile(r"咱行|咱们|我们|我行|本行|咱")
_CONFIRM = re.compile(r"吗|吧|对吧|是不是|有没有|是否")


def revise(answer: Answer, ev: Evidence | None, corpus: Sequence[StoredChunk] = ()) -> Answer:
    """`answer`, or a not-stated reply quoting the case study when a case study would settle it."""
    if ev is None or not answer.grounded or not ev.lead or ev.question.peer_bank:
        return answer
    q = ev.question
    sentence, n = ev.lead[0]
    source = next((s for s in ev.sources if s.n == n), None)
    if source is None:
        return answer
    chunk = source.candidate.chunk
    bank = _BANKS.search(sentence)
    asks_own = bool(_OWN.search(q.text)) and bool(_CONFIRM.search(q.text))
    if asks_own and bank is None:
        # "咱们是1+N模式吧": the lead defines the practice; the section it sits in says whose it is.
        section = chunk.heading.split(" > ")[0]
        # The section's own chunks come from the corpus: the one naming the bank ("…是招商银行私人银行的
        # 核心竞争力之一") is often not among those retrieved.
        near = [c.chunk for c in ev.candidates] + [c for c in corpus if c.source == chunk.source]
        texts = [chunk.text] + [c.text for c in near if c.heading.split(" > ")[0] == section]
        bank = next((m for m in map(_BANKS.search, texts) if m is not None), None)
    from_case = ev.lead_authority == authority.PEER_CASE or bank is not None
    if bank is None and asks_own and _background(q.text, sentence, ev.lead_authority):
        return _not_stated(q.text, sentence, n, source.citation, _BACKGROUND)
    if not from_case or bank is None:
        return answer
    if answer.verdict not in ("yes", "no") and not asks_own:
        return answer
    if answer.verdict == "no" and polarity.COUNTER_EXAMPLE.search(sentence):
        # The documents hold the case up as what not to do ("…不应效仿的反面案例"): the lesson is ours.
        return answer
    name = bank.group(0)
    return _not_stated(q.text, sentence, n, source.citation, f"{name}的案例（同业做法，不是本行制度）")


#: "咱行…是按1000万美元以上算吗": the question asks for this bank's own standard or rule.
_OWN_STANDARD = re.compile(r"咱行|我行|本行|(?:咱们|我们)(?:银行|行)|规定|制度")
#: A definition sentence: what a term means in the industry, not a rule the bank set.
_DEFINES = re.compile(r"是指|指的是|称为|定义为")
_BACKGROUND = "行业通行的一般定义（培训材料中的背景知识，不是本行制度）"


def _background(question: str, sentence: str, level: str) -> bool:
    """The lead is a general definition from background material while the question asks whether it is
    this bank's own standard: the documents define the term, not the bank's rule."""
    return (
        level != authority.OWN_RULE
        and bool(_OWN_STANDARD.search(question))
        and bool(_DEFINES.search(sentence))
    )


def _not_stated(question: str, sentence: str, n: int, citation: Citation, what: str) -> Answer:
    first = f"资料未规定本行是否如此，请向分行私人银行部门确认。资料中相关内容是{what}："
    return Answer(
        question,
        (first, f"{terminate(sentence)}[{n}]"),
        (citation,),
        grounded=False,
        composer="none",
        verdict="not_stated",
    )
