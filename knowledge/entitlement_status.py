"""Entitlement rows of the rule book (stage 4a): which row a question names, whether one is given to a client
of a tier or an amount (yes, no, not stated or "depends", with the reason a lead states), and the table each
row comes from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from knowledge.amounts import format_amount
from knowledge.lexicon import PB_TIERS
from knowledge.question import MAX_CHARS, Question
from knowledge.rules import Entitlement, RuleBook, RuleSource

#: The reason of a "yes" appended to a lead: the case the question names meets the row's asset condition
#: ("日均6000万元满足日均金融资产5000万元以上的条件。"); the pipeline's own words, not a cited rule.
_MET = re.compile(r"满足[^。；]*的条件。?$")
_CITED = re.compile(r"\[\d+\]")
_VALUE = re.compile(r"[\d一二三四五六七八九.]+\s*折|不限次数")


def states_met(sentence: str) -> bool:
    """`sentence` is the lead's own statement that the question's case meets the rule's condition."""
    return bool(_MET.search(sentence)) and not _CITED.search(sentence)


@dataclass(frozen=True, slots=True)
class Status:
    verdict: str  # yes / no / not_stated / depends
    reason: str  # why, for the lead ("日均2000万元未达到")


def status(e: Entitlement, tier: str | None, amount: Decimal | None, book: RuleBook) -> Status:
    """Whether the rule gives `e` to a client of this tier / amount."""
    if tier is None and amount is not None:
        found = book.tier_of(amount)
        tier = found.tier if found else None
        if tier is None and not book.tiers:
            return status_by_amount(e, amount)
    if tier is None:
        return Status("depends", "")
    if tier not in e.tiers:
        if tier not in PB_TIERS:
            entry = book.entry_threshold()
            if entry is None:
                return Status("no", f"{e.benefit}面向私人银行客户，{tier}客户不是私人银行客户")
            threshold = f"（日均{format_amount(entry.range.low)}）"
            return Status("no", f"{e.benefit}面向私人银行客户，{tier}客户尚未达到私人银行准入门槛{threshold}")
        if e.others_not_stated:
            return Status("not_stated", "")
        return Status("no", f"{e.benefit}仅适用于{e.who()}")
    if e.asset is None:
        return Status("yes", "")
    if amount is not None:
        if amount >= e.asset.low:
            return Status("yes", f"日均{format_amount(amount)}满足{e.asset_text}的条件")
        return Status("no", f"{e.benefit}需{e.asset_text}，日均{format_amount(amount)}未达到")
    rule = book.tier(tier)
    if rule is None:
        return Status(
            "depends", f"{tier}客户能否享受取决于客户是否满足{e.asset_text}的条件（资料未按等级规定）"
        )
    if rule.range.low >= e.asset.low:
        return Status("yes", f"{tier}客户（{rule.range.describe()}）均满足{e.asset_text}的条件")
    if rule.range.high is not None and rule.range.high <= e.asset.low:
        return Status("no", f"{e.benefit}需{e.asset_text}，{tier}客户（{rule.range.describe()}）达不到")
    return Status("depends", f"{tier}客户中{e.asset_text}的可以享受")


def status_by_amount(e: Entitlement, amount: Decimal) -> Status:
    """Whether an amount alone settles `e` when no tier standard exists: only an asset condition can."""
    if e.asset is not None and amount < e.asset.low:
        return Status("no", f"{e.benefit}需{e.asset_text}，日均{format_amount(amount)}未达到")
    if e.asset is not None and set(e.tiers) >= set(PB_TIERS):
        return Status("yes", f"日均{format_amount(amount)}满足{e.asset_text}的条件")
    whose = f"日均{format_amount(amount)}的客户"
    if set(e.tiers) >= set(PB_TIERS):
        return Status("not_stated", f"{whose}是否为私人银行客户")
    return Status("not_stated", f"{whose}属于哪个等级")


def tables(rows: list[Entitlement]) -> list[list[Entitlement]]:
    """Entitlements grouped by the table (source and section) they come from, in order."""
    groups: dict[tuple[str, str], list[Entitlement]] = {}
    for e in rows:
        groups.setdefault((e.cite.source, e.cite.heading), []).append(e)
    return list(groups.values())


def table_source(rows: list[Entitlement]) -> RuleSource:
    """One citation for the rows used from one table (their text, in order)."""
    first = rows[0].cite
    return RuleSource(
        first.source, first.title, first.heading, "\n".join(e.cite.text for e in rows), first.authority
    )


def pick(q: Question, matches: list[tuple[Entitlement, int]]) -> Entitlement:
    """The row the question names: the longest name, then the kind of value asked, then shared words."""
    best = matches[0][1]
    top = [e for e, length in matches if length == best]
    if q.slot == "discount":
        top = [e for e in top if "折" in e.value] or top
    elif q.slot == "count":
        top = [e for e in top if "次" in e.value] or top
    # A value the question names ("洗车能打六折吗"): the row that gives it, not another row named alike.
    named = q.text[:MAX_CHARS]
    top = [e for e in top if any(v in named for v in _VALUE.findall(e.value))] or top
    # Rows named alike ("洗车"): the one whose name, conditions and value share most with the question
    # ("洗车能上门吗" → 免费洗车（可上门）; "日均3000万以上" → the row with that asset condition).
    text = q.text[:MAX_CHARS]
    return max(top, key=lambda e: shared(text, f"{e.benefit}{e.asset_text}{e.condition}{e.value}"))


def covers(q: Question, matches: list[tuple[Entitlement, int]]) -> bool:
    """The row the question names settles it: the row has an asset condition (which only the table states
    as a condition) and covers what the question asks (上门 of 免费洗车（可上门）, a count; not 延期)."""
    e = pick(q, matches)
    row = f"{e.benefit}{e.asset_text}{e.condition}{e.value}"
    counted = bool(_ASKS_COUNT.search(q.text[:MAX_CHARS])) and "次" in e.value
    return e.asset is not None and (counted or shared(q.action, row) > 0)


_ASKS_COUNT = re.compile(r"[\d一二两三四五六七八九十]+\s*次")


def shared(text: str, row: str) -> int:
    """Character pairs the two texts share."""
    pairs = {text[i : i + 2] for i in range(len(text) - 1)}
    return len({row[i : i + 2] for i in range(len(row) - 1)} & pairs)


#: What a row's value must state to answer a slot: "几次" a count, "几折" a discount, "费用" a price.
_SLOT_VALUES = {
    "count": (re.compile(r"\d+\s*次|[一二两三四五六七八九十]+次|不限次数"), "次数"),
    "discount": (re.compile(r"[\d一二三四五六七八九.]+\s*折"), "具体折扣"),
    "price": (re.compile(r"免费|免收|收费|\d+\s*元|不收"), "费用"),
}
_ASKS_NUMBER = re.compile(r"几|多少")
_DISCOUNTED = re.compile(r"折|优惠")


def unstated_slot(q: Question, e: Entitlement) -> str:
    """What the question asks of the row (次数, 具体折扣, 费用) that its value does not state, or ""."""
    if q.slot not in _SLOT_VALUES:
        return ""
    pattern, label = _SLOT_VALUES[q.slot]
    if q.slot == "discount" and not _ASKS_NUMBER.search(q.text[:MAX_CHARS]):
        pattern = _DISCOUNTED  # "有折扣吗" asks whether, not how much
    return "" if pattern.search(e.value) else label


#: The question proposes an amount as the row's condition ("是不是要日均3000万才有", "得3000万以上才能"),
#: rather than stating the client's amount ("日均3000万的客户能…").
_PROPOSED = re.compile(
    r"(?:要|需要?|得|必须|至少)[^，,。？?]{0,6}?[\d一二三四五六七八九十两]+(?:\.\d+)?\s*万"
    r"|[\d一二三四五六七八九十两]+(?:\.\d+)?\s*万元?(?:以上)?才"
)


def proposes_threshold(q: Question) -> bool:
    """`q` asks whether its amount is the row's asset condition (a yes/no question about the rule)."""
    return bool(_PROPOSED.search(q.text[:MAX_CHARS]))


def threshold_status(e: Entitlement, amount: Decimal) -> Status:
    """Whether `amount` is the asset condition of `e` (the condition the question proposes)."""
    if e.asset is None:
        return Status("other_threshold", f"{e.benefit}未设日均金融资产条件")
    if e.asset.low == amount:
        return Status("yes", f"{e.benefit}需{e.asset_text}")
    return Status("other_threshold", f"{e.benefit}的条件是{e.asset_text}，不是日均{format_amount(amount)}")
