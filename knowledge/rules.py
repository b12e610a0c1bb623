"""Rules as data: tier thresholds and the entitlement table, parsed from tables in the indexed documents.

Trainers keep the rules where they keep the text, as Markdown tables in the knowledge documents (see
`knowledge/corpus/02_客户等级与分层服务.md` and `03_增值服务权益.md`); every rule remembers its document and
heading, so an answer computed from it cites the table it came from. Two table shapes are recognised by
their header:

* tier table: columns 客户等级 | 日均金融资产 (…): "≥ 5000万元", "3000万元（含）至5000万元", "< 1000万元";
* entitlement table: columns 权益 | 常见叫法 | 适用客户 | 资产条件 | 其他条件 | 次数/标准 | 其他客户, where
  其他客户 says what clients outside 适用客户/资产条件 get: "不享有…" (not entitled) or "未规定" (not stated).

A document that is removed takes its rules with it: the rule book is rebuilt from the indexed chunks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from knowledge.amounts import AmountRange, parse_range
from knowledge.authority import rank
from knowledge.lexicon import PB_TIERS, PB_WORDS, TIERS, tiers_in

logger = logging.getLogger(__name__)

_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}")
_ENTITLEMENT_COLUMNS = ("权益", "适用客户", "次数/标准")


@dataclass(frozen=True, slots=True)
class RuleSource:
    """Where a rule is written: the document, its heading, and the table row as readable text."""

    source: str
    title: str
    heading: str
    text: str
    authority: str = ""


@dataclass(frozen=True, slots=True)
class TierRule:
    tier: str  # 钻石 / 白金 / 黄金 / 潜在
    range: AmountRange  # daily average financial assets, yuan
    note: str
    cite: RuleSource


@dataclass(frozen=True, slots=True)
class Entitlement:
    benefit: str
    aliases: tuple[str, ...]
    tiers: tuple[str, ...]  # tiers it applies to
    asset: AmountRange | None  # asset condition, None = no asset condition
    asset_text: str  # the condition as written ("日均金融资产3000万元以上")
    condition: str  # other condition as written ("持本行私人银行卡…"), may be ""
    value: str  # count / discount / standard as written
    others: str  # for everyone else: "不享有…" or "未规定…"
    cite: RuleSource

    @property
    def others_not_stated(self) -> bool:
        return self.others.startswith(("未规定", "未列明", "资料未"))

    def who(self) -> str:
        """The clients it applies to, as a phrase."""
        if set(self.tiers) >= set(PB_TIERS):
            who = "私人银行客户"
        else:
            who = "、".join(f"{t}客户" for t in self.tiers)
        if self.asset_text:
            return f"{self.asset_text}的{who}" if who != "私人银行客户" else f"{self.asset_text}的客户"
        return who


@dataclass(frozen=True, slots=True)
class RuleBook:
    tiers: tuple[TierRule, ...] = ()
    entitlements: tuple[Entitlement, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tiers or self.entitlements)

    def tier_of(self, amount: Decimal) -> TierRule | None:
        return next((t for t in self.tiers if t.range.contains(amount)), None)

    def tier(self, name: str) -> TierRule | None:
        name = name.removesuffix("客户")
        return next((t for t in self.tiers if t.tier == name), None)

    def entry_threshold(self) -> TierRule | None:
        """The lowest private-bank tier: its lower bound is the entry threshold."""
        pb = [t for t in self.tiers if t.tier in PB_TIERS]
        return min(pb, key=lambda t: t.range.low) if pb else None

    def matching(self, text: str) -> list[tuple[Entitlement, int]]:
        """Entitlements the text names (by name or a common alias), longest match first."""
        lowered = text.lower()
        found: list[tuple[Entitlement, int]] = []
        for e in self.entitlements:
            best = max((len(a) for a in (e.benefit, *e.aliases) if a and a.lower() in lowered), default=0)
            if best:
                found.append((e, best))
        return sorted(found, key=lambda item: -item[1])


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown tables in `text` as (header cells, body rows)."""
    out: list[tuple[list[str], list[list[str]]]] = []
    lines = [line.strip() for line in text.split("\n")]
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
            header = cells(lines[i])
            rows: list[list[str]] = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            out.append((header, rows))
            continue
        i += 1
    return out


def cells(row: str) -> list[str]:
    return [c.strip().replace("**", "") for c in row.strip().strip("|").split("|")]


def render_row(header: Sequence[str], row: Sequence[str]) -> str:
    """A table row as a readable sentence: "列：值；列：值。" (empty cells left out)."""
    return "；".join(f"{h}：{c}" for h, c in zip(header, row, strict=False) if c) + "。"


@dataclass(frozen=True, slots=True)
class TableSource:
    """A piece of indexed text that may hold rule tables (a chunk, with its document's metadata)."""

    text: str
    source: str
    title: str
    heading: str
    authority: str


def build(pieces: Iterable[TableSource]) -> RuleBook:
    """Parse every rule table in `pieces`. When two documents define the same rule, the higher authority
    wins (then the first seen); the conflict is logged for the trainers."""
    tier_rules: dict[str, TierRule] = {}
    entitlements: dict[str, Entitlement] = {}
    for piece in sorted(pieces, key=lambda p: rank(p.authority)):
        for header, rows in tables(piece.text):
            if "客户等级" in header and any("金融资产" in h for h in header):
                for rule in _tier_rows(header, rows, piece):
                    _keep(tier_rules, rule.tier, rule)
            elif all(c in header for c in _ENTITLEMENT_COLUMNS):
                for ent in _entitlement_rows(header, rows, piece):
                    _keep(entitlements, ent.benefit, ent)
    ordered = sorted(tier_rules.values(), key=lambda t: -t.range.low)
    return RuleBook(tuple(ordered), tuple(entitlements.values()))


def _keep(
    table: dict[str, TierRule] | dict[str, Entitlement], key: str, rule: TierRule | Entitlement
) -> None:
    old = table.get(key)
    if old is None:
        table[key] = rule  # type: ignore[assignment]
    elif old.cite.source != rule.cite.source:
        logger.warning(
            "rule %s is defined in %s and %s; using the first", key, old.cite.source, rule.cite.source
        )


def _cite(piece: TableSource, header: Sequence[str], row: Sequence[str]) -> RuleSource:
    return RuleSource(piece.source, piece.title, piece.heading, render_row(header, row), piece.authority)


def _tier_rows(header: list[str], rows: list[list[str]], piece: TableSource) -> Iterable[TierRule]:
    amount_col = next(i for i, h in enumerate(header) if "金融资产" in h)
    tier_col = header.index("客户等级")
    note_col = header.index("说明") if "说明" in header else None
    for row in rows:
        if len(row) <= max(amount_col, tier_col):
            continue
        names = tiers_in(row[tier_col])
        amount_range = parse_range(row[amount_col])
        if len(names) != 1 or amount_range is None:
            logger.warning("tier table row not understood in %s: %s", piece.source, "|".join(row))
            continue
        note = row[note_col] if note_col is not None and note_col < len(row) else ""
        yield TierRule(names[0], amount_range, note, _cite(piece, header, row))


def _entitlement_rows(header: list[str], rows: list[list[str]], piece: TableSource) -> Iterable[Entitlement]:
    def col(row: list[str], name: str) -> str:
        return row[header.index(name)] if name in header and header.index(name) < len(row) else ""

    for row in rows:
        benefit = col(row, "权益")
        who = col(row, "适用客户")
        if not benefit or not who:
            continue
        named = tiers_in(who)
        tiers = tuple(t for t in TIERS if t in named) or (PB_TIERS if any(w in who for w in PB_WORDS) else ())
        if not tiers:
            logger.warning("entitlement row without clients in %s: %s", piece.source, benefit)
            continue
        asset_text = col(row, "资产条件")
        asset = parse_range(asset_text) if asset_text else None
        aliases = tuple(a.strip() for a in re.split(r"[、,，/]", col(row, "常见叫法")) if a.strip())
        yield Entitlement(
            benefit=benefit,
            aliases=aliases,
            tiers=tiers,
            asset=asset,
            asset_text=asset_text,
            condition=col(row, "其他条件"),
            value=col(row, "次数/标准"),
            others=col(row, "其他客户") or "未规定",
            cite=_cite(piece, header, row),
        )
