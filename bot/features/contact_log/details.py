"""Details out of a /log summary, by rules: follow-up dates, amounts, products and life events (生日、子女
留学、退休、换工作、家庭变化). Shown on the draft for the RM to confirm and stored with the record as topics
("跟进:2026-12-15", "金额:500万元", "产品:信托", "事件:子女留学").

Rules, not a model: each field is a list of patterns, measured on labelled notes by `bench/bench_details.py`
(`bench/details_notes.jsonl`). A word that is no pattern is not found; nothing is guessed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.core import ServiceError
from bot.features.contact_log.parsing import parse_follow_up
from knowledge.amounts import format_amount, parse_amounts

logger = logging.getLogger(__name__)

#: Date expressions parse_follow_up understands, found inside free text.
_DATES = re.compile(
    r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{1,2}月\d{1,2}[日号]|(?<![\d.])\d{1,2}[-/]\d{1,2}(?![\d/-])"
    r"|下(?:周|星期|礼拜)[一二三四五六日天]|明天|后天|\d{1,3}\s*天后"
)
#: A date followed by these is not a follow-up (a maturity, a birthday, a past event).
_NOT_FOLLOW_UP = re.compile(r"^.{0,2}(?:到期|生日|出生|过生日|大寿|寿辰|满月)")
#: Product kinds, longest first within a kind; "黄金客户" is a tier, not gold.
PRODUCT_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("私募", ("私募基金", "私募证券", "私募股权", "私募")),
    ("信托", ("家族信托", "保险金信托", "集合信托", "信托")),
    ("保险", ("增额终身寿", "终身寿险", "重疾险", "年金险", "医疗险", "寿险", "保险", "保单")),
    ("基金", ("公募基金", "指数基金", "货币基金", "债券基金", "基金定投", "定投", "基金")),
    ("理财", ("理财产品", "银行理财", "净值型理财", "理财")),
    ("债券", ("国债", "债券", "企业债")),
    ("存款", ("大额存单", "定期存款", "结构性存款", "存款")),
    ("黄金", ("实物黄金", "金条", "积存金")),
    ("股票", ("股票", "港股", "美股", "A股")),
)
#: Life events and the words that say them.
LIFE_EVENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("生日", re.compile(r"生日|大寿|寿辰|寿宴")),
    (
        "子女留学",
        re.compile(
            r"留学|出国读|出国念|国外读|申请(?:国外|海外|英国|美国|澳洲|加拿大)?(?:学校|大学|研究生|硕士|本科)|海外读|去(?:英国|美国|澳洲|澳大利亚|加拿大|日本|新加坡)读"
        ),
    ),
    ("退休", re.compile(r"退休|退下来|办了退|内退")),
    ("换工作", re.compile(r"换(?:了)?(?:工作|单位|公司)|跳槽|离职|辞职|新工作|入职|调任|调到|升任")),
    (
        "家庭变化",
        re.compile(
            r"结婚|离婚|再婚|订婚|生了|生子|生女|二胎|三胎|怀孕|添丁|孙子出生|孙女出生|去世|过世|病故|丧偶|分家|婚礼"
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Details:
    follow_ups: tuple[date, ...] = ()
    amounts: tuple[Decimal, ...] = ()
    products: tuple[str, ...] = ()
    events: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.follow_ups or self.amounts or self.products or self.events)

    def topics(self) -> tuple[str, ...]:
        """The details as contact-record topics (each ≤ 30 characters)."""
        return (
            *(f"跟进:{d.isoformat()}" for d in self.follow_ups),
            *(f"金额:{format_amount(a)}" for a in self.amounts),
            *(f"产品:{p}" for p in self.products),
            *(f"事件:{e}" for e in self.events),
        )

    def render(self) -> str:
        """One line for the draft: "识别要点：跟进 2026-12-15；金额 500万元；产品 信托；事件 子女留学"."""
        parts = []
        if self.follow_ups:
            parts.append("跟进 " + "、".join(d.isoformat() for d in self.follow_ups))
        if self.amounts:
            parts.append("金额 " + "、".join(format_amount(a) for a in self.amounts))
        if self.products:
            parts.append("产品 " + "、".join(self.products))
        if self.events:
            parts.append("事件 " + "、".join(self.events))
        return "识别要点：" + "；".join(parts) if parts else ""


def follow_up_dates(text: str, today: date) -> tuple[date, ...]:
    found: list[date] = []
    for m in _DATES.finditer(text):
        if _NOT_FOLLOW_UP.match(text[m.end() :]):
            continue
        token = m.group(0).replace("号", "日").replace(" ", "")
        try:
            day = parse_follow_up(token, today)
        except ServiceError:
            continue
        if day is not None and day >= today and day not in found:
            found.append(day)
    return tuple(found)


def products(text: str) -> tuple[str, ...]:
    cleaned = text.replace("黄金客户", "")
    return tuple(kind for kind, words in PRODUCT_KINDS if any(w in cleaned for w in words))


def extract(text: str, today: date) -> Details:
    amounts = tuple(dict.fromkeys(a for a in parse_amounts(text) if a > 0))
    events = tuple(name for name, pattern in LIFE_EVENTS if pattern.search(text))
    return Details(follow_up_dates(text, today), amounts, products(text), events)


__all__ = ["LIFE_EVENTS", "PRODUCT_KINDS", "Details", "extract", "follow_up_dates", "products"]
