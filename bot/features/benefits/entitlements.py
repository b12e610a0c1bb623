"""Counted entitlements, read from the knowledge base's entitlement table (never from code): the yearly
allowance of a row ("每年5次" → 5), which benefit a word means (专家号 = 专家挂号 = 专家挂号预约), and
whether a client's tier and assets give them a benefit.

Pure functions over `knowledge.rules.Entitlement` rows; the rows come through the bot's
`KnowledgeService` port.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from knowledge.numerals import chinese_int

if TYPE_CHECKING:
    from crm_adapter import Client
    from knowledge.rules import Entitlement

logger = logging.getLogger(__name__)

_NUMBER = r"(\d+|[一二两三四五六七八九十]+)"
#: "每年5次"; "赠送5000元年卡1张" (a yearly card: one a year).
_PER_YEAR = (re.compile(rf"每年\s*{_NUMBER}\s*次"), re.compile(rf"年卡\s*{_NUMBER}\s*张"))

#: Words RMs use that the table's 常见叫法 column does not list, mapped to the table's benefit name.
#: Used only when the table has a benefit of that name (the table stays the authority).
SYNONYMS: dict[str, str] = {
    "专家门诊预约": "专家挂号预约",
    "约专家号": "专家挂号预约",
    "专家号预约": "专家挂号预约",
    "导诊": "全程导医",
    "陪诊服务": "全程导医",
    "住院安排": "手术住院安排",
    "手术安排": "手术住院安排",
    "思妍丽年卡": "思妍丽美容年卡",
    "思妍丽": "思妍丽美容年卡",
    "体检套餐": "三甲医院体检（增强型套餐）",
    "三甲体检": "三甲医院体检（增强型套餐）",
    "4S店保养": "4S店基础保养",
}


def yearly_allowance(e: Entitlement) -> int | None:
    """Uses a year the row grants, as written in 次数/标准; None when it grants no count."""
    for pattern in _PER_YEAR:
        m = pattern.search(e.value)
        if m:
            raw = m.group(1)
            return int(raw) if raw.isdigit() else chinese_int(raw)
    return None


def names_of(e: Entitlement) -> tuple[str, ...]:
    synonyms = tuple(word for word, name in SYNONYMS.items() if name == e.benefit)
    return tuple(n for n in (e.benefit, *e.aliases, *synonyms) if n)


def _key(text: str) -> str:
    return "".join(text.split()).lower()


def exact(table: Iterable[Entitlement], text: str) -> list[Entitlement]:
    """Rows one of whose names is `text` (spaces and case ignored); counted rows first."""
    wanted = _key(text)
    found = [e for e in table if any(_key(n) == wanted for n in names_of(e))]
    return _counted_first(found)


def mentioned(table: Iterable[Entitlement], text: str) -> list[Entitlement]:
    """Rows named somewhere in `text`, the longest name first (counted rows first on a tie)."""
    lowered = _key(text)
    scored: list[tuple[int, bool, Entitlement]] = []
    for e in table:
        best = max((len(_key(n)) for n in names_of(e) if _key(n) in lowered), default=0)
        if best:
            scored.append((best, yearly_allowance(e) is not None, e))
    scored.sort(key=lambda item: (-item[0], not item[1]))
    return [e for _, _, e in scored]


def _counted_first(rows: list[Entitlement]) -> list[Entitlement]:
    counted = [e for e in rows if yearly_allowance(e) is not None]
    return counted + [e for e in rows if yearly_allowance(e) is None]


def unique_table(rows: Iterable[Entitlement]) -> tuple[Entitlement, ...]:
    """The rows of several tiers' extracts, each benefit once, in table order."""
    seen: dict[str, Entitlement] = {}
    for e in rows:
        seen.setdefault(e.benefit, e)
    return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class Standing:
    """What the entitlement table says about one benefit for one client."""

    entitlement: Entitlement
    applies: bool  # the client's tier is among 适用客户 and the asset condition is met
    allowance: int | None  # uses a year (None: not counted)
    why_not: str = ""  # when not `applies`: the reason, in Chinese, from the table's own words


def standing(e: Entitlement, client: Client) -> Standing:
    tier = str(client.tier)
    allowance = yearly_allowance(e)
    if tier not in e.tiers:
        others = "资料未规定该权益" if e.others_not_stated else e.others
        why = f"{e.benefit}适用于{e.who()}，{tier}客户{others if others.startswith('不') else '：' + others}"
        return Standing(e, False, allowance, why)
    if e.asset is not None and not e.asset.contains(client.aum):
        return Standing(e, False, allowance, f"{e.benefit}须{e.asset_text}，客户未达资产条件")
    return Standing(e, True, allowance)


@dataclass(frozen=True, slots=True)
class Balance:
    """A counted benefit of one client in one year: the allowance from the table, uses from the ledger."""

    entitlement: Entitlement
    allowance: int
    used: int
    last_used_on: date | None
    year: int

    @property
    def left(self) -> int:
        return max(self.allowance - self.used, 0)

    @property
    def over(self) -> int:
        return max(self.used - self.allowance, 0)


def describe(e: Entitlement) -> str:
    """The benefit with its standard, as the table writes it: "专家挂号预约（每年5次）"."""
    return f"{e.benefit}（{e.value}）" if e.value else e.benefit


def counted_names(rows: Sequence[Entitlement]) -> str:
    return "、".join(e.benefit for e in rows if yearly_allowance(e) is not None)


def allowance_phrase(e: Entitlement) -> str:
    """ "每年5次" as the table writes it (the counted part of 次数/标准)."""
    for pattern in _PER_YEAR:
        m = pattern.search(e.value)
        if m:
            return m.group(0) if m.group(0).startswith("每年") else f"{m.group(0)}（每年）"
    return e.value


def usage_phrase(b: Balance, this_year: int) -> str:
    """ "今年已用2次（最近 11-03），还剩3次" (or 尚未使用 / 已超出)."""
    when = "今年" if b.year == this_year else f"{b.year}年"
    if b.used == 0:
        return f"{when}尚未使用，还剩{b.allowance}次"
    last = f"（最近 {b.last_used_on:%m-%d}）" if b.last_used_on else ""
    if b.over:
        return f"{when}已用{b.used}次{last}，已超出{b.over}次"
    return f"{when}已用{b.used}次{last}，还剩{b.left}次"


def balance_line(b: Balance) -> str:
    """ "专家挂号预约：每年5次，已用 2 次，最近 11-03，剩 3 次" (plain text)."""
    last = f"，最近 {b.last_used_on:%m-%d}" if b.last_used_on else ""
    state = f"已超出 {b.over} 次" if b.over else f"剩 {b.left} 次"
    return f"{b.entitlement.benefit}：{allowance_phrase(b.entitlement)}，已用 {b.used} 次{last}，{state}"


__all__ = [
    "SYNONYMS",
    "Balance",
    "Standing",
    "allowance_phrase",
    "balance_line",
    "counted_names",
    "describe",
    "exact",
    "mentioned",
    "names_of",
    "standing",
    "unique_table",
    "usage_phrase",
    "yearly_allowance",
]
