"""The source manifest and chunk store: one SQLite file (stdlib sqlite3) next to the vector store.

Its tables are declared in `knowledge.manifest_tables` and migrated by the application's Alembic tree
(`prepare` below); the queries stay on sqlite3, which also tells other writers apart (`version`).

It records a content hash per source (so unchanged files cost no embedding work) and every chunk's text,
metadata and search tokens (so BM25 is rebuilt without touching Chroma). Each change is one transaction.
A chunk is written before its vector exists (vector NULL = still to embed, see `knowledge.vectors`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from knowledge.types import SourceInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredChunk:
    chunk_id: str
    source: str
    ord: int
    text: str
    title: str
    heading: str
    category: str
    tokens: tuple[str, ...]
    vector: bytes = b""  # float32 embedding as bytes
    authority: str = ""  # the document's authority level (knowledge.authority)


_SELECT_CHUNKS = (
    "SELECT chunk_id, source, ord, text, title, heading, category, tokens, vector, authority FROM chunks"
)
_PENDING = "(vector IS NULL OR length(vector) = 0)"


def _chunk(row: Sequence[Any]) -> StoredChunk:
    cid, src, o, text, title, heading, cat, tokens, vector, auth = row
    return StoredChunk(
        cid, src, o, text, title, heading, cat, tuple(tokens.split()), vector or b"", auth or ""
    )


class Manifest:
    """Thread-safe access to the manifest database."""

    def __init__(self, path: Path, *, prepare: Callable[[Path], None] | None = None) -> None:
        """Open the manifest at `path`; `prepare(path)` brings its schema up to date first (the
        application passes its migrations); without it, missing tables are created from their declaration."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        if prepare is None:
            from knowledge.manifest_tables import create_tables

            prepare = create_tables
        prepare(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def hashes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._conn.execute("SELECT source, content_hash FROM sources").fetchall())

    def chunk_ids(self, source: str) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id FROM chunks WHERE source = ? ORDER BY ord", (source,))
            return [r[0] for r in rows.fetchall()]

    def replace_source(
        self, *, source: str, title: str, category: str, content_hash: str, chunks: Iterable[StoredChunk]
    ) -> None:
        rows = [
            (
                c.chunk_id,
                source,
                c.ord,
                c.text,
                c.title,
                c.heading,
                c.category,
                " ".join(c.tokens),
                c.vector or None,  # NULL: the vector is still to be embedded
                c.authority,
            )
            for c in chunks
        ]
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._transaction() as conn:
            conn.execute("DELETE FROM chunks WHERE source = ?", (source,))
            conn.executemany(
                "INSERT OR REPLACE INTO chunks (chunk_id, source, ord, text, title, heading, category, tokens, "  # noqa: E501
                "vector, authority) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute(
                "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                (source, title, category, content_hash, len(rows), now),
            )

    def pending(self, limit: int, *, prefer: Sequence[str] = ()) -> list[StoredChunk]:
        """Up to `limit` chunks without a vector, those of the `prefer` sources first."""
        rows: list[Any] = []
        with self._lock:
            if prefer:
                marks = ",".join("?" * len(prefer))
                rows = self._conn.execute(
                    f"{_SELECT_CHUNKS} WHERE {_PENDING} AND source IN ({marks}) ORDER BY source, ord LIMIT ?",
                    (*prefer, limit),
                ).fetchall()
            if not rows:
                rows = self._conn.execute(
                    f"{_SELECT_CHUNKS} WHERE {_PENDING} ORDER BY rowid LIMIT ?", (limit,)
                ).fetchall()
        return [_chunk(row) for row in rows]

    def pending_count(self, sources: Sequence[str] | None = None) -> int:
        """Chunks still without a vector (of `sources`, or all)."""
        with self._lock:
            if sources is None:
                row = self._conn.execute(f"SELECT count(*) FROM chunks WHERE {_PENDING}").fetchone()
            else:
                marks = ",".join("?" * len(sources)) or "NULL"
                row = self._conn.execute(
                    f"SELECT count(*) FROM chunks WHERE {_PENDING} AND source IN ({marks})", tuple(sources)
                ).fetchone()
        return int(row[0])

    def set_vectors(self, vectors: Sequence[tuple[str, bytes]]) -> list[str]:
        """Store vectors of chunks that still exist; return the ids that no longer do (removed meanwhile)."""
        ids = [cid for cid, _ in vectors]
        with self._transaction() as conn:
            marks = ",".join("?" * len(ids)) or "NULL"
            known = {
                r[0] for r in conn.execute(f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({marks})", ids)
            }
            conn.executemany(
                "UPDATE chunks SET vector = ? WHERE chunk_id = ?",
                [(v, cid) for cid, v in vectors if cid in known],
            )
        return [cid for cid in ids if cid not in known]

    def remove_source(self, source: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM chunks WHERE source = ?", (source,))
            conn.execute("DELETE FROM sources WHERE source = ?", (source,))

    def sources(self) -> list[SourceInfo]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT source, title, chunks, content_hash, ingested_at FROM sources ORDER BY source"
            ).fetchall()
        return [
            SourceInfo(source=s, title=t, chunks=n, content_hash=h, ingested_at=datetime.fromisoformat(at))
            for s, t, n, h, at in rows
        ]

    def all_chunks(self) -> list[StoredChunk]:
        with self._lock:
            rows = self._conn.execute(f"{_SELECT_CHUNKS} ORDER BY source, ord").fetchall()
        return [_chunk(row) for row in rows]

    def version(self) -> int:
        """Changes whenever any process commits (PRAGMA data_version), to notice other writers."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
