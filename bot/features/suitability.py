"""Investor suitability: what an RM logs (or picks) is checked against the client's risk profile.

The rule table is data (`suitability_rules.toml`, with its source articles); this module only applies
it. A finding never blocks the RM: it is shown before the record is confirmed, stored with the record
(as a `适当性:` topic in the CRM, so it travels with the record) and shown first in `/review`.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

from bot.rendering import esc
from crm_adapter import Client

logger = logging.getLogger(__name__)

#: Topic prefix of a stored finding (CRM topics are ≤ 30 characters).
TOPIC_PREFIX = "适当性:"
_PRODUCT_RISK = re.compile(r"(?<![A-Za-z0-9])[Rr]\s?([1-5])(?![0-9])")


@dataclass(frozen=True, slots=True)
class Finding:
    """One suitability finding: a short label (stored), the article and the rule's text (shown)."""

    label: str
    article: str
    rule: str

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


def product_levels(text: str) -> tuple[str, ...]:
    """Product risk levels named in a text ("R5私募产品", "r4 基金", "风险等级R3")."""
    return tuple(sorted({f"R{m.group(1)}" for m in _PRODUCT_RISK.finditer(text)}))


def _age(birthday: date | None, today: date) -> int | None:
    if birthday is None:
        return None
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def _months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)


def check(client: Client, text: str, today: date, *, products: Sequence[str] = ()) -> tuple[Finding, ...]:
    """Findings for a contact about `client` whose summary is `text` (plus products picked by level)."""
    table = rules()
    levels = sorted(set(product_levels(text)) | set(products))
    if not levels:
        return ()
    findings: list[Finding] = []
    tolerance = table["tolerance"]
    allowed = tolerance.get(client.risk_level)
    top = max(levels)
    if allowed is None:
        findings.append(Finding("客户风险等级未知", tolerance["article"], tolerance["text"]))
    elif top > allowed:
        label = f"产品{top}超出客户{client.risk_level}承受能力"
        findings.append(Finding(label, tolerance["article"], tolerance["text"]))
    assessment = table["assessment"]
    # Only a CRM that records the assessment date can tell a missing one from an unknown one.
    if "risk_assessed_on" in type(client).model_fields:
        assessed = getattr(client, "risk_assessed_on", None)
        if assessed is None:
            findings.append(Finding("风险测评缺失", assessment["article"], assessment["text"]))
        elif _months_between(assessed, today) >= int(assessment["validity_months"]):
            findings.append(Finding("风险测评已过期", assessment["article"], assessment["text"]))
    senior = table["senior"]
    age = _age(client.birthday, today)
    if age is not None and age >= int(senior["age"]) and set(levels) & set(senior["products"]):
        findings.append(Finding(f"{age}岁客户高风险产品", senior["article"], senior["text"]))
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
    lines += [f"• {esc(f.label)}：{esc(f.article)} {esc(f.rule)}" for f in findings]
    return "\n".join(lines)
