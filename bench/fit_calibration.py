"""Fit the confidence model (knowledge/calibration.json): the probability that an answer's lead is correct,
from the features the pipeline computes (`knowledge.types.AnswerFeatures`), and the weak threshold.

    .venv/bin/python bench/fit_calibration.py            # refit and write knowledge/calibration.json
    .venv/bin/python bench/fit_calibration.py --dry-run  # print the cross-validated figures only

Data: every grounded answer of the dev answer sets (bench/answers_eval.jsonl, bench/answers_heldout.jsonl
and the first five blind sets, bench/answers_blind1.jsonl … answers_blind5.jsonl, dev sets since they were
measured: they supply real wrong answers), labelled 1 when judged correct by bench/bench_answers.py's judge.
(The retrieval eval, labelled by "the fact is in the answer text", was tried as more data and dropped: that
label is too noisy, out-of-fold log loss on the answer sets got worse.) Refusals are not answers; instead,
the questions the pipeline refused are asked again with the relevance gate open (knowledge.evidence
thresholds at 0) and the answers it would have given are judged the same way: off-topic questions then
supply the clearly off-evidence answers (judged wrong) the model must rate low.

Model: standardised features, L2 logistic regression (scikit-learn); C is chosen by repeated stratified
5-fold cross-validation (log loss, one-standard-error rule). The weak threshold is chosen on the
out-of-fold probabilities: the lowest threshold (at least 0.5) at which, among the dev answers not marked
weak, at most MAX_ERROR are not correct, and at least MIN_OFF_WEAK of the gate-open answers are marked
weak, while at most MAX_WEAK of the dev answers are marked weak (see choose_threshold). The file is
applied at run time with plain math (knowledge.calibration), so refitting is this one command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
from bench_answers import CORRECT, client_of, judge, load  # noqa: E402

from knowledge import Answer, KnowledgeBase, evidence  # noqa: E402
from knowledge.types import AnswerFeatures  # noqa: E402

ANSWER_SETS = (
    "bench/answers_eval.jsonl",
    "bench/answers_heldout.jsonl",
    "bench/answers_blind1.jsonl",
    "bench/answers_blind2.jsonl",
    "bench/answers_blind3.jsonl",
    "bench/answers_blind4.jsonl",
    "bench/answers_blind5.jsonl",
)
GATE_OPEN = " (gate open)"
MODEL = REPO / "knowledge" / "calibration.json"
MAX_ERROR = 0.02  # not-correct share among answered answers not marked weak
MAX_WEAK = 0.15  # share of answered answers marked weak
MIN_THRESHOLD = 0.5  # below it an answer is more likely wrong than right: always weak
MIN_OFF_WEAK = 0.95  # share of the gate-open (clearly off-evidence) answers that must be marked weak
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
FOLDS, REPEATS = 5, 5


@contextlib.contextmanager
def gate_open() -> Iterator[None]:
    """Evidence selection without its relevance gate: off-evidence questions get the answer the pipeline
    would have composed had it not refused them (the clearly off-evidence answers the model must rate low)."""
    saved = evidence.STRONG_DENSE, evidence.MIN_DENSE, evidence.MIN_COVERAGE
    evidence.STRONG_DENSE, evidence.MIN_DENSE, evidence.MIN_COVERAGE = 0.0, 0.0, 0.0
    try:
        yield
    finally:
        evidence.STRONG_DENSE, evidence.MIN_DENSE, evidence.MIN_COVERAGE = saved


def collect(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """One record per grounded answer: set, id, features, label (1 = correct)."""
    records: list[dict[str, Any]] = []
    refused: list[tuple[str, dict[str, Any]]] = []
    for rel in ANSWER_SETS:
        for row in load(REPO / rel):
            answer = kb.ask(row["question"], client=client_of(row))
            if answer.grounded and answer.features is not None:
                judged = judge(row["expect"], answer)
                records.append(_record(rel, row, answer, int(judged == CORRECT), judged))
            else:
                refused.append((rel, row))
    kb.clear_caches()
    with gate_open():
        for rel, row in refused:
            answer = kb.ask(row["question"], client=client_of(row))
            if answer.grounded and answer.features is not None:
                judged = judge(row["expect"], answer)
                records.append(_record(rel + GATE_OPEN, row, answer, int(judged == CORRECT), judged))
    kb.clear_caches()
    return records


def _record(rel: str, row: dict[str, Any], answer: Answer, label: int, judged: str) -> dict[str, Any]:
    assert answer.features is not None
    return {
        "set": rel,
        "id": row["id"],
        "question": row["question"],
        "answer": answer.answer[:200],
        "judged": judged,
        "label": label,
        "x": list(answer.features.vector()),
    }


def cross_validate(x: np.ndarray, y: np.ndarray, c: float) -> tuple[float, float, np.ndarray]:
    """Mean out-of-fold log loss over the repeats, its standard error, and the mean out-of-fold
    probability of each row."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import RepeatedStratifiedKFold

    folds = min(FOLDS, int(min(y.sum(), len(y) - y.sum())))
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=REPEATS, random_state=17)
    oof = np.zeros((REPEATS, len(y)))
    for i, (train, test) in enumerate(splitter.split(x, y)):
        oof[i // folds, test] = make(c).fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    losses = [log_loss(y, p, labels=[0, 1]) for p in oof]
    return float(np.mean(losses)), float(np.std(losses) / np.sqrt(len(losses))), oof.mean(axis=0)


def make(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def choose_threshold(p: np.ndarray, y: np.ndarray, off: np.ndarray) -> dict[str, Any]:
    """The weak threshold, from out-of-fold probabilities `p` of the dev answers (labels `y`) and `off` of
    the gate-open answers: the lowest t ≥ MIN_THRESHOLD with error ≤ MAX_ERROR among the dev answers not
    marked weak and ≥ MIN_OFF_WEAK of the gate-open answers marked weak; the dev weak share must stay ≤
    MAX_WEAK (when it cannot, the highest t within MAX_WEAK is taken and the run says so)."""

    def figures(t: float) -> dict[str, Any]:
        kept = p >= t
        return {
            "threshold": round(t, 4),
            "error_not_weak": round(float(1 - y[kept].mean()), 4) if kept.any() else 0.0,
            "weak_share": round(float(1 - kept.mean()), 4),
            "off_evidence_weak": round(float((off < t).mean()), 4) if len(off) else None,
        }

    grid = sorted({MIN_THRESHOLD, *(round(float(v), 4) + 1e-4 for v in (*p, *off) if v >= MIN_THRESHOLD)})
    within = [t for t in grid if figures(t)["weak_share"] <= MAX_WEAK] or [MIN_THRESHOLD]
    for t in within:
        f = figures(t)
        if f["error_not_weak"] <= MAX_ERROR and (f["off_evidence_weak"] or 1.0) >= MIN_OFF_WEAK:
            return f | {"met": True}
    return figures(within[-1]) | {"met": False}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="do not write knowledge/calibration.json")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-calibration-") as tmp:
        kb = KnowledgeBase(data_dir=Path(tmp))
        report = kb.sync_bundled()
        assert report.ok, report.failed
        records = collect(kb)
        kb.close()
    x = np.array([r["x"] for r in records], dtype=float)
    y = np.array([r["label"] for r in records], dtype=int)
    dev = np.array([r["set"] in ANSWER_SETS for r in records])
    wrong = int((1 - y).sum())
    print(f"{len(y)} grounded answers ({int(dev.sum())} from the answer sets), {wrong} not correct")
    if y.min() == y.max():
        sys.exit("every answer has the same label: nothing to fit")
    cv = {c: cross_validate(x, y, c) for c in C_GRID}
    print("\n| C | CV log loss | standard error |\n|---|---|---|")
    for c, (loss, se, _p) in cv.items():
        print(f"| {c} | {loss:.4f} | {se:.4f} |")
    # One-standard-error rule: the most regularised C within one SE of the best. The negatives are few
    # and nearly separable, so the least regularised fits chase them (and generalise worse).
    lowest = min(cv, key=lambda c: cv[c][0])
    best_c = min(c for c in cv if cv[c][0] <= cv[lowest][0] + cv[lowest][1])
    oof = cv[best_c][2]
    # Findings and undecided answers are weak by rule (knowledge.check), whatever the model says.
    names = AnswerFeatures.names()
    capped = (x[:, names.index("undecided")] > 0) | (x[:, names.index("findings")] > 0)
    served = np.where(capped, 0.0, oof)
    gate = np.array([r["set"].endswith(GATE_OPEN) for r in records])
    chosen = choose_threshold(served[dev], y[dev], served[gate])
    print(f"\nC = {best_c}; threshold (out-of-fold, dev answer sets and gate-open answers): {chosen}")
    if not chosen["met"]:
        print(f"WARNING: no threshold meets error ≤ {MAX_ERROR} and off-evidence weak ≥ {MIN_OFF_WEAK}")
    fitted = make(best_c).fit(x, y)
    scaler, logit = fitted.named_steps["standardscaler"], fitted.named_steps["logisticregression"]
    model = {
        "features": list(AnswerFeatures.names()),
        "mean": [round(float(v), 6) for v in scaler.mean_],
        "scale": [round(float(v), 6) if v > 0 else 1.0 for v in scaler.scale_],
        "coef": [round(float(v), 6) for v in logit.coef_[0]],
        "intercept": round(float(logit.intercept_[0]), 6),
        "threshold": chosen["threshold"],
        "fit": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "bench/fit_calibration.py",
            "records": len(y),
            "not_correct": int((1 - y).sum()),
            "C": best_c,
            "cv_log_loss": round(cv[best_c][0], 4),
            "weak_share_dev": chosen["weak_share"],
            "error_not_weak_dev": chosen["error_not_weak"],
            "off_evidence_weak": chosen["off_evidence_weak"],
        },
    }
    print("\n| feature | coef (standardised) |\n|---|---|")
    for name, coef in sorted(zip(model["features"], model["coef"], strict=True), key=lambda t: -abs(t[1])):
        print(f"| {name} | {coef:+.3f} |")
    opts.out.mkdir(parents=True, exist_ok=True)
    data = opts.out / f"calibration-data-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    for r, p in zip(records, oof, strict=True):
        r["p_oof"] = round(float(p), 4)
    data.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\nrecords: {data}")
    if not opts.dry_run:
        lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in model.items()]
        MODEL.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
        print(f"model: {MODEL}")


if __name__ == "__main__":
    main()
