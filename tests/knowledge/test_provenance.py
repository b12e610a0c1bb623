"""The bundled corpus restates the bank's documents and adds nothing: every number, amount, count,
percentage and named entitlement in knowledge/corpus/*.md is in the seed, and no tier is given an asset
standard (see tests/knowledge/provenance.py; allowed exceptions in provenance_exceptions.toml)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from tests.knowledge import provenance

CORPUS_FILES = sorted(provenance.CORPUS.glob("*.md"))


@pytest.fixture(scope="module")
def seed() -> str:
    return provenance.seed_text()


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_file_is_traceable_to_the_seed(path: Path, seed: str) -> None:
    findings = provenance.check_file(path.name, path.read_text(encoding="utf-8"), seed)
    assert not findings, "\n".join(str(f) for f in findings)


def test_every_exception_has_a_reason_and_is_still_needed(seed: str) -> None:
    allowed = provenance.exceptions()
    for section in ("numbers", "tier_amounts"):
        for entry in allowed.get(section, []):  # type: ignore[attr-defined]
            assert entry.get("reason"), entry
            files = CORPUS_FILES if entry["file"] == "*" else [provenance.CORPUS / entry["file"]]
            texts = [f.read_text(encoding="utf-8") for f in files]
            found = [entry["text"] in t or entry["text"] in provenance.normalise(t) for t in texts]
            assert all(found), f"stale exception {entry}"
    wording: dict[str, str] = allowed["entitlement_wording"]  # type: ignore[assignment]
    for seed_words in wording.values():
        assert seed_words.lower() in provenance.normalise(seed).lower().replace(" ", ""), seed_words


def test_numbers_are_normalised() -> None:
    def keys(text: str) -> set[tuple[str, Decimal | str]]:
        return {n.key for n in provenance.numbers(text)}

    assert keys("每年5次") == keys("钻石5次/年") == {("次", Decimal(5))}
    assert keys("十二次") == keys("12次")
    assert (
        keys("5000万元")
        == keys("５０００万")
        == keys("五千万元")
        == keys("5,000万")
        == {("money", Decimal("5E+7"))}
    )
    assert keys("1000万美元") == {("usd", Decimal("1E+7"))}
    assert keys("9.9折") == {("折", Decimal("9.9"))} and keys("六折") == keys("6折")
    assert keys("客户票款优惠") == set() and keys("一对一、一站式、统一") == set()
    # the seed's dash for 一 ("—次"), its OCR "l,000万元"
    assert provenance.numbers("免费体检●—次", seed=True)[0].key == ("次", Decimal(1))
    assert ("money", Decimal("1E+7")) in {n.key for n in provenance.numbers("门槛是l,000万元", seed=True)}


def test_seed_folder_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "seed.txt").write_text("钻石5次/年", encoding="utf-8")
    monkeypatch.setenv("RM_SEEDS_DIR", str(tmp_path))
    assert provenance.seeds_dir() == tmp_path
    monkeypatch.setenv("RM_SEEDS_DIR", str(tmp_path / "missing"))
    with pytest.raises(AssertionError, match="no seed documents found"):
        provenance.seeds_dir()  # fails (never skips) when the seed is not there


@pytest.mark.parametrize(
    ("added", "what", "reported"),
    [
        ("钻石客户每年可享受8次免费洗车。", "number", "8次"),  # an invented count
        ("日均金融资产4000万元以上的客户另享生日礼金。", "number", "4000万元"),  # an invented amount
        ("客户推荐奖励为资产的3%。", "number", "3%"),  # an invented percentage
        (
            "钻石客户的标准是日均金融资产5000万元以上。",
            "tier amount",
            "钻石客户的标准是日均金融资产5000万元以上",
        ),
        ("| 高尔夫球场 | 高尔夫 | 钻石客户 | | | 每年5次 | 不享有 |", "entitlement", "高尔夫球场"),
    ],
)
def test_an_invented_fact_is_reported(
    tmp_path: Path, seed: str, added: str, what: str, reported: str
) -> None:
    """Fault injection: a copy of the entitlement document with one invented statement fails the check."""
    original = provenance.CORPUS / "03_增值服务权益.md"
    copy = tmp_path / original.name
    shutil.copyfile(original, copy)
    text = copy.read_text(encoding="utf-8")
    assert not provenance.check_file(copy.name, text, seed)
    if added.startswith("|"):  # a new row at the end of the entitlement table
        text = text.rstrip("\n") + "\n" + added + "\n"
    else:
        text = text.replace("## 赠书服务", f"## 赠书服务\n{added}\n", 1)
    copy.write_text(text, encoding="utf-8")
    findings = provenance.check_file(copy.name, copy.read_text(encoding="utf-8"), seed)
    assert [(f.what, f.text) for f in findings] == [(what, reported)]
    assert "is not in the seed" in str(findings[0])
