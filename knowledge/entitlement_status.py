"""Entitlement rows of the rule book (stage 4a): whether one is given to a client of a tier or an amount
(yes, no, not stated or "depends", with the reason a lead states), and the table each row comes from."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from knowledge.amounts import format_amount
from knowledge.lexicon import PB_TIERS
from knowledge.rules import Entitlement, RuleBook, RuleSource


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
