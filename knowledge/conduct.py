"""Conduct rules: what may not be said to a client (promises of principal or return, absolutes, expected
returns of net-value products, products passed off as deposits, pressure, belittled risk disclosures,
other clients' data), as data with the regulation article each rule rests on.

The table is `conduct_rules.toml` (package data). This module is the pure text engine: it knows no CRM
and no chat. The bot's message check (`bot/features/message_check`) adds client names, the number masker
and suitability on top; the answer check (`knowledge/check.py`) and the bot's compliance warnings use
the same rules, so the assistant never disagrees with itself about what a promise of return is.

A match is not a violation when a negation opens it in the same clause ("这款产品不保本", "理财非存款",
"不得承诺保本"), when it is asked rather than stated ("是否保本？", "收益能不能到5%"), when it is quoted to
warn against it ("“稳赚不赔”的广告别信"), when the rule's `unless` pattern appears in its clause (or
sentence: "请您本人完成测评"), when the rule's `near` pattern is missing from its sentence, when the writer
declines to promise or reports someone else's promise ("我没法保证…", "有人跟您说保本"), when it is a
condition ("…的话"), when a clause says no product can ("没有哪款产品能保证稳赚"; a second negation turns it
back: "没有哪个客户不是稳赚的"), when it is attributed to others in a sentence that warns ("谨防保本高收益的
骗局"), when the writer declines the act ("题目我不能替您选"), when a promise of principal is said of a
deposit and no other product ("大额存单是保本保息的存款产品"), or when a superlative or an urgency is said
of something other than a product in a message about no product ("全省最好的高中"). Spaces, emoji and
zero-width characters are removed and dialect forms ("唔会蚀本", "勿会少") read as Mandarin before matching
(`knowledge/conduct_text.py`).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from knowledge.conduct_text import (
    about_something_else,
    clause_end,
    clause_start,
    expand,
    mandarin,
    said_of_a_deposit,
    sentence_end,
    sentence_start,
    stated,
    without_filler,
)

logger = logging.getLogger(__name__)

CATEGORIES = (
    "guarantee",
    "superlative",
    "expected_return",
    "deposit_like",
    "pressure",
    "disclosure",
    "privacy",
    "suitability",
)
#: Forms of address after a client's name at the start of a message ("张伟先生，您好").
#: Categories that are only about a product: a superlative or an urgency said of a school or an
#: appointment, in a message that names no product or money, is no finding.
ABOUT_A_PRODUCT = ("superlative", "pressure")
#: Categories where a promise said of a deposit, and of no other product, is a fact.
DEPOSIT_FACTS = ("guarantee",)
#: A person or a person's number: what a privacy finding is about.
_PERSON = re.compile(
    r"客户|先生|女士|小姐|总|姐|哥|阿姨|叔|伯|老板|老师|他|她|家|人|朋友|同事|邻居|身份证|证件|卡|手机|电话|"
    r"号码|账号|账户|[0-9０-９]{11,}"
)
_ADDRESS = (
    r"(?:先生|女士|小姐|总|老师|阿姨|叔叔|姐|哥|大哥|大姐)?\s*"
    r"(?:[，,：:！!\s]|您好|你好|早上好|下午好|晚上好)"
)


class RegulationsMissing(RuntimeError):
    """The directory of regulation texts the rules quote could not be found."""


@dataclass(frozen=True, slots=True)
class ConductRule:
    id: str
    category: str
    label: str  # Chinese, shown to the RM
    document: str  # the regulation's title (also its file name, + ".md")
    article: str
    quote: str  # verbatim from the regulation
    suggestion: str
    rewrite: str  # "drop" | "remove" | "mask" | a replacement text
    adds: str = ""
    negatable: bool = True
    patterns: tuple[re.Pattern[str], ...] = ()
    unless: re.Pattern[str] | None = None
    requires: re.Pattern[str] | None = None
    near: re.Pattern[str] | None = None
    unless_sentence: bool = False  # `unless` looked for in the whole sentence, not just the clause
    cites_category: bool = False  # cited for its category by the learned second opinion

    @property
    def source(self) -> str:
        return f"《{self.document}》{self.article}：{self.quote}"


@dataclass(frozen=True, slots=True)
class ConductFinding:
    """One offending span of a text and the rule it breaks."""

    rule: ConductRule
    text: str
    start: int
    end: int

    @property
    def category(self) -> str:
        return self.rule.category

    def to_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule.id,
            "category": self.rule.category,
            "label": self.rule.label,
            "text": self.text,
            "source": self.rule.source,
            "suggestion": self.rule.suggestion,
        }


class NameIndex:
    """Find known names in a text in one pass (names by their first two characters, longest first): a
    regex alternation of many thousands of client names would be far slower, and so would a key of one
    character (a common surname starts thousands of names)."""

    def __init__(self, names: Iterable[str]) -> None:
        grouped: dict[str, list[str]] = {}
        for name in {n.strip() for n in names}:
            if len(name) >= 2:  # one-character "names" are ordinary words
                grouped.setdefault(name[:2], []).append(name)
        self._by_prefix = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in grouped.items()}

    def __bool__(self) -> bool:
        return bool(self._by_prefix)

    def find(self, text: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        i = 0
        while i < len(text) - 1:
            step = 1
            for name in self._by_prefix.get(text[i : i + 2], ()):
                if text.startswith(name, i):
                    found.append((name, i))
                    step = len(name)
                    break
            i += step
        return found


class ConductRules:
    """The rule table, compiled; `scan` is pure and thread-safe."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        documents: dict[str, str] = dict(table["documents"])
        self.risk_wording: str = table["risk_wording"]["text"]
        self._promotes = re.compile(table["risk_wording"]["promotes"])
        macros: dict[str, str] = dict(table.get("macros", {}))

        def compiled(pattern: str | None, flags: int = 0) -> re.Pattern[str] | None:
            return re.compile(expand(pattern, macros), flags) if pattern else None

        rules = []
        for raw in table["rule"]:
            if raw["category"] not in CATEGORIES:
                raise ValueError(f"conduct rule {raw['id']}: unknown category {raw['category']!r}")
            rules.append(
                ConductRule(
                    id=raw["id"],
                    category=raw["category"],
                    label=raw["label"],
                    document=documents[raw["document"]],
                    article=raw["article"],
                    quote=raw["quote"],
                    suggestion=raw["suggestion"],
                    rewrite=raw.get("rewrite", "drop"),
                    adds=raw.get("adds", ""),
                    negatable=bool(raw.get("negatable", True)),
                    patterns=tuple(
                        re.compile(expand(p, macros), re.IGNORECASE) for p in raw.get("patterns", ())
                    ),
                    unless=compiled(raw.get("unless")),
                    requires=compiled(raw.get("requires")),
                    near=compiled(raw.get("near")),
                    unless_sentence=raw.get("unless_scope", "clause") == "sentence",
                    cites_category=bool(raw.get("cites_category", False)),
                )
            )
        self.rules: tuple[ConductRule, ...] = tuple(rules)
        self._by_id = {r.id: r for r in rules}

    @classmethod
    def load(cls, text: str | None = None) -> ConductRules:
        """The packaged table, or `text` (a TOML document of the same shape)."""
        if text is None:
            text = resources.files("knowledge").joinpath("conduct_rules.toml").read_text(encoding="utf-8")
        return cls(tomllib.loads(text))

    def rule(self, rule_id: str) -> ConductRule:
        return self._by_id[rule_id]

    def cited_for(self, category: str) -> ConductRule:
        """The rule whose source and suggestion a finding of `category` as a whole cites (the learned
        second opinion's): the one marked `cites_category`, else the category's first."""
        rules = [r for r in self.rules if r.category == category]
        if not rules:
            raise KeyError(category)
        return next((r for r in rules if r.cites_category), rules[0])

    def promotes(self, text: str) -> bool:
        """The text is about a product (so a rewrite carries the required risk wording)."""
        return bool(self._promotes.search(text))

    def scan(
        self,
        text: str,
        *,
        names: NameIndex | None = None,
        recipient: str | None = None,
        categories: Collection[str] | None = None,
        asked: bool = False,
    ) -> tuple[ConductFinding, ...]:
        """Every violation in `text`, in text order (overlapping spans: the first rule's wins).

        `asked`: a question about it counts too ("收益有保证吗"): for what RMs ask the assistant, where
        the topic itself deserves the reminder; a message or an answer only breaks a rule by stating it.

        `names`: known client names; one other than `recipient` (or, without a recipient, the one the
        message opens by addressing) next to holdings, amounts or circumstances is a privacy finding."""
        if not text:
            return ()
        original = text
        plain, where = without_filler(text)
        text = mandarin(plain)
        found: list[ConductFinding] = []
        for rule in self.rules:
            if categories is not None and rule.category not in categories:
                continue
            if not rule.patterns or rule.id == "privacy_client":
                continue
            if rule.requires is not None and not rule.requires.search(text):
                continue
            for pattern in rule.patterns:
                for m in pattern.finditer(text):
                    if m.end() > m.start() and self._counts(rule, text, m.start(), m.end(), asked):
                        found.append(ConductFinding(rule, plain[m.start() : m.end()], m.start(), m.end()))
        if names and (categories is None or "privacy" in categories):
            found += self._privacy(text, names, recipient)
        if where is None:
            return _without_overlaps(found)
        spans = ((f.rule, where[f.start], where[f.end - 1] + 1) for f in found)
        return _without_overlaps([ConductFinding(r, original[a:b], a, b) for r, a, b in spans])

    def _counts(self, rule: ConductRule, text: str, start: int, end: int, asked: bool = False) -> bool:
        if rule.unless is not None:
            if rule.unless_sentence:
                scope = (sentence_start(text, start), sentence_end(text, end))
            else:
                scope = (clause_start(text, start), clause_end(text, end))
            if rule.unless.search(text, *scope):
                return False
        if rule.near is not None and not rule.near.search(
            text, sentence_start(text, start), sentence_end(text, end)
        ):
            return False
        if rule.category in ABOUT_A_PRODUCT and about_something_else(text, start, end):
            return False
        if rule.category in DEPOSIT_FACTS and not asked and said_of_a_deposit(text, start, end):
            return False
        return not rule.negatable or stated(text, start, end, asked=asked)

    def _privacy(self, text: str, names: NameIndex, recipient: str | None) -> list[ConductFinding]:
        rule = self._by_id["privacy_client"]
        hits = names.find(text)
        if recipient is None and hits:
            first, at = hits[0]
            if re.match(rf"(?:尊敬的|亲爱的)?\s*{re.escape(first)}{_ADDRESS}", text[max(0, at - 4) :]) and (
                at <= 4
            ):
                recipient = first
        out: list[ConductFinding] = []
        for name, at in hits:
            if name == recipient:
                continue
            s_start = sentence_start(text, at)
            s_end = sentence_end(text, at + len(name))
            sentence = text[s_start:s_end]
            if rule.unless is not None and rule.unless.search(sentence):
                continue  # a refusal to tell ("这属于其他客户的隐私，我不能说")
            if any(p.search(sentence) for p in rule.patterns):
                out.append(ConductFinding(rule, name, at, at + len(name)))
        return out

    def second_opinion_holds(
        self, category: str, text: str, start: int, end: int, *, names: NameIndex | None = None
    ) -> bool:
        """Whether the learned second opinion's finding of `category` in the sentence `text[start:end]`
        stands: not when the sentence is about something other than a product (as for the rules), nor
        when a rule of the category matched in it and the rules read the match as negated, warned
        against, quoted or a deposit's fact: the model reads no negation, the rules do. (A match the
        rules let go for an `unless` word leaves the model's opinion standing.) A privacy finding needs
        a person in the sentence (a form of address, a known client's name from `names`) or a number as
        long as a phone, card or ID number: a parcel's tracking number is nobody's data."""
        if category in ABOUT_A_PRODUCT and about_something_else(text, start, end):
            return False
        if category == "privacy" and not (
            _PERSON.search(text, start, end) or (names and names.find(text[start:end]))
        ):
            return False
        sentence = mandarin(without_filler(text[start:end])[0])
        for rule in self.rules:
            if rule.category != category or not rule.negatable:
                continue
            for pattern in rule.patterns:
                for m in pattern.finditer(sentence):
                    a, b = m.start(), m.end()
                    if b > a and not stated(sentence, a, b):
                        return False
                    if b > a and category in DEPOSIT_FACTS and said_of_a_deposit(sentence, a, b):
                        return False
        return True

    def findings_in(
        self, texts: Iterable[str], categories: Collection[str], *, asked: bool = False
    ) -> tuple[ConductRule, ...]:
        """The rules of `categories` broken anywhere in `texts` (each once, in table order)."""
        broken = {f.rule.id for t in texts for f in self.scan(t, categories=categories, asked=asked)}
        return tuple(r for r in self.rules if r.id in broken)


def _without_overlaps(found: list[ConductFinding]) -> tuple[ConductFinding, ...]:
    """One finding per span and category (spans of different categories may overlap: "稳拿4%" promises
    principal and a return)."""
    kept: list[ConductFinding] = []
    last_end: dict[str, int] = {}
    for f in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if f.start < last_end.get(f.category, -1):
            continue
        kept.append(f)
        last_end[f.category] = f.end
    return tuple(kept)


@lru_cache(maxsize=1)
def default_rules() -> ConductRules:
    """The packaged rule table (read and compiled once)."""
    return ConductRules.load()


PROMISE_LABEL = "承诺收益"


def promise_labels(texts: Iterable[str], *, asked: bool = False) -> tuple[str, ...]:
    """("承诺收益",) when any text promises principal or a return (the guarantee and expected-return
    rules of the one table): the label the answer check and the bot's compliance warnings share."""
    rules = default_rules().findings_in(texts, ("guarantee", "expected_return"), asked=asked)
    return (PROMISE_LABEL,) if rules else ()


# --- the regulation texts the rules quote --------------------------------------------------------
def regulations_dir(environ: Mapping[str, str] | None = None) -> Path:
    """RM_REGULATIONS_DIR, else <repo>/../shared/regulations, else /work/shared/regulations."""
    env = os.environ if environ is None else environ
    candidates = []
    if env.get("RM_REGULATIONS_DIR"):
        candidates.append(Path(env["RM_REGULATIONS_DIR"]))
    else:
        candidates += [
            Path(__file__).resolve().parents[1].parent / "shared" / "regulations",
            Path("/work/shared/regulations"),
        ]
    for path in candidates:
        if path.is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise RegulationsMissing(f"regulation texts not found (tried {tried}); set RM_REGULATIONS_DIR")


def unquoted(rules: ConductRules, directory: Path) -> list[str]:
    """Rules whose quote does not occur verbatim in their regulation file (empty: all sources hold)."""
    bad: list[str] = []
    for rule in rules.rules:
        path = directory / f"{rule.document}.md"
        try:
            body = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RegulationsMissing(f"cannot read {path}: {exc.strerror or exc}") from exc
        article = re.search(rf"^{re.escape(rule.article)}\s.*$", body, re.MULTILINE)
        if article is None or rule.quote not in article.group(0):
            bad.append(rule.id)
    return bad
