"""The knowledge base's vectors as its callers see them: finish, resume, progress, and the Chroma
collection dense search queries (checked against the manifest once per process).

A mixin of `KnowledgeBase` (kept apart so base.py stays readable); the worker, the manifest and the
collection are the base's own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from knowledge.ingest import passage_text
from knowledge.manifest import Manifest
from knowledge.store import VectorCollection
from knowledge.types import IngestReport
from knowledge.vectors import VectorProgress, VectorWorker, chunk_metadata

logger = logging.getLogger(__name__)


class VectorMethods:
    _vectors: VectorWorker
    _manifest: Manifest
    _store: VectorCollection
    _store_checked: bool
    _check_lock: threading.Lock

    def finish_vectors(self, *, progress: bool = False) -> VectorProgress:
        """Embed every chunk still without a vector and wait (the CLI, after an interrupted ingest)."""
        return self._wait_vectors(None, progress=progress, on_progress=None)

    def _wait_vectors(
        self,
        report: IngestReport | None,
        *,
        progress: bool,
        on_progress: Callable[[VectorProgress], None] | None,
    ) -> VectorProgress:
        sources = None if report is None else [*report.added, *report.updated]
        self._vectors.kick(prefer=sources or ())
        return self._vectors.wait_with_bar(sources, progress=progress, on_progress=on_progress)

    def resume_vectors(self) -> int:
        """Embed, in the background, chunks still without vectors (an ingest interrupted by a restart).
        Returns how many are pending."""
        pending = self._manifest.pending_count()
        if pending:
            logger.info("%d chunks still lack vectors; embedding them in the background", pending)
            self._vectors.kick()
        return pending

    def pending_vectors(self) -> int:
        return self._manifest.pending_count()

    def vector_progress(self, sources: Sequence[str], total: int) -> VectorProgress:
        """Vectors stored so far of `sources` (`total`: their chunks); failed when the worker stopped with
        some still missing (they resume on the next start)."""
        left = self._vectors.pending(sources)
        return VectorProgress(max(total - left, 0), total, failed=bool(left) and not self._vectors.running)

    def _check_store(self) -> None:
        """Put back into Chroma the manifest's vectors it lacks (a new server, a deleted or older
        directory): the shipped bundled vectors and every embedded chunk come back without embedding."""
        if self._store_checked:
            return
        with self._check_lock:  # not the write lock: a search never waits for an ingest
            if self._store_checked:
                return
            import numpy as np

            stored = [c for c in self._manifest.all_chunks() if c.vector]
            have = self._store.ids() if stored else set()
            missing = [c for c in stored if c.chunk_id not in have]
            if missing:
                logger.info(
                    "restoring %d vectors into Chroma %s from the manifest",
                    len(missing),
                    self._store.location,
                )
                self._store.upsert(
                    ids=[c.chunk_id for c in missing],
                    vectors=[np.frombuffer(c.vector, dtype=np.float32).tolist() for c in missing],
                    texts=[passage_text(c.title, c.heading, c.text) for c in missing],
                    metadatas=[chunk_metadata(c) for c in missing],
                )
            self._store_checked = True

    def check_vector_index(self) -> None:
        """Open the Chroma collection now; raises `VectorIndexUnavailable` (one line) when it cannot be
        reached, so a process configured for a Chroma server fails at start, not on the first question."""
        self._store.count()

    def _dense_query(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        self._check_store()
        found = self._store.query(vector, k)
        if not found and k > 0:  # emptied since the check (a server replaced while we run): refill once
            self._store_checked = False
            self._check_store()
            found = self._store.query(vector, k)
        return [(n.id, n.similarity) for n in found]
