"""The knowledge base's background vectors as its callers see them: finish, resume, progress.

A mixin of `KnowledgeBase` (kept apart so base.py stays readable); the worker and the manifest are the
base's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from knowledge.manifest import Manifest
from knowledge.types import IngestReport
from knowledge.vectors import VectorProgress, VectorWorker

logger = logging.getLogger(__name__)


class VectorMethods:
    _vectors: VectorWorker
    _manifest: Manifest

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
