"""Conditions and exceptions of a rule, evaluated against what the question names.

A rule that grants something often limits it in the same passage: "…即可提前办理登机牌，但CA和ZH航班不提供",
"…享受该机票折扣的条件是客户须使用本行信用卡支付票款". A question naming an excluded case ("国航的航班") or a
case the condition rules out ("用别的银行的信用卡") is answered by that clause, as a no; a question that
names neither keeps the rule's yes (the clause is still quoted with it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge import lexicon
from knowledge.lexical import tokenize

logger = logging.getLogger(__name__)

_CLAUSES = re.compile(r"[，,；;。！？!?]")
# "但X不提供…" / "X不适用" : X is excluded.
_DENIED = re.compile(
    r"^(?:但是?|不过|其中|而)?(?P<who>[^，,；;。]{1,24}?)"
    r"(?:均|都|一律|暂)?(?:不提供|不适用|不享受|不享有|不参与|不支持|不包括|不包含|不办理|无法办理|不可办理)"
)
# "X除外" / "除X外" / "不含X" / "不包括X".
_EXCEPT = (
    re.compile(r"(?P<who>[^，,；;。：:]{1,24}?)除外"),
    re.compile(r"除(?:了)?(?P<who>[^，,；;。]{1,24}?)(?:以外|之外|外)"),
    re.compile(r"(?:不含|不包括|不包含)(?P<who>[^，,；;。]{1,24})"),
)
# "须/必须/仅限/限于/只限…本行…" : the rule requires the bank's own (card, account …).
_REQUIRES = re.compile(r"须|必须|需|仅限|限于|只限|只能|仅|条件")
_OWN = re.compile(r"本行|我行|本人")
# The question names someone else's instead: "别的银行的信用卡", "他行卡", "其他银行".
_OTHER = re.compile(r"(?:别的|其他|其它|另一家|别家|外|他)(?:银行|行|家)(?:的)?|非本行|跨行")
# The question names the bank's own: "我们行的", "咱行", "本行".
_OWN_ASKED = re.compile(r"(?:我们|咱们|咱|我|本)(?:银行|行)")
_JOINERS = re.compile(r"和|及|与|、|或|以及|/")
_NOT_NAMES = frozenset({"客户", "服务", "业务", "本行", "贵宾", "私人银行", "该", "此", "所有"})


@dataclass(frozen=True, slots=True)
class Limit:
    """A clause of the rule that says no to the case the question names."""

    clause: str  # the clause as written ("但CA和ZH航班不提供提前办理登机牌服务")
    sentence: str  # the sentence holding it (quoted as the answer)
    named: str  # what the question named that the clause rules out ("国航", "别的银行")


def _names(who: str) -> list[str]:
    """The cases an exception names: "CA和ZH航班" → CA, ZH (the shared head noun 航班 is not a case)."""
    pieces = [p.strip() for p in _JOINERS.split(who) if p.strip()]
    out: list[str] = []
    for i, piece in enumerate(pieces):
        words = [w for w in tokenize(piece, precise=True) if w.strip()]
        if len(pieces) > 1 and i == len(pieces) - 1 and len(words) > 1:
            words = words[:-1]  # "ZH航班": the head noun names the kind, not the case
        elif len(pieces) == 1 and len(words) > 1:
            words = words[:-1]
        out += [w for w in words if (len(w) > 1 or w.isascii()) and w not in _NOT_NAMES]
    return out


def _mentions(question: str, word: str) -> str:
    """The question's word for `word` (itself or a synonym), or ""."""
    lowered = question.lower()
    for alt in lexicon.synonyms(word):
        if alt and alt.lower() in lowered:
            a = re.escape(alt.lower())
            if alt.isascii() and re.search(rf"[a-z]{a}|{a}[a-z]", lowered):
                continue  # "CA" inside "CASH" is not the airline code
            return alt
    return ""


def excepted(sentence: str) -> str:
    """The first clause of `sentence` that excludes some case ("但CA和ZH航班不提供…", "X除外"), or ""."""
    for clause in (c.strip() for c in _CLAUSES.split(sentence)):
        if clause and (_DENIED.search(clause) or any(p.search(clause) for p in _EXCEPT)):
            return clause
    return ""


def exception(question: str, sentence: str) -> Limit | None:
    """The clause of `sentence` that excludes a case the question names ("国航" vs "CA和ZH航班不提供")."""
    for clause in (c.strip() for c in _CLAUSES.split(sentence)):
        if not clause:
            continue
        found = [m.group("who") for m in (_DENIED.search(clause), *(p.search(clause) for p in _EXCEPT)) if m]
        for who in found:
            for name in _names(who):
                named = _mentions(question, name)
                if named:
                    return Limit(clause, sentence, named)
    return None


def unmet(question: str, sentence: str, *, required: bool = False) -> Limit | None:
    """The condition of `sentence` the question's case fails: the rule requires the bank's own (本行信用卡)
    and the question names another bank's ("别的银行的信用卡"). `required`: the whole text is a condition
    (a rule table's 其他条件 cell), no 须/仅限 needed."""
    other = _OTHER.search(question)
    if other is None:
        return None
    return _own_condition(question, sentence, other.group(0), required=required)


def met(question: str, sentence: str, *, required: bool = False) -> Limit | None:
    """The condition of `sentence` the question proposes as a requirement: "是不是得用我们行的信用卡" and
    "须使用本行信用卡支付" (the question names the bank's own and the same thing)."""
    own = _OWN_ASKED.search(question)
    if own is None or _OTHER.search(question):
        return None
    return _own_condition(question, sentence, own.group(0), required=required)


def _own_condition(question: str, sentence: str, named: str, *, required: bool) -> Limit | None:
    for clause in (c.strip() for c in _CLAUSES.split(sentence)):
        if not required and not _REQUIRES.search(clause):
            continue
        own = _OWN.search(clause)
        if own is None:
            continue
        # What must be the bank's own: the words after 本行 ("信用卡支付票款"); the question must be about
        # the same thing ("信用卡") for its "别的银行" to contradict it.
        rest = [w for w in tokenize(clause[own.end() :], precise=True) if len(w) > 1]
        if rest and any(_mentions(question, w) or _same_card(question, w) for w in rest[:2]):
            return Limit(clause, sentence, named)
    return None


def _same_card(question: str, word: str) -> bool:
    """ "用别的行的卡付" is about the card the rule names ("本行信用卡"): another bank's card fails it."""
    return word.endswith("卡") and "卡" in question


def limit(question: str, sentences: Iterable[str]) -> Limit | None:
    """The first exception or unmet condition among `sentences` (a rule's passage) for the question."""
    for sentence in sentences:
        found = exception(question, sentence) or unmet(question, sentence)
        if found is not None:
            return found
    return None


def violated(question: str, condition: str) -> Limit | None:
    """A rule table's condition cell ("拨打96777预订并用本行信用卡付款", "CA和ZH航班除外") that the
    question's case fails."""
    return exception(question, condition) or unmet(question, condition, required=True)
