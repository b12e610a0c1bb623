"""The one vector index: Chroma is written and queried; an empty collection is rebuilt from the manifest;
an unreachable Chroma fails closed with one line."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from knowledge.store import ChromaLocation, VectorCollection, VectorIndexUnavailable
from tests.knowledge.conftest import FakeEmbeddings

REPO = Path(__file__).resolve().parents[2]


def test_chroma_uses_our_embeddings_and_no_telemetry(loaded_kb: KnowledgeBase) -> None:
    store = loaded_kb._store
    assert store.count() == sum(s.chunks for s in loaded_kb.sources())
    assert store.client.get_settings().anonymized_telemetry is False
    assert store._vs.embeddings is loaded_kb._embeddings  # our model, never Chroma's default


def test_dense_search_is_answered_by_chroma(
    loaded_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    query = loaded_kb._store.query

    def spy(vector: list[float], k: int, **kw: object) -> object:
        asked.append(k)
        return query(vector, k, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(loaded_kb._store, "query", spy)
    hits = loaded_kb.search("钻石客户每年能约几次专家挂号", mode="dense", top_k=3)
    assert asked and "专家挂号5次" in hits[0].text
    # The fused score's dense side is Chroma's cosine similarity.
    best = loaded_kb.candidates("钻石客户每年能约几次专家挂号", k=1, mode="dense")[0]
    assert 0.8 < best.dense <= 1.0001


def test_an_emptied_collection_is_rebuilt_from_the_manifest_without_embedding(
    loaded_kb: KnowledgeBase,
) -> None:
    query = "钻石客户每年能约几次专家挂号"
    before = [(h.chunk_id, round(h.score, 4)) for h in loaded_kb.search(query, mode="dense", top_k=3)]
    loaded_kb._store.delete(sorted(loaded_kb._store.ids()))  # e.g. a new Chroma server
    assert loaded_kb._store.count() == 0
    emb = FakeEmbeddings()
    again = KnowledgeBase(data_dir=loaded_kb.data_dir, embeddings=emb)
    try:
        after = [(h.chunk_id, round(h.score, 4)) for h in again.search(query, mode="dense", top_k=3)]
        assert after == before
        assert emb.documents_embedded == 0  # restored from the manifest's stored vectors
        assert again._store.count() == sum(s.chunks for s in again.sources())
    finally:
        again.close()


def test_a_collection_emptied_while_serving_is_refilled(loaded_kb: KnowledgeBase) -> None:
    query = "钻石客户每年能约几次专家挂号"
    before = [h.chunk_id for h in loaded_kb.search(query, mode="dense", top_k=3)]
    loaded_kb._store.delete(sorted(loaded_kb._store.ids()))  # the same process: already checked once
    assert [h.chunk_id for h in loaded_kb.search(query, mode="dense", top_k=3)] == before


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_unreachable_chroma_server_fails_closed_with_one_line(tmp_path: Path, docs_dir: Path) -> None:
    kb = KnowledgeBase(
        data_dir=tmp_path / "client",
        embeddings=FakeEmbeddings(),
        chroma_host="127.0.0.1",
        chroma_port=_closed_port(),
    )
    try:
        report = kb.ingest([docs_dir])  # BM25-searchable; the vectors cannot be stored and stay pending
        assert report.ok and kb.pending_vectors() == report.chunks_added
        with pytest.raises(VectorIndexUnavailable) as caught:
            kb.search("钻石客户每年能约几次专家挂号", mode="hybrid")
        message = str(caught.value)
        assert message.startswith("向量索引不可用（Chroma http://127.0.0.1:") and "\n" not in message
        with pytest.raises(VectorIndexUnavailable):
            kb.ask("钻石客户每年能约几次专家挂号")
    finally:
        kb.close()


def test_a_failing_store_mid_query_fails_closed(
    loaded_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    vs = loaded_kb._store._open()

    def broken(*args: object, **kwargs: object) -> object:
        raise ConnectionError("server went away")

    monkeypatch.setattr(vs, "similarity_search_by_vector_with_relevance_scores", broken)
    loaded_kb.clear_caches()
    with pytest.raises(VectorIndexUnavailable, match=r"向量索引不可用.*server went away"):
        loaded_kb.search("黑名单客户能开户吗", mode="hybrid")


def test_collection_round_trip(tmp_path: Path) -> None:
    col = VectorCollection(ChromaLocation(persist_dir=tmp_path / "c"), "test_round_trip")
    col.upsert(
        ids=["a", "b"], vectors=[[1.0, 0.0], [0.6, 0.8]], texts=["甲", "乙"], metadatas=[{"n": 1}, {"n": 2}]
    )
    near = col.query([1.0, 0.1], 2)
    assert [n.id for n in near] == ["a", "b"] and near[0].similarity > 0.99
    assert [n.id for n in col.query([1.0, 0.1], 2, where={"n": 2})] == ["b"]
    assert col.vectors(["b", "zz"]) == {"b": pytest.approx([0.6, 0.8])}
    col.delete(["a"])
    assert col.ids() == {"b"} and col.count() == 1


RUNTIME = ("knowledge", "bot", "crm_adapter")
#: Files where a needle is not a vector search, with the reason.
NOT_SEARCH = {
    ("knowledge/conduct_model.py", "linalg.norm"): "the classifier's TF-IDF weights",
}


def test_no_hand_written_vector_search_in_runtime_code() -> None:
    """Cosine scores and top-k over vectors are Chroma's job (issue 19): no matrix products or arg-sorts."""
    found = []
    for package in RUNTIME:
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for needle in (
                "argsort(-sim",
                " @ vector",
                " @ q",
                "np.dot(",
                "linalg.norm",
                "cosine_similarity",
                "top_cosine",
            ):
                if needle in text and (str(path.relative_to(REPO)), needle) not in NOT_SEARCH:
                    found.append(f"{path.relative_to(REPO)}: {needle}")
    assert found == []


def _imports(package: str) -> dict[str, set[str]]:
    """module → the package's modules it imports (anywhere in its body, lazy imports included)."""
    paths = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (REPO / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # `from knowledge import e5` is an edge to knowledge.e5
                    sub = f"{node.module}.{alias.name}"
                    deps.add(sub if sub in paths else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[module] = {d for d in deps if d in paths and d != module}
    return graph


def test_no_import_cycle_in_knowledge() -> None:
    graph = _imports("knowledge")
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
