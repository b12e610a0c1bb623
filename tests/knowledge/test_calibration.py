"""Calibrated confidence (knowledge.calibration): the packaged model loads, every answer carries the features
it was scored on, off-evidence answers are weak, and a missing or stale model fails closed."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from knowledge import KnowledgeBase, calibration, evidence, unstated
from knowledge.types import AnswerFeatures


def _packaged() -> dict[str, object]:
    data = json.loads(resources.files("knowledge").joinpath(calibration.MODEL_FILE).read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_packaged_model_loads_and_matches_the_features() -> None:
    model = calibration.model()
    assert model is not None
    assert model.names == AnswerFeatures.names()
    assert 0.5 <= model.threshold < 1.0


def test_answers_carry_their_features_and_the_model_confidence(bundled: KnowledgeBase) -> None:
    model = calibration.model()
    assert model is not None
    answer = bundled.ask("客户过生日客户经理要做点什么")
    f = answer.features
    assert answer.grounded and answer.composer == "extractive" and f is not None
    assert f.rules == 0 and f.top_fused > 0 and f.top_dense > 0.8 and 0 < f.coverage <= 1
    assert answer.confidence == round(model.probability(f), 3)
    assert answer.weak_below == model.threshold
    ruled = bundled.ask("钻石客户一年能约几次专家号？")
    assert ruled.composer == "rules" and ruled.features is not None and ruled.features.rules == 1
    assert not ruled.weak


def test_clearly_off_evidence_answer_is_weak(bundled: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    # With the relevance gate forced open, an off-topic question (not among the questions the model was
    # fitted on) gets the nearest passage as its "answer": the model must rate it weak (the gate is not the
    # only safeguard).
    monkeypatch.setattr(evidence, "STRONG_DENSE", 0.0)
    monkeypatch.setattr(evidence, "MIN_DENSE", 0.0)
    monkeypatch.setattr(evidence, "MIN_COVERAGE", 0.0)
    monkeypatch.setattr(evidence, "MIN_TERM_COVERAGE", 0.0)  # and the nearest-topic guard
    monkeypatch.setattr(unstated, "MAX_COVERAGE", 0.0)  # and the unmentioned-detail guard
    bundled.clear_caches()
    answer = bundled.ask("电脑蓝屏怎么办")
    bundled.clear_caches()
    assert answer.grounded and answer.features is not None
    assert answer.weak and answer.confidence < answer.weak_below


def test_model_rates_weak_evidence_below_strong_evidence() -> None:
    model = calibration.model()
    assert model is not None
    strong = AnswerFeatures(
        top_fused=0.8,
        fused_gap=0.3,
        top_dense=0.92,
        agreement=1.0,
        coverage=0.9,
        focus=1.0,
        own_rule=1.0,
        term_coverage=1.0,
    )
    off = AnswerFeatures(
        top_fused=0.15, fused_gap=0.0, top_dense=0.86, coverage=0.2, focus=0.5, lead_rank=4, term_coverage=0.3
    )
    assert model.probability(off) < model.threshold <= model.probability(strong)


def test_stale_model_file_is_rejected() -> None:
    data = _packaged()
    data["features"] = [*AnswerFeatures.names(), "new_signal"]
    with pytest.raises(ValueError, match="fitted on features"):
        calibration.parse(data)
    data = _packaged()
    data["threshold"] = 1.5
    with pytest.raises(ValueError, match="threshold"):
        calibration.parse(data)


def test_missing_model_fails_closed(bundled: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    assert calibration.model("no_such_model.json") is None
    monkeypatch.setattr(calibration, "model", lambda name=calibration.MODEL_FILE: None)
    bundled.clear_caches()
    answer = bundled.ask("钻石客户一年能约几次专家号？")
    bundled.clear_caches()
    assert answer.grounded and answer.confidence == 0.0 and answer.weak
