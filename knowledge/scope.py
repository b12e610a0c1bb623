"""A yes checked against the scope the question names (issue #17, answerability before verdict).

A rule that grants something names whom, where and how much: "日均金融资产达到3000万元以上的客户…12次",
"在指定的三级甲等医院", "在呼和浩特机场", "每季度一本专刊", "六折". A question that asks for more than that
is not answered by the grant:

* a universal case ("所有客户", "每个机场") against a rule restricted to some of them (an asset condition,
  a tier, 指定, a named place);
* another kind of the same thing ("社区医院") against a rule naming a specific kind ("指定的三级甲等医院");
* a different value: 不限次数 against "每年5次", 免费 against "六折", 每月 against "每季度" for the item asked
  about.

The yes becomes a no (the rule's sentence, which states the condition, stays quoted). The check reads only
the cited text, so nothing is stated that the documents do not say.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import jieba.posseg

from knowledge import answerable, conditions, lexicon, object_match
from knowledge.compose import UNDECIDED_TEXT
from knowledge.entitlement_status import states_met
from knowledge.evidence import Evidence
from knowledge.passages import terminate, units
from knowledge.question import MAX_CHARS, Question, no_word, yes_word
from knowledge.types import Answer, Citation

logger = logging.getLogger(__name__)

_CLAUSES = re.compile(r"[，,；;。！？!?\n]")
_CITE = re.compile(r"\[\d+\]")
#: "所有客户", "全国所有机场", "每个私行客户": the question claims the grant for every one of them.
_UNIVERSAL = re.compile(r"所有|全部|任何|凡是|每一?[个位家]")
#: Words in front of a noun that narrow it to some of its kind.
_RESTRICTS = re.compile(r"以上|以下|达到|满足|指定|特定|仅|只[有限能]|限于|部分|符合|三级甲等")
#: Where the modifier of a noun starts in a rule's clause ("…可在指定的三级甲等医院": after 在).
_MODIFIER_START = re.compile(r"适用于|面向|可在|在|到|对于|对|给")
#: Noun-like part-of-speech tags (jieba): the head a quantifier or a modifier applies to.
_NOUN_TAGS = ("n", "vn", "j", "s")
_PLACE_TAGS = frozenset({"ns", "nr", "nt", "nz"})
#: Modifiers that name a kind: places, distinguishing words (私立), adjectives (普通); not numerals.
_KIND_TAGS = _PLACE_TAGS | {"b", "a"}
#: Modifiers that do not name a kind of their own (the bank, the client group, fillers).
_NOT_KINDS = frozenset(
    {"私行", "私人", "银行", "本行", "我行", "客户", "贵宾", "私行卡", "那个", "这个", "咱们"}
)
#: "张总日均6000万": a person the question is about (a client), not a kind of the noun after it.
_PERSON = re.compile(r"(?:总|董|先生|女士|小姐|老板|阿姨|叔叔?|老师)$")
_UNLIMITED = re.compile(r"不限次数?|无限次?|不限量|次数不限|没有次数限制|随便(?:用|约|洗|去)")
_COUNTED = re.compile(r"[\d一二两三四五六七八九十]+\s*次")
#: 免费 in the question; "白洗车" is the colloquial "free car wash" (白 before a verb, not 白金).
_FREE = re.compile(r"免费|全免|免单|白(?=[洗用拿送看住吃做约])|不要钱|不花钱|不收钱")
_DISCOUNT = re.compile(r"[\d一二三四五六七八九.]+\s*折|折扣|打折")
_FREE_RULE = re.compile(r"免费|免收|免")
_FREQUENCY = re.compile(r"每一?个?(年|月|季度?|周|星期|天|日)")
_SAME_PERIOD = {"季度": "季", "星期": "周", "日": "天"}
#: A quoted rule that grants something (only then does its scope say no to another case).
_GRANTS = re.compile(r"可享受|可在|享受|享有|提供|赠送|可以|可")
#: Retrieved passages read for a condition the question proposes.
_REQUIRED_PASSAGES = 3
_ASKS_IS = re.compile(r"是不是|是否|是.{1,12}吗")


@dataclass(frozen=True, slots=True)
class Conflict:
    """What the question names that the rule's text does not grant."""

    named: str  # the question's words ("所有机场", "社区医院", "不限次数")
    clause: str  # the rule's clause that limits it ("本行贵宾客户在呼和浩特机场")


def revise(q: Question, answer: Answer) -> Answer:
    """`answer` with its yes turned into a no when the question names a case outside the rule's scope; a
    yes/no question answered by a quoted grant ("…可在指定的三级甲等医院…体检") is checked the same way."""
    if not answer.grounded or answer.verdict not in ("yes", None):
        return answer
    lead = tuple(part for part in answer.lead if part != UNDECIDED_TEXT)
    # A met condition the lead states ("日均6000万元满足…5000万元以上的条件") is not a restriction of the
    # rule: read against it, the question's own case would contradict the verdict it supports.
    text = _CITE.sub("", "".join(part for part in lead if not states_met(part)))
    if answer.verdict is None and not (answerable.asks_yes_no(q) and _GRANTS.search(text)):
        return answer
    # The condition the lead says the question's case meets ("日均4000万元满足日均金融资产3000万元以上的
    # 条件") no longer restricts whom the rule is for: "黄金客户日均4000万" is not another kind of 客户
    # than "3000万元以上的客户". A value the question names (不限次数 vs 每年12次) still conflicts.
    met = met_conditions(lead)
    for cond in met:
        text = text.replace(f"{cond}的", "").replace(cond, "")
    found = conflict(q.text[:MAX_CHARS], text, values=answer.verdict == "yes")
    if found is None:
        return answer
    logger.debug("scope: %r outside %r", found.named, found.clause)
    # A no beside the lead's own "满足…的条件" says what else excludes the case.
    beyond = (f"但规定中没有“{found.named}”。",) if met else ()
    return dataclasses.replace(answer, lead=(*_led_by_no(q, lead), *beyond), verdict="no")


_MET_CONDITION = re.compile(r"满足(?P<cond>[^。；]+?)的条件")


def met_conditions(lead: tuple[str, ...]) -> list[str]:
    """The rule conditions the lead's own sentences say the question's case meets."""
    return [m.group("cond") for part in lead if states_met(part) for m in _MET_CONDITION.finditer(part)]


def required(q: Question, answer: Answer, ev: Evidence | None) -> Answer:
    """A requirement the question proposes ("是不是得用我们行的信用卡付") that a condition of the retrieved
    rule states ("…的条件是客户须使用本行信用卡支付票款"), for a question left undecided or unsettled: 需要,
    with that sentence quoted. (Another bank's card is not answered here: paying with it may be possible,
    only the benefit needs the bank's own.)"""
    if not q.asks_requirement:
        return answer
    if ev is None and answer.composer == "rules" and answer.grounded and answer.verdict is None:
        # A rule-table row: its condition cell is quoted in the lead ("（拨打96777预订并用本行信用卡付款）").
        if conditions.met(q.text[:MAX_CHARS], _CITE.sub("", answer.answer), required=True) is None:
            return answer
        return dataclasses.replace(answer, lead=(yes_word(q), *answer.lead), verdict="yes")
    if ev is None or not ev.relevant:
        return answer
    if answer.verdict not in (None, "not_stated") or (answer.grounded and answer.verdict is not None):
        return answer
    for cand in ev.candidates[:_REQUIRED_PASSAGES]:
        for unit in units(cand.chunk.text):
            if conditions.met(q.text[:MAX_CHARS], unit.text) is None:
                continue
            ch = cand.chunk
            cite = Citation(n=1, source=ch.source, title=ch.title, text=ch.text, heading=ch.heading)
            lead = (yes_word(q), f"{terminate(unit.text)}[1]")
            return Answer(q.text, lead, (cite,), grounded=True, composer="extractive", verdict="yes")
    return answer


def conflict(question: str, rule: str, *, values: bool = True) -> Conflict | None:
    """The first case the question names that `rule` (the cited text of a yes) does not cover; `values`:
    also a count, price or period the rule does not give."""
    found = _universal(question, rule) or _other_kind(question, rule)
    return found or (_other_value(question, rule) if values else None)


_YES = re.compile(r"(?:^|(?<=：))(?:可以|能|会|有|是|需要)[。：:]")


def _led_by_no(q: Question, lead: tuple[str, ...]) -> tuple[str, ...]:
    head = q.text[:MAX_CHARS]
    word = "不是" if _ASKS_IS.search(head) and not q.modal else no_word(q)
    out = list(lead)
    for i, part in enumerate(out):
        if _YES.search(part):
            out[i] = _YES.sub(f"{word}。", part, count=1)
            return tuple(out)
    return (f"{word}。", *out)


def _clauses(text: str) -> Iterator[str]:
    return (c.strip() for c in _CLAUSES.split(text) if c.strip())


def _words(text: str) -> list[tuple[str, str]]:
    return [(p.word, p.flag) for p in jieba.posseg.cut(text)]


def _noun(flag: str) -> bool:
    return flag.startswith(_NOUN_TAGS)


def _restricted(head: str, clause: str, question: str) -> bool:
    """`head` in `clause` is narrowed by its modifier: a condition word, a tier or a place the question
    does not name ("达到3000万元以上的客户", "钻石客户", "呼和浩特机场")."""
    return any(_narrowed(clause[: m.start()], question) for m in re.finditer(re.escape(head), clause))


def _narrowed(prefix: str, question: str) -> bool:
    if not prefix:
        return False
    starts = list(_MODIFIER_START.finditer(prefix))
    if starts:
        prefix = prefix[starts[-1].end() :]
    if _RESTRICTS.search(prefix):
        return True
    if any(t not in question for t in lexicon.tiers_in(prefix)):
        return True
    words = _words(prefix.rstrip("的"))
    if not words:
        return False
    word, flag = words[-1]
    return flag in _PLACE_TAGS and len(word) >= 2 and word not in question and word not in _NOT_KINDS


def _universal(question: str, rule: str) -> Conflict | None:
    """ "所有客户/机场/航班" against a rule restricted to some of them, or one that excepts some."""
    excepted = conditions.excepted(rule)
    for m in _UNIVERSAL.finditer(question):
        nouns: list[str] = []
        for word, flag in _words(question[m.end() :]):
            if not _noun(flag) and flag not in _PLACE_TAGS:
                break
            nouns.append(word)
        heads = [w for w in nouns if len(w) >= 2]
        if not heads:
            continue  # "每个月": a frequency, not every one of a kind
        head = heads[-1]
        if any(alt and alt in excepted for alt in lexicon.synonyms(head)):
            return Conflict(m.group(0) + "".join(nouns), excepted)  # "所有航班" vs "但CA和ZH航班不提供"
        for clause in _clauses(rule):
            for alt in lexicon.synonyms(head):
                if alt and alt in clause and _restricted(alt, clause, question):
                    return Conflict(m.group(0) + "".join(nouns), clause)
    return None


def _other_kind(question: str, rule: str) -> Conflict | None:
    """ "社区医院" against "指定的三级甲等医院": the question's modifier of a noun the rule restricts."""
    words = _words(question)
    for i, (word, flag) in enumerate(words):
        if not _noun(flag) or len(word) < 2:
            continue
        if word in rule:
            before = [w for w in words[:i] if w[0] != "的"]  # "县城的医院": the modifier before 的
            head, kind = word, (before[-1] if before else ("", ""))
            modifier = kind[0] if _noun(kind[1]) or kind[1] in _KIND_TAGS else ""
        else:
            # One word for both ("社区医院"): its tail is the rule's noun.
            tail = next((word[k:] for k in range(1, len(word) - 1) if word[k:] in rule), "")
            head, modifier = tail, word[: len(word) - len(tail)] if tail else ""
        if len(modifier) < 2 or modifier in rule or modifier in _NOT_KINDS or _PERSON.search(modifier):
            continue
        if any(a in rule for a in lexicon.synonyms(modifier)[1:]):
            continue
        for clause in _clauses(rule):
            if head in clause and _restricted(head, clause, question):
                return Conflict(modifier + head, clause)
    return None


def _other_value(question: str, rule: str) -> Conflict | None:
    clauses = list(_clauses(rule))
    if _UNLIMITED.search(question) and "不限" not in rule:
        counted = next((c for c in clauses if _COUNTED.search(c)), None)
        if counted is not None:
            return Conflict(_UNLIMITED.search(question).group(0), counted)  # type: ignore[union-attr]
    named, stated = object_match.discounts(question), object_match.discounts(rule)
    if named and stated and not named & stated:  # "能打8折吗" against "六折"
        given = next((c for c in clauses if _DISCOUNT.search(c)), rule)
        return Conflict(f"{'/'.join(sorted(named))}折", given)
    free = _FREE.search(question)
    if free and not _FREE_RULE.search(rule):
        discounted = next((c for c in clauses if _DISCOUNT.search(c)), None)
        if discounted is not None:
            return Conflict(free.group(0), discounted)
    asked = _FREQUENCY.search(question)
    if asked:
        return _other_period(question, _period(asked.group(1)), clauses)
    return None


def _period(unit: str) -> str:
    return _SAME_PERIOD.get(unit, unit)


def _other_period(question: str, period: str, clauses: list[str]) -> Conflict | None:
    """ "专刊是每个月寄吗" against "每月…畅销书，每季度…专刊": the period of the clause about the item."""
    terms = {w for w, f in _words(_FREQUENCY.sub("", question)) if len(w) >= 2 and _noun(f)}
    timed = [(c, _period(m.group(1))) for c in clauses if (m := _FREQUENCY.search(c))]
    if not terms or not timed:
        return None
    scored = sorted(((sum(t in c for t in terms), c, p) for c, p in timed), key=lambda x: -x[0])
    best, clause, found = scored[0]
    if best == 0 or (len(scored) > 1 and scored[1][0] == best and scored[1][2] != found):
        return None
    return Conflict(f"每{period}", clause) if found != period else None
