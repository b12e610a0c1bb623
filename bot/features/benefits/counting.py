"""Answers to "张伟今年还能约几次专家号" counted from the ledger: which questions ask a count, and the
answer citing both the entitlement table and the ledger (split from `service.py`, which reads them)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from bot.features.benefits import entitlements as ent
from bot.features.benefits.entitlements import Balance, Standing

if TYPE_CHECKING:
    from crm_adapter import BenefitTally, BenefitUse, Client
    from knowledge import Answer

logger = logging.getLogger(__name__)

#: `Answer.composer` of an answer counted from the ledger.
LEDGER = "ledger"
#: The ledger as a cited source.
LEDGER_SOURCE, LEDGER_TITLE = "crm:benefit_uses", "CRM 权益使用台账"
#: "还能约几次", "还剩几次", "用了几次", "已经用了": a question about what is left or used, not the rule.
_ASKS_COUNT = re.compile(
    r"还(?:能|可以|可|剩|有|差)|剩(?:下|余|几|多少)?|已(?:经)?(?:用|约|使用)|用了|用过|使用了"
)


def asks_count(question: str) -> bool:
    """Whether the question asks what is left or used (not what the rule is)."""
    return _ASKS_COUNT.search(question) is not None


def count_answer(
    question: str,
    client: Client,
    st: Standing,
    year: int,
    tallies: list[BenefitTally],
    uses: list[BenefitUse],
) -> Answer:
    from knowledge import Answer, Citation

    e = st.entitlement
    rule = Citation(n=1, source=e.cite.source, title=e.cite.title, text=e.cite.text, heading=e.cite.heading)
    head = f"{client.name}（{client.tier}客户）{e.benefit}："
    if not st.applies:
        lead = f"{head}{st.why_not}。[1]"
        return Answer(question, (lead,), (rule,), grounded=True, confidence=1.0, composer=LEDGER)
    if st.allowance is None:
        lead = f"{head}{e.value or '见权益说明'}，不按次数计。[1]"
        return Answer(question, (lead,), (rule,), grounded=True, confidence=1.0, composer=LEDGER)
    tally = next((t for t in tallies if t.benefit == e.benefit), None)
    used = tally.used if tally else 0
    balance = Balance(e, st.allowance, used, tally.last_used_on if tally else None, year)
    lead = f"{head}{client.tier}客户{ent.allowance_phrase(e)}，{ent.usage_phrase(balance, year)}。[1][2]"
    days = "、".join(f"{u.used_on:%Y-%m-%d}" for u in sorted(uses, key=lambda u: u.used_on))
    ledger = Citation(
        n=2,
        source=LEDGER_SOURCE,
        title=LEDGER_TITLE,
        text=f"{client.name}（{client.client_id}）{year}年{e.benefit}：已登记 {used} 次"
        + (f"（{days}）" if days else ""),
        heading=f"{year}年",
    )
    return Answer(question, (lead,), (rule, ledger), grounded=True, confidence=1.0, composer=LEDGER)


__all__ = ["LEDGER", "LEDGER_SOURCE", "LEDGER_TITLE", "asks_count", "count_answer"]
