"""Investor suitability: what an RM logs (or picks) is checked against the client's risk profile.

The rule table is data (`suitability_rules.toml`, with its source articles); this module only applies
it. A finding never blocks the RM: it is shown before the record is confirmed, stored with the record
(as a `适当性:` topic in the CRM, so it travels with the record) and shown first in `/review`.

Products are recognised in a summary by a bare level ("R5私募产品") or by the name or code of a product of
the CRM's catalogue ("推荐了鑫享1号私募证券投资基金", "SM0001"); `ProductCatalogue` keeps the catalogue and
an index of its names and codes, reloaded at most once a minute.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

from bot.rendering import esc
from bot.textfold import compact_latin, fold
from crm_adapter import Client
from crm_adapter.models import Product
from crm_adapter.pinyin import pinyin_keys

logger = logging.getLogger(__name__)

#: Topic prefix of a stored finding (CRM topics are ≤ 30 characters).
TOPIC_PREFIX = "适当性:"
# "R5", "r 5", "R-5", "Ｒ５" (folded by NFKC first); not "R12345".
_PRODUCT_RISK = re.compile(r"(?<![A-Za-z0-9])[Rr][\s\-_]?([1-5])(?![0-9])")
# Generic endings of product names: what is left ("鑫享1号") is how RMs name a product in passing.
_GENERIC_ENDINGS = (
    "私募证券投资基金", "证券投资基金", "集合资金信托计划", "资金信托计划", "信托计划", "资产管理计划",
    "货币市场基金", "指数增强基金", "股票型基金", "混合型基金", "债券型基金", "混合基金", "债券基金",
    "指数基金", "股票基金", "收益凭证", "理财产品", "基金", "理财", "产品", "计划",
)  # fmt: skip
#: Shortest product name looked for in a summary (shorter names are ordinary words: "理财", "黄金").
MIN_NAME_LEN = 4
#: How long a loaded catalogue is used before it is read from the CRM again.
CATALOGUE_TTL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One suitability finding: a short label (stored), the article and the rule's text (shown)."""

    label: str
    article: str
    rule: str
    products: tuple[str, ...] = ()  # the catalogue products concerned, as shown ("名称（代码，R5）")

    @property
    def topic(self) -> str:
        return (TOPIC_PREFIX + self.label)[:30]


@lru_cache(maxsize=1)
def rules() -> dict[str, Any]:
    """The rule table (read once from the package data)."""
    text = resources.files("bot.features").joinpath("suitability_rules.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def source() -> str:
    s = rules()["source"]
    return f"《{s['title']}》（{s['issuer']}，{s['in_force']}起施行）"


class ProductCatalogue:
    """The product catalogue for matching summaries (thread-safe). `load` reads it (e.g. the CRM's
    `list_products`); a failing load keeps the previous catalogue (bare "R5" mentions still work)."""

    def __init__(
        self,
        load: Callable[[], Sequence[Product]],
        *,
        ttl_seconds: float = CATALOGUE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._by_prefix: dict[str, tuple[tuple[str, Product], ...]] = {}

    def _refresh(self) -> dict[str, tuple[tuple[str, Product], ...]]:
        with self._lock:
            now = self._clock()
            if self._loaded_at is None or now - self._loaded_at >= self._ttl:
                self._loaded_at = now
                try:
                    self._by_prefix = _prefix_index(self._load())
                except Exception:  # the check still runs on bare levels; retried after the TTL
                    logger.warning("product catalogue could not be loaded", exc_info=True)
            return self._by_prefix

    def mentioned(self, text: str) -> tuple[Product, ...]:
        """Catalogue products named (by name or code) in `text`, in order of first mention.

        One pass over the text: at each position the keys starting with its two characters are
        tried, longest first (a regex alternation of thousands of names is far slower)."""
        by_prefix = self._refresh()
        if not by_prefix:
            return ()
        folded = fold(text)
        found: dict[str, Product] = {}
        # Once as written and once with the gaps inside codes and pinyin closed ("P 9001", "xin xiang").
        for form in dict.fromkeys((folded, compact_latin(folded))):
            _scan(form, by_prefix, found)
        return tuple(found.values())


def _scan(
    folded: str, by_prefix: dict[str, tuple[tuple[str, Product], ...]], found: dict[str, Product]
) -> None:
    i, end = 0, len(folded) - 1
    while i < end:
        step = 1
        for key, product in by_prefix.get(folded[i : i + 2], ()):
            if folded.startswith(key, i) and (not key.isascii() or _whole_word(folded, i, len(key))):
                found.setdefault(product.code, product)
                step = len(key)
                break
        i += step


def _prefix_index(products: Sequence[Product]) -> dict[str, tuple[tuple[str, Product], ...]]:
    """Match keys (lower-cased codes, and names of at least MIN_NAME_LEN characters) by their first two
    characters, longest first (so "…基金A类" wins over "…基金")."""
    keys: dict[str, Product] = {}
    cores: dict[str, list[Product]] = {}
    for p in products:
        keys.setdefault(compact_latin(fold(p.code)), p)
        name = fold(p.name)
        if len(name) >= MIN_NAME_LEN:
            keys.setdefault(name, p)
        pinyin = compact_latin(fold(p.pinyin)) if p.pinyin else ""
        if len(pinyin) >= 2 * MIN_NAME_LEN and pinyin.isascii():
            keys.setdefault(pinyin, p)
        core = _core_name(name)
        # A short core must carry a series number ("鑫享1号"): "科技成长", "沪深300" are also plain words.
        if core != name and (len(core) >= 6 or (len(core) >= MIN_NAME_LEN and re.search(r"\d[号期]", core))):
            cores.setdefault(core, []).append(p)
    for core, owners in cores.items():
        if len(owners) == 1:  # a shortened name two products share names neither
            keys.setdefault(core, owners[0])
            keys.setdefault(_pinyin(core), owners[0])
    grouped: dict[str, list[tuple[str, Product]]] = {}
    for key, product in keys.items():
        if len(key) >= 2:
            grouped.setdefault(key[:2], []).append((key, product))
    return {k: tuple(sorted(v, key=lambda item: -len(item[0]))) for k, v in grouped.items()}


@lru_cache(maxsize=8192)
def _pinyin(name: str) -> str:
    return pinyin_keys(name).full


def _core_name(name: str) -> str:
    """The name without its generic endings and share class ("鑫享1号私募证券投资基金" → "鑫享1号")."""
    core = name.rstrip("abc")
    changed = True
    while changed:
        changed = False
        for ending in _GENERIC_ENDINGS:
            if core.endswith(ending) and len(core) > len(ending):
                core, changed = core[: -len(ending)], True
    return core


def _whole_word(text: str, start: int, length: int) -> bool:
    """A code counts only as a whole word ("SM0001", not inside "XSM00012")."""
    before = text[start - 1] if start > 0 else ""
    after = text[start + length] if start + length < len(text) else ""
    return not (_is_word(before) or _is_word(after))


def _is_word(ch: str) -> bool:
    return bool(ch) and ch.isascii() and ch.isalnum()


def _shown(p: Product) -> str:
    return f"{p.name}（{p.code}，{p.risk_level}）"


def product_levels(text: str) -> tuple[str, ...]:
    """Product risk levels named in a text ("R5私募产品", "r4 基金", "风险等级R3")."""
    return tuple(
        sorted({f"R{m.group(1)}" for m in _PRODUCT_RISK.finditer(unicodedata.normalize("NFKC", text))})
    )


def _age(birthday: date | None, today: date) -> int | None:
    if birthday is None:
        return None
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def _months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)


def assessment_expired(assessed: date, today: date) -> bool:
    """A risk assessment of `assessed` is no longer valid on `today` (validity from the rule table)."""
    return _months_between(assessed, today) >= int(rules()["assessment"]["validity_months"])


def check(
    client: Client,
    text: str,
    today: date,
    *,
    products: Sequence[str] = (),
    catalogue: ProductCatalogue | None = None,
) -> tuple[Finding, ...]:
    """Findings for a contact about `client` whose summary is `text`: products named by level or
    (with a `catalogue`) by name or code, plus products picked by level (`products`)."""
    table = rules()
    named = catalogue.mentioned(text) if catalogue is not None else ()
    levels = sorted(set(product_levels(text)) | set(products) | {p.risk_level for p in named})
    if not levels:
        return ()
    findings: list[Finding] = []
    tolerance = table["tolerance"]
    allowed = tolerance.get(client.risk_level)
    top = max(levels)
    if allowed is None:
        findings.append(Finding("客户风险等级未知", tolerance["article"], tolerance["text"]))
    elif top > allowed:
        above = tuple(p for p in named if p.risk_level > allowed)
        # The stored label names the highest catalogue product when one decided the level.
        worst = max(above, key=lambda p: p.risk_level) if above else None
        what = f"{worst.code}({top})" if worst is not None and worst.risk_level == top else f"产品{top}"
        label = f"{what}超出客户{client.risk_level}承受能力"
        shown = tuple(_shown(p) for p in above)
        findings.append(Finding(label, tolerance["article"], tolerance["text"], shown))
    assessment = table["assessment"]
    assessed = client.risk_assessed_on
    if assessed is None:
        findings.append(Finding("风险测评缺失", assessment["article"], assessment["text"]))
    elif assessment_expired(assessed, today):
        label = f"风险测评已过期({assessed:%Y-%m-%d})"
        findings.append(Finding(label, assessment["article"], assessment["text"]))
    senior = table["senior"]
    age = _age(client.birthday, today)
    if age is not None and age >= int(senior["age"]) and set(levels) & set(senior["products"]):
        risky = tuple(_shown(p) for p in named if p.risk_level in senior["products"])
        findings.append(Finding(f"{age}岁客户高风险产品", senior["article"], senior["text"], risky))
    if findings:
        logger.info(
            "suitability finding(s) for %s: %s", client.client_id, ", ".join(f.label for f in findings)
        )
    return tuple(findings)


def labels_of(topics: Sequence[str]) -> tuple[str, ...]:
    """The findings stored as topics of a contact record."""
    return tuple(t for t in topics if t.startswith(TOPIC_PREFIX))


def render_findings(findings: Sequence[Finding]) -> str:
    """The warning block shown before confirming and after saving (Telegram HTML); "" when none."""
    if not findings:
        return ""
    lines = ["⚠️ <b>适当性提示</b>（" + esc(source()) + "）"]
    for f in findings:
        lines.append(f"• {esc(f.label)}：{esc(f.article)} {esc(f.rule)}")
        if f.products:
            lines.append(f"　涉及产品：{esc('、'.join(f.products))}")
    return "\n".join(lines)
