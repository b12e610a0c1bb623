"""Dense vectors in the background.

A source is written to the manifest with its chunks' vectors still NULL, so it is BM25-searchable at once;
one worker thread per knowledge base then embeds pending chunks batch by batch, stores each batch (Chroma
and the manifest) under the write lock, and tells the knowledge base to swap in a fresh snapshot, so
hybrid search uses the vectors as they arrive. Pending chunks survive a restart: `kick()` on the next
start picks them up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from knowledge.ingest import passage_text
from knowledge.manifest import Manifest, StoredChunk
from knowledge.store import VectorCollection, VectorIndexUnavailable

logger = logging.getLogger(__name__)

#: Chunks embedded and stored per step: small enough that progress and dense search follow closely.
BATCH = 32


@dataclass(frozen=True, slots=True)
class VectorProgress:
    """Vectors of the waited-for sources: `done` of `total` embedded (`total` 0: nothing to embed)."""

    done: int
    total: int
    failed: bool = False  # the worker stopped on an error; the rest is retried on the next start

    @property
    def finished(self) -> bool:
        return self.failed or self.done >= self.total


class VectorWorker:
    """Embeds every pending chunk of `manifest`, one batch at a time, on one daemon thread."""

    def __init__(
        self,
        *,
        manifest: Manifest,
        embed: Callable[[list[str]], list[list[float]]],
        store: Callable[[list[StoredChunk], list[list[float]]], None],
        write_lock: threading.Lock,
        on_batch: Callable[[], None],
        batch: int = BATCH,
    ) -> None:
        self._manifest = manifest
        self._embed = embed
        self._store = store
        self._write_lock = write_lock
        self._on_batch = on_batch
        self._batch = batch
        self._cond = threading.Condition()
        #: Held while a batch is stored and the search snapshot swapped, so `wait` never reports vectors
        #: that searches cannot use yet.
        self._published = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._kicked = False  # work arrived while the worker was finishing: it looks again
        self._prefer: list[str] = []
        self.error: BaseException | None = None

    def kick(self, prefer: Sequence[str] = ()) -> None:
        """Start embedding if anything is pending (`prefer`: sources to embed first)."""
        with self._cond:
            self._prefer = [*prefer, *(s for s in self._prefer if s not in prefer)]
            self._kicked = True
            if self._stop or self._thread is not None:
                return
            if not self._manifest.pending_count():
                return
            self.error = None
            self._thread = threading.Thread(target=self._run, name="kb-vectors", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        with self._cond:
            return self._thread is not None

    def pending(self, sources: Sequence[str] | None = None) -> int:
        """Chunks of `sources` (None: all) whose vectors searches cannot use yet."""
        with self._published:  # a stored batch counts once the snapshot with it is swapped in
            return self._manifest.pending_count(sources)

    def wait(
        self,
        sources: Sequence[str] | None,
        on_progress: Callable[[VectorProgress], None] | None = None,
        *,
        timeout: float | None = None,
    ) -> VectorProgress:
        """Block until `sources` (None: all) have their vectors, or the worker stops; report progress."""
        total = self._manifest.pending_count(sources)
        deadline = None if timeout is None else time.monotonic() + timeout
        last = -1
        while True:
            left = self.pending(sources)
            stopped = not self.running
            progress = VectorProgress(total - left, total, failed=bool(left) and stopped)
            if on_progress is not None and progress.done != last:
                on_progress(progress)
                last = progress.done
            if progress.finished or (deadline is not None and time.monotonic() >= deadline):
                return progress
            with self._cond:
                self._cond.wait(timeout=0.5)

    def wait_with_bar(
        self,
        sources: Sequence[str] | None,
        *,
        progress: bool,
        on_progress: Callable[[VectorProgress], None] | None,
    ) -> VectorProgress:
        """`wait`, with a tqdm bar on stderr when `progress` (the CLI)."""
        from knowledge.ingest import progress_bar

        total = self._manifest.pending_count(sources)
        bar = progress_bar(total, enabled=progress and total > 0)

        def tell(p: VectorProgress) -> None:
            bar.update(p.done - bar.n)
            if on_progress is not None:
                on_progress(p)

        try:
            return self.wait(sources, tell)
        finally:
            bar.close()

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._stop:
                        return
                    prefer = list(self._prefer)
                chunks = self._manifest.pending(self._batch, prefer=prefer)
                if not chunks:
                    with self._cond:
                        if self._kicked:
                            self._kicked = False
                            continue
                        self._prefer = []
                        return
                vectors = self._embed([passage_text(c.title, c.heading, c.text) for c in chunks])
                if len(vectors) != len(chunks):
                    raise RuntimeError("embedding function returned a wrong number of vectors")
                with self._published:
                    with self._write_lock:
                        self._store(chunks, vectors)
                    self._on_batch()
                with self._cond:
                    self._cond.notify_all()
        except VectorIndexUnavailable as exc:  # Chroma is down: one line, the chunks stay pending
            logger.warning("%s; vectors not stored, retried on the next start", exc)
            self.error = exc
        except Exception as exc:  # the engine or the store failed: chunks stay pending for the next start
            logger.exception("embedding pending chunks failed; they stay BM25-only until the next start")
            self.error = exc
        finally:
            with self._cond:
                self._thread = None
                self._cond.notify_all()

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the current batch (what is stored stays stored; the rest resumes next start)."""
        with self._cond:
            self._stop = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)


def as_bytes(vector: Sequence[float]) -> bytes:
    import numpy as np

    return np.asarray(vector, dtype=np.float32).tobytes()


def chunk_metadata(chunk: StoredChunk) -> dict[str, str]:
    return {"source": chunk.source, "title": chunk.title, "heading": chunk.heading}


def store_batch(
    store: VectorCollection, manifest: Manifest, chunks: list[StoredChunk], vectors: list[list[float]]
) -> None:
    """Write one embedded batch to Chroma (the index searched) and the manifest (the durable copy an empty
    collection is rebuilt from); drop vectors of chunks removed meanwhile."""
    store.upsert(
        ids=[c.chunk_id for c in chunks],
        vectors=vectors,
        texts=[passage_text(c.title, c.heading, c.text) for c in chunks],
        metadatas=[chunk_metadata(c) for c in chunks],
    )
    gone = manifest.set_vectors([(c.chunk_id, as_bytes(v)) for c, v in zip(chunks, vectors, strict=True)])
    if gone:
        store.delete(gone)
