"""Leads of the rule-book answers (`knowledge.rule_answers`): numbered rule sources, the rule sentence, the
finished answer, and the answer to an amount proposed as a row's condition."""

from __future__ import annotations

from decimal import Decimal

from knowledge.entitlement_status import Status
from knowledge.question import Question
from knowledge.rules import Entitlement, RuleSource
from knowledge.types import Answer, Citation


class Citations:
    """Numbers rule sources in order of first use."""

    def __init__(self) -> None:
        self.items: list[RuleSource] = []

    def n(self, cite: RuleSource) -> int:
        for i, c in enumerate(self.items, start=1):
            if c == cite:
                return i
        self.items.append(cite)
        return len(self.items)

    def out(self) -> tuple[Citation, ...]:
        return tuple(
            Citation(n=i, source=c.source, title=c.title, text=c.text, heading=c.heading)
            for i, c in enumerate(self.items, start=1)
        )


def done(q: Question, lead: list[str], cites: Citations, verdict: str | None) -> Answer:
    return Answer(
        question=q.text,
        lead=tuple(dict.fromkeys(lead)),  # a sentence once
        citations=cites.out(),
        grounded=True,
        composer="rules",
        verdict=verdict,
    )


def rule_sentence(e: Entitlement, n: int, *, value: bool = True) -> str:
    condition = f"（{e.condition}）" if e.condition else ""
    stated = f"：{e.value}" if value else ""
    return f"按本行规定，{e.benefit}适用于{e.who()}{condition}{stated}。[{n}]"


def proposed_threshold(
    q: Question, e: Entitlement, st: Status, amount: Decimal, rows: list[Entitlement]
) -> Answer:
    """ "洗车六折是不是要日均3000万才有": whether the amount is the row's condition; when it is not, the
    row whose condition it is, if a row named alike has it ("日均金融资产3000万元以上是免费洗车的条件")."""
    cites = Citations()
    n = cites.n(e.cite)
    if st.verdict == "yes":
        word = "需要" if q.asks_requirement else "是"
        return done(q, [f"{word}：{st.reason}。[{n}]", rule_sentence(e, n)], cites, "yes")
    word = "不需要" if e.asset is None and q.asks_requirement else "不是"
    lead = [f"{word}：{st.reason}。[{n}]", rule_sentence(e, n)]
    for other in rows:
        if other is not e and other.asset is not None and other.asset.low == amount:
            lead.append(f"{other.asset_text}是{other.benefit}的条件：{other.value}。[{cites.n(other.cite)}]")
            break
    return done(q, lead, cites, "no")
