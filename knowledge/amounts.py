"""Money amounts in Chinese text: "4000万", "四千万", "3千5百万", "0.5亿", "1个亿", "2,000万元".

Questions and rule tables state assets in 万/亿 with Arabic or Chinese numerals; answers need them as
numbers (a tier lookup, "还差多少"). Only amounts with a money unit count: "每年5次" is not an amount.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from knowledge.numerals import chinese_int

logger = logging.getLogger(__name__)

WAN = Decimal(10_000)
YI = Decimal(100_000_000)

_NUMERAL = r"[\d.,零〇一二两三四五六七八九十百千]+"
# "4000万", "四千万", "0.5亿", "1个亿", "2,000万元", "3000万元" ; a bare "元" amount needs Arabic digits.
_AMOUNT = re.compile(
    rf"(?P<num>{_NUMERAL})\s*(?:个)?\s*(?P<unit>亿|千万|百万|十万|万|w|W)(?:元|块)?"
    r"|(?P<yuan>\d[\d,]*(?:\.\d+)?)\s*(?:元|块)"
)
_UNIT = {"亿": YI, "千万": 1000 * WAN, "百万": 100 * WAN, "十万": 10 * WAN, "万": WAN, "w": WAN, "W": WAN}
_BELOW = re.compile(r"<|＜|低于|不足|少于|未达|以下|不到")
_AT_LEAST = re.compile(r"≥|>=|＞|>|以上|及以上|达到|起")


@dataclass(frozen=True, slots=True)
class AmountRange:
    """[low, high) in yuan; `high` None = no upper bound."""

    low: Decimal
    high: Decimal | None = None

    def contains(self, value: Decimal) -> bool:
        return value >= self.low and (self.high is None or value < self.high)

    def describe(self, *, unit: bool = False) -> str:
        """ "3000万–5000万"; with `unit` the 元 follows each amount ("5000万元及以上", never "…及以上元")."""
        if self.high is None:
            return f"{format_amount(self.low, unit=unit)}及以上"
        if self.low == 0:
            return f"低于{format_amount(self.high, unit=unit)}"
        return f"{format_amount(self.low, unit=unit)}–{format_amount(self.high, unit=unit)}"


def _cn_number(text: str) -> Decimal | None:
    """ "4000", "3.5", "四千", "三千五百", "3千5百", "十二" → number; None when it is not one."""
    text = text.replace(",", "")
    if re.fullmatch(r"\d+\.\d+", text):
        return Decimal(text)
    number = chinese_int(text)
    return None if number is None else Decimal(number)


def parse_amounts(text: str) -> list[Decimal]:
    """Every money amount in `text`, in yuan, in order."""
    out: list[Decimal] = []
    for m in _AMOUNT.finditer(text):
        try:
            if m.group("yuan"):
                out.append(Decimal(m.group("yuan").replace(",", "")))
                continue
            number = _cn_number(m.group("num").strip(".,"))
        except InvalidOperation:
            continue
        if number is None:
            continue
        out.append(number * _UNIT[m.group("unit")])
    return out


def parse_range(text: str) -> AmountRange | None:
    """A table cell or clause as an amount range: "≥ 5000万元", "3000万元（含）至5000万元", "< 1000万元",
    "日均金融资产3000万元以上" (以上 includes the amount itself)."""
    amounts = parse_amounts(text)
    if not amounts:
        return None
    if len(amounts) >= 2:
        low, high = sorted(amounts[:2])
        return AmountRange(low, high)
    if _BELOW.search(text) and not _AT_LEAST.search(text):
        return AmountRange(Decimal(0), amounts[0])
    return AmountRange(amounts[0])


def format_amount(value: Decimal, *, unit: bool = True) -> str:
    """4000万元, 1.2亿元, 500元: how RMs write assets."""
    suffix = "元" if unit else ""
    if value >= YI and value % (1000 * WAN) == 0:
        return f"{_plain(value / YI)}亿{suffix}"
    if value >= WAN:
        return f"{_plain(value / WAN)}万{suffix}"
    return f"{_plain(value)}{'元' if unit else ''}"


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
