"""Provenance of the bundled corpus: every number and named entitlement it states must be in the bank's
documents (the seed), and no sentence may give a client tier an asset amount (the seed defines none).

Numbers are compared as values with their kind: money in yuan ("5000万元" = "5,000万" = "五千万"), US
dollars, percentages, discounts (折), counts (次) and plain numbers ("10年", "七类"); Chinese numerals and
full-width digits are normalised first (`knowledge.numerals`), so "每年5次" matches "钻石5次/年" and "十二次"
matches "12次". Plain numbers in the corpus may match a number of any kind in the seed (lists are counted
there as "(1)…(6)"), the other kinds only their own kind. Allowed exceptions and the seed wording of
entitlement names live in `provenance_exceptions.toml`, each with a reason.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from knowledge.loaders import parse_front_matter
from knowledge.numerals import chinese_int
from knowledge.rules import tables

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "knowledge" / "corpus"
EXCEPTIONS = Path(__file__).with_name("provenance_exceptions.toml")
FALLBACK_SEEDS = Path("/work/shared/seeds")

_CN = "零〇一二两三四五六七八九十百千"
# A Chinese numeral counts only before a measure word ("七类", "十二次"), never inside words (一定, 统一).
_MEASURE = (
    r"次|类|大类|种|个|项|步|年|月|日|号|名|人|家|本|张|折|倍|天|分钟|小时|级|层|部分|方面|阶段|位|组|条|点|季|期|岁|周"
    r"|章|届|所|笔|份|大"
)
_NUMBER = re.compile(
    rf"(?P<date>\d{{4}}-\d{{2}}-\d{{2}})"
    rf"|(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>亿|万|千)?\s*(?P<tail>美元|元|%|折|次)?"
    rf"|(?P<cn>[{_CN}]+)(?P<cnunit>亿|万)?(?=(?:{_MEASURE}|美元|元|%|折|次))(?P<cntail>美元|元|折|次)?"
)
_SEED_CN = re.compile(rf"(?P<cn>[{_CN}]+)(?P<cnunit>亿|万)?(?P<cntail>美元|元|折|次)?")
_UNITS = {"亿": Decimal(100_000_000), "万": Decimal(10_000), "千": Decimal(1_000), None: Decimal(1)}
_TIER_WORD = re.compile(r"钻石|白金|黄金|潜在客户|准入门槛|门槛")
_SENTENCE = re.compile(r"[。；;！？!?\n]")  # a table row is one unit


@dataclass(frozen=True, slots=True)
class Number:
    kind: str  # money / usd / pct / 折 / 次 / plain / date
    value: Decimal | str
    text: str  # as written

    @property
    def key(self) -> tuple[str, Decimal | str]:
        return (self.kind, self.value)


def seeds_dir() -> Path:
    """RM_SEEDS_DIR, else <repo>/../shared/seeds, else /work/shared/seeds; an AssertionError (a failure,
    never a skip) when none exists: the provenance check must not pass silently."""
    configured = os.environ.get("RM_SEEDS_DIR")
    candidates = [Path(configured)] if configured else [REPO.parent / "shared" / "seeds", FALLBACK_SEEDS]
    for path in candidates:
        if path.is_dir() and any(path.glob("*.txt")):
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise AssertionError(f"no seed documents found (tried {tried}); set RM_SEEDS_DIR to the seeds folder")


def seed_text(folder: Path | None = None) -> str:
    folder = folder or seeds_dir()
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt")))


def normalise(text: str) -> str:
    """Full-width forms to ASCII, thousands separators dropped, the seed's dash-for-一 ("—次") read as 一."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"(?<=[\dl]),(?=\d{3})", "", text)
    text = re.sub(r"(?<![A-Za-z])l(?=\d{3}万)", "1", text)  # the seed's OCR writes "l,000万元"
    return re.sub(r"[—–-](?=[次本张楼])", "一", text)


def _kind(unit: str | None, tail: str | None) -> str:
    if tail == "美元":
        return "usd"
    if tail == "元" or unit in ("万", "亿"):
        return "money"
    return {"%": "pct", "折": "折", "次": "次"}.get(tail or "", "plain")


def _make(value: Decimal, unit: str | None, tail: str | None, text: str) -> Number:
    kind = _kind(unit, tail)
    scaled = value * _UNITS[unit] if kind in ("money", "usd") or unit == "千" else value
    return Number(kind, scaled.normalize(), text)


def numbers(text: str, *, seed: bool = False) -> list[Number]:
    """Every number in `text` with its kind. In the seed every Chinese numeral run counts (its lists are
    counted by "(一)…(八)", "七大区别"); in the corpus only those before a measure word."""
    text = normalise(text)
    out: list[Number] = []
    for m in _NUMBER.finditer(text):
        if m.group("date"):
            out.append(Number("date", m.group("date"), m.group("date")))
        elif m.group("num"):
            try:
                value = Decimal(m.group("num"))
            except InvalidOperation:
                continue
            out.append(_make(value, m.group("unit"), m.group("tail"), m.group(0).strip()))
        elif not seed:
            found = _chinese(m.group("cn"), m.group("cnunit"), m.group("cntail"), m.group(0))
            if found is not None:
                out.append(found)
    if seed:
        for m in _SEED_CN.finditer(text):
            found = _chinese(m.group("cn"), m.group("cnunit"), m.group("cntail"), m.group(0))
            if found is not None:
                out.append(found)
    return out


def _chinese(numeral: str, unit: str | None, tail: str | None, text: str) -> Number | None:
    value = chinese_int(numeral)
    if value is None:
        return None
    return _make(Decimal(value), unit, tail, text)


def exceptions() -> dict[str, object]:
    return tomllib.loads(EXCEPTIONS.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    what: str  # number / entitlement / tier amount
    text: str

    def __str__(self) -> str:
        return f"{self.file}: {self.what} {self.text!r} is not in the seed"


def untraceable_numbers(name: str, text: str, seed: str, allowed: dict[str, object]) -> list[Finding]:
    seed_numbers = numbers(seed, seed=True)
    keys = {n.key for n in seed_numbers}
    values = {n.value for n in seed_numbers}
    excused = {(e["file"], e["text"]) for e in allowed.get("numbers", [])}  # type: ignore[attr-defined]
    out: list[Finding] = []
    for n in numbers(text):
        if n.key in keys or (n.kind == "plain" and n.value in values):
            continue
        if (name, n.text) in excused or ("*", n.text) in excused:
            continue
        out.append(Finding(name, "number", n.text))
    return out


def entitlement_names(text: str) -> list[str]:
    """The names in the 权益 column of every entitlement table (rules as data, `knowledge.rules`)."""
    names: list[str] = []
    for header, rows in tables(text):
        if "权益" in header and "适用客户" in header:
            col = header.index("权益")
            names.extend(row[col] for row in rows if len(row) > col and row[col])
    return names


def untraceable_entitlements(name: str, text: str, seed: str, allowed: dict[str, object]) -> list[Finding]:
    """Each part of an entitlement name ("免费洗车（可上门）" → 免费洗车, 可上门) must be in the seed as
    written, or have its seed wording listed in the exceptions file."""
    wording: dict[str, str] = allowed.get("entitlement_wording", {})  # type: ignore[assignment]
    plain_seed = normalise(seed).lower().replace(" ", "")
    out: list[Finding] = []
    for benefit in entitlement_names(text):
        for part in filter(None, re.split(r"[（）()]", normalise(benefit))):
            seed_words = wording.get(part, part)
            if seed_words.lower().replace(" ", "") not in plain_seed:
                out.append(Finding(name, "entitlement", part))
    return out


def tier_amounts(name: str, text: str, allowed: dict[str, object]) -> list[Finding]:
    """Sentences (or table rows) that name a client tier and a money amount: the seed gives no tier an
    asset standard, so any such pairing is invented (the 钻石 ≥ 5000万 table was one)."""
    excused = {(e["file"], e["text"]) for e in allowed.get("tier_amounts", [])}  # type: ignore[attr-defined]
    out: list[Finding] = []
    for sentence in _SENTENCE.split(text):
        if not _TIER_WORD.search(sentence):
            continue
        money = [n for n in numbers(sentence) if n.kind in ("money", "usd")]
        if money and (name, sentence.strip()) not in excused:
            out.append(Finding(name, "tier amount", sentence.strip()))
    return out


def check_file(name: str, text: str, seed: str, allowed: dict[str, object] | None = None) -> list[Finding]:
    allowed = exceptions() if allowed is None else allowed
    meta, body = parse_front_matter(text)
    front = "\n".join(f"{k}: {v}" for k, v in meta.items())
    return (
        untraceable_numbers(name, front + "\n" + body, seed, allowed)
        + untraceable_entitlements(name, body, seed, allowed)
        + tier_amounts(name, body, allowed)
    )
