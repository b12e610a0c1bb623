from __future__ import annotations

from pathlib import Path

from knowledge import KnowledgeBase, check
from knowledge.types import WEAK_CONFIDENCE, Answer, Citation
from tests.knowledge.conftest import FakeEmbeddings


def test_findings_are_negation_aware() -> None:
    assert check.findings(["本行所有理财产品均保本保收益。"]) == ("承诺收益",)
    assert check.findings(["这款产品稳赚不赔，零风险。"]) == ("承诺收益",)
    assert check.findings(["客户经理不得向客户承诺保本或保证收益。"]) == ()
    assert check.findings(["钻石客户每年可预约专家挂号5次。"]) == ()


def test_flagged_answer_is_weak_and_labelled() -> None:
    cite = Citation(n=1, source="x.md", title="理财宣传", text="本行所有理财产品均保本保收益。")
    answer = Answer(
        question="q", lead=("本行所有理财产品均保本保收益。[1]",), citations=(cite,), grounded=True
    )
    checked = check.check(answer, None)
    assert checked.warnings == ("承诺收益",)
    assert checked.weak and checked.confidence < WEAK_CONFIDENCE


def test_rule_answers_are_confident_and_unused_citations_dropped() -> None:
    used = Citation(n=1, source="a", title="A", text="t")
    extra = Citation(n=2, source="b", title="B", text="u")
    answer = Answer(
        question="q", lead=("可以。[1]",), citations=(used, extra), grounded=True, composer="rules"
    )
    checked = check.check(answer, None)
    assert checked.citations == (used,) and checked.confidence >= checked.weak_below and not checked.weak


def test_uploaded_promise_of_returns_is_not_a_plain_answer(tmp_path: Path) -> None:
    doc = tmp_path / "理财宣传.md"
    doc.write_text(
        "# 理财产品宣传口径\n\n本行所有理财产品均保本保收益，客户可以放心购买。\n", encoding="utf-8"
    )
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=FakeEmbeddings())
    assert kb.ingest([doc]).ok
    answer = kb.ask("本行理财产品保本保收益吗")
    assert answer.grounded
    assert "承诺收益" in answer.warnings
    assert answer.weak
    kb.close()
