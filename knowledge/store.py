"""Vector store: Chroma through `langchain_chroma.Chroma`, embedded on disk or a Chroma server.

Always our embedding function (never Chroma's default model, which would try to download one), cosine
space, and anonymized telemetry off. chromadb is imported lazily: it costs ~1.5 s and an unchanged
knowledge base does not need it until the first dense search.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)


class ChromaStore:
    """The chunk vectors. Ids are our chunk ids; documents are the texts that were embedded.

    `embeddings` is a factory, called when the store is first opened (the model may not be needed at all).
    """

    def __init__(
        self,
        *,
        embeddings: Callable[[], Embeddings],
        persist_dir: Path | None = None,
        host: str | None = None,
        port: int = 8000,
        collection: str = "rm_knowledge",
    ) -> None:
        if (persist_dir is None) == (host is None):
            raise ValueError("give exactly one of persist_dir (embedded) or host (server)")
        self._embeddings = embeddings
        self._persist_dir = persist_dir
        self._host = host
        self._port = port
        self._collection_name = collection
        self._vs: Any = None
        self._recorder: Any = None
        self._client: Any = None
        self._lock = threading.RLock()

    @property
    def location(self) -> str:
        where = f"http://{self._host}:{self._port}" if self._host else str(self._persist_dir)
        return f"{where}#{self._collection_name}"

    def _store(self) -> Any:
        if self._vs is not None:
            return self._vs
        with self._lock:
            if self._vs is None:
                import chromadb
                from chromadb.config import Settings as ChromaSettings
                from langchain_chroma import Chroma

                settings = ChromaSettings(anonymized_telemetry=False)
                if self._host:
                    client = chromadb.HttpClient(host=self._host, port=self._port, settings=settings)
                else:
                    assert self._persist_dir is not None
                    self._persist_dir.mkdir(parents=True, exist_ok=True)
                    client = chromadb.PersistentClient(path=str(self._persist_dir), settings=settings)
                self._client = client
                from knowledge.embeddings import RecordingEmbeddings

                self._recorder = RecordingEmbeddings(self._embeddings())
                self._vs = Chroma(
                    client=client,
                    collection_name=self._collection_name,
                    embedding_function=self._recorder,
                    collection_configuration={"hnsw": {"space": "cosine"}},
                )
                logger.debug("Chroma collection %s opened", self.location)
        return self._vs

    def add(
        self, *, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict[str, Any]]
    ) -> list[list[float]]:
        """Embed `texts` with our embedding function, upsert them under `ids`; return the vectors."""
        if not ids:
            return []
        with self._lock:
            store = self._store()
            self._recorder.last = []
            store.add_texts(texts=list(texts), metadatas=list(metadatas), ids=list(ids))
            vectors: list[list[float]] = self._recorder.last
        if len(vectors) != len(ids):
            raise RuntimeError("embedding function returned a wrong number of vectors")
        return vectors

    def add_vectors(
        self,
        *,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        """Upsert already embedded texts (the background embedder computes vectors outside the store)."""
        if not ids:
            return
        with self._lock:
            collection = self._store()._collection  # langchain_chroma's add_texts would embed again
            collection.upsert(
                ids=list(ids),
                embeddings=[list(map(float, v)) for v in vectors],
                documents=list(texts),
                metadatas=list(metadatas),
            )

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._store().delete(ids=list(ids))

    def count(self) -> int:
        return int(self._store()._collection.count())

    def query(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """Nearest chunks as (chunk id, cosine similarity), best first."""
        if k <= 0:
            return []
        results = self._store().similarity_search_by_vector_with_relevance_scores(list(vector), k=k)
        # Chroma returns cosine *distance* in a cosine-space collection.
        return [(str(doc.id), 1.0 - float(distance)) for doc, distance in results]

    def close(self) -> None:
        self._vs = None
        self._client = None
