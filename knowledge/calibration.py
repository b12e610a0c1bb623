"""Calibrated confidence: the probability that an answer's lead is correct, predicted from what the pipeline
knew when it composed the answer (`AnswerFeatures`: composer, verdict, retrieval scores and margins,
coverage, focus, authority …).

The model is a logistic regression fitted offline by `bench/fit_calibration.py` (scikit-learn, on the
bench answer sets) and stored in knowledge/calibration.json with the weak threshold chosen with it. It is
applied here with plain math, so the ask path never imports scikit-learn. Refit after changing the
pipeline, the corpus or the bench sets: `.venv/bin/python bench/fit_calibration.py`.

A missing, unreadable or stale model file (its feature names differ from `AnswerFeatures`) fails closed:
every answer gets confidence 0 and is weak, and the error is logged.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from dataclasses import dataclass
from importlib import resources

from knowledge import authority, listing
from knowledge.evidence import CONDITION, Evidence
from knowledge.question import LIST, MAX_CHARS
from knowledge.types import Answer, AnswerFeatures

logger = logging.getLogger(__name__)

MODEL_FILE = "calibration.json"
_MARKER = re.compile(r"\[\d{1,2}\]")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Model:
    """p = sigmoid(intercept + Σ coef_i · (x_i - mean_i) / scale_i); weak when p < threshold."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, f: AnswerFeatures) -> float:
        z = self.intercept + sum(
            c * (x - m) / s for c, x, m, s in zip(self.coef, f.vector(), self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def parse(data: object) -> Model:
    """The model in the JSON written by bench/fit_calibration.py; ValueError when it does not fit."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    names = tuple(data["features"])
    if names != AnswerFeatures.names():
        raise ValueError(f"fitted on features {names}, the pipeline computes {AnswerFeatures.names()}")
    mean, scale, coef = (tuple(float(v) for v in data[key]) for key in ("mean", "scale", "coef"))
    if not len(mean) == len(scale) == len(coef) == len(names) or any(s <= 0 for s in scale):
        raise ValueError("mean/scale/coef do not match the features")
    threshold = float(data["threshold"])
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold {threshold} outside (0, 1)")
    return Model(names, mean, scale, coef, float(data["intercept"]), threshold)


@functools.cache
def model(name: str = MODEL_FILE) -> Model | None:
    """The packaged model, read once; None (logged) when it is missing or does not fit the pipeline."""
    try:
        text = resources.files("knowledge").joinpath(name).read_text(encoding="utf-8")
        return parse(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.error("confidence model %s unusable, every answer is marked weak: %s", name, exc)
        return None


def features(answer: Answer, ev: Evidence | None, *, flagged: bool = False) -> AnswerFeatures:
    """The model's inputs for `answer` composed from `ev` (None for rule-table answers)."""
    verdict = answer.verdict
    text = _MARKER.sub("", answer.answer)
    common = {
        "rules": float(answer.composer == "rules"),
        "llm": float(answer.composer == "llm"),
        "verdict_yes": float(verdict == "yes"),
        "verdict_no": float(verdict == "no"),
        "verdict_not_stated": float(verdict == "not_stated"),
        "number": float(bool(_DIGIT.search(text))),
        "findings": float(flagged),
    }
    if ev is None:
        # A rule-table answer matched the entitlement the question names: its terms are the row's.
        asks_list = listing.wants_list(answer.question[:MAX_CHARS])
        return AnswerFeatures(
            **common, term_coverage=1.0, rules_list=float(answer.composer == "rules" and asks_list)
        )
    cands = ev.candidates
    tier = ev.question.subject_tier
    fused = [c.fused for c in cands]
    dense = sorted((c.dense for c in cands), reverse=True)
    top = fused[0] if fused else 0.0
    agree = 0.0
    if cands:
        bm25_top = max(range(len(cands)), key=lambda i: (cands[i].bm25, -i))
        dense_top = max(range(len(cands)), key=lambda i: (cands[i].dense, -i))
        agree = ((bm25_top == 0) + (dense_top == 0)) / 2
    return AnswerFeatures(
        **common,
        undecided=float(ev.missing == "verdict" and verdict is None),  # no later stage decided it
        listed=float(len(ev.lead) >= 2),
        top_fused=top,
        fused_gap=(top - fused[1]) / top if len(fused) > 1 and top > 0 else 1.0 if fused else 0.0,
        top_dense=ev.top_dense,
        dense_gap=dense[0] - dense[1] if len(dense) > 1 else 0.0,
        agreement=agree,
        lead_rank=float(ev.lead_rank),
        coverage=ev.coverage,
        focus=ev.focus,
        own_rule=float(ev.lead_authority == authority.OWN_RULE),
        peer_case=float(ev.lead_authority == authority.PEER_CASE),
        term_coverage=ev.term_coverage,
        list_single=float(ev.question.kind == LIST and len(ev.lead) < 2 and not ev.list_intro),
        # A no the rule's own condition or the scope check decided (the evidence's yes turned over).
        condition=float(ev.marker == CONDITION or (verdict == "no" and ev.verdict != "no")),
        tier_missing=float(tier is not None and all(tier not in text for text, _n in ev.lead)),
        uncovered=min(len(ev.uncovered), 3) / 3,
    )
