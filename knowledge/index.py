"""The search snapshot: every indexed chunk with its BM25 index, dense matrix and rule book, rebuilt whole
when the documents change (so nothing derived from them — cached answers included — is ever stale)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from knowledge import rules
from knowledge.lexical import BM25Index
from knowledge.manifest import StoredChunk

logger = logging.getLogger(__name__)

#: Answers each snapshot remembers (a few KB each): RMs ask the same questions again and again.
ANSWER_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Snapshot:
    chunks: list[StoredChunk]
    by_id: dict[str, StoredChunk]
    bm25: BM25Index
    matrix: Any  # numpy (n, dim) row-normalised, or None when dense search goes to Chroma
    rules: rules.RuleBook
    #: Names this content: a hash of every chunk's source, position and text (stable across restarts).
    id: str = ""
    answers: OrderedDict[tuple[str, Any], Any] = field(default_factory=OrderedDict)  # pipeline.Draft
    answers_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, chunks: list[StoredChunk], *, local_dense: bool) -> Snapshot:
        book = rules.build(
            rules.TableSource(c.text, c.source, c.title, c.heading, c.authority)
            for c in chunks
            if "|" in c.text
        )
        return cls(
            chunks=chunks,
            by_id={c.chunk_id: c for c in chunks},
            bm25=BM25Index([c.tokens for c in chunks]),
            matrix=dense_matrix(chunks) if local_dense else None,
            rules=book,
            id=content_id(chunks),
        )

    def cached(self, key: tuple[str, Any]) -> Any:
        with self.answers_lock:
            found = self.answers.get(key)
            if found is not None:
                self.answers.move_to_end(key)
            return found

    def remember(self, key: tuple[str, Any], answer: Any) -> None:
        with self.answers_lock:
            self.answers[key] = answer
            while len(self.answers) > ANSWER_CACHE_SIZE:
                self.answers.popitem(last=False)

    def forget_answers(self) -> None:
        with self.answers_lock:
            self.answers.clear()


def content_id(chunks: Sequence[StoredChunk]) -> str:
    """A short SHA-256 of what a snapshot answers from: each chunk's source, position, text and whether
    its vector is stored yet (dense search sees it then)."""
    digest = hashlib.sha256()
    for c in sorted(chunks, key=lambda c: (c.source, c.ord)):
        digest.update(f"{c.source}\x1f{c.ord}\x1f{int(bool(c.vector))}\x1f{c.text}\x1e".encode())
    return digest.hexdigest()[:16]


def dense_matrix(chunks: Sequence[StoredChunk]) -> Any:
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
    if missing:  # still being embedded (knowledge.vectors): found by BM25 meanwhile
        logger.debug("%d chunks have no vector yet", missing)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def top_cosine(matrix: Any, vector: Sequence[float], k: int) -> list[tuple[int, float]]:
    import numpy as np

    q = np.asarray(vector, dtype=np.float32)
    if q.shape[0] != matrix.shape[1]:
        raise ValueError("query vector size differs from the stored vectors; re-ingest the knowledge base")
    q /= np.linalg.norm(q) or 1.0
    sims = matrix @ q
    k = min(k, len(sims))
    top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
    # A zero row is a chunk whose vector is still being embedded: it is no dense candidate (a cosine of 0
    # would drag the fusion's normalisation); BM25 finds it meanwhile.
    return sorted(
        ((int(i), float(sims[i])) for i in top if sims[i] != 0.0 or matrix[i].any()), key=lambda x: -x[1]
    )
