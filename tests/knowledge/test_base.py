from __future__ import annotations

from pathlib import Path

import pytest

import knowledge.base as kb_module
from knowledge import KnowledgeBase
from tests.knowledge.conftest import ETIQUETTE_MD, FakeEmbeddings


def test_ingest_folder_recursively_and_list_sources(loaded_kb: KnowledgeBase, docs_dir: Path) -> None:
    sources = {s.source: s for s in loaded_kb.sources()}
    assert set(sources) == {
        str((docs_dir / "entitlements.md").resolve()),
        str((docs_dir / "sub" / "etiquette.md").resolve()),
        str((docs_dir / "aml.txt").resolve()),
    }
    info = sources[str((docs_dir / "entitlements.md").resolve())]
    assert info.title == "增值服务权益"
    assert info.chunks >= 3
    assert len(info.content_hash) == 64


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_search_modes_find_the_answer(loaded_kb: KnowledgeBase, mode: str) -> None:
    hits = loaded_kb.search("钻石客户每年能约几次专家挂号", top_k=3, mode=mode)
    assert hits
    assert "专家挂号5次" in hits[0].text
    assert hits[0].title == "增值服务权益"
    assert hits[0].heading == "健康医疗服务 > 专家挂号预约"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert set(hits[0].to_dict()) >= {"text", "source", "title", "score"}


def test_search_rejects_unknown_mode(loaded_kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError):
        loaded_kb.search("体检", mode="magic")


def test_empty_knowledge_base_and_empty_query(kb: KnowledgeBase) -> None:
    assert kb.search("体检") == []
    assert kb.ask("体检几次").grounded is False


def test_unchanged_reingest_does_no_embedding_work(
    loaded_kb: KnowledgeBase, docs_dir: Path, fake_embeddings: FakeEmbeddings
) -> None:
    before = fake_embeddings.documents_embedded
    report = loaded_kb.ingest([docs_dir])
    assert report.ok
    assert len(report.unchanged) == 3
    assert not report.added and not report.updated
    assert report.chunks_added == 0
    assert fake_embeddings.documents_embedded == before


def test_reopened_knowledge_base_remembers_hashes(tmp_path: Path, docs_dir: Path) -> None:
    first = FakeEmbeddings()
    kb = KnowledgeBase(data_dir=tmp_path / "d", embeddings=first)
    kb.ingest([docs_dir])
    kb.close()
    second = FakeEmbeddings()
    kb = KnowledgeBase(data_dir=tmp_path / "d", embeddings=second)
    report = kb.ingest([docs_dir])
    assert len(report.unchanged) == 3
    assert second.documents_embedded == 0
    assert "六折" in kb.search("洗车打几折", top_k=1)[0].text
    kb.close()


def test_changed_file_replaces_its_chunks(loaded_kb: KnowledgeBase, docs_dir: Path) -> None:
    path = docs_dir / "sub" / "etiquette.md"
    path.write_text(ETIQUETTE_MD.replace("深色西装", "藏青色西装"), encoding="utf-8")
    report = loaded_kb.ingest([path])
    assert report.updated == (str(path.resolve()),)
    texts = [h.text for h in loaded_kb.search("男性顾问穿什么西装", top_k=10)]
    assert any("藏青色西装" in t for t in texts)
    assert not any("深色西装" in t for t in texts)
    # the vector store holds exactly the manifest's chunks (old vectors deleted)
    total = sum(s.chunks for s in loaded_kb.sources())
    assert loaded_kb._store.count() == total


def test_remove_source(loaded_kb: KnowledgeBase, docs_dir: Path) -> None:
    path = docs_dir / "aml.txt"
    removed = loaded_kb.remove(str(path.resolve()))
    assert removed >= 1
    assert str(path.resolve()) not in {s.source for s in loaded_kb.sources()}
    assert not any("黑名单" in h.text for h in loaded_kb.search("黑名单客户能开户吗", top_k=10))
    assert loaded_kb.remove(str(path.resolve())) == 0
    assert loaded_kb.remove("no-such-source") == 0


def test_bad_files_are_reported_and_others_ingested(
    kb: KnowledgeBase, tmp_path: Path, docs_dir: Path
) -> None:
    (docs_dir / "empty.md").write_text("", encoding="utf-8")
    (docs_dir / "photo.png").write_bytes(b"\x89PNG")
    (docs_dir / "broken.docx").write_bytes(b"not a zip")
    report = kb.ingest([docs_dir, tmp_path / "missing.txt"])
    failed = dict(report.failed)
    assert set(failed) == {
        str(docs_dir / "empty.md"),
        str(docs_dir / "photo.png"),
        str(docs_dir / "broken.docx"),
        str(tmp_path / "missing.txt"),
    }
    assert "为空" in failed[str(docs_dir / "empty.md")]
    assert "不支持" in failed[str(docs_dir / "photo.png")]
    assert "损坏" in failed[str(docs_dir / "broken.docx")]
    assert not report.ok
    assert len(report.added) == 3


def test_hidden_files_in_folders_are_skipped(kb: KnowledgeBase, docs_dir: Path) -> None:
    (docs_dir / ".DS_Store").write_bytes(b"\0\0")
    (docs_dir / "~$lock.docx").write_bytes(b"x")
    report = kb.ingest([docs_dir])
    assert report.ok, report.failed


def test_duplicate_texts_are_merged(kb: KnowledgeBase, tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("标题\n钻石客户每年可享受机场贵宾厅服务6次。", encoding="utf-8")
    kb.ingest([tmp_path / "a.txt", tmp_path / "b.txt"])
    hits = kb.search("机场贵宾厅几次", top_k=5)
    assert sum("贵宾厅服务6次" in h.text for h in hits) == 1


def test_sync_bundled_incremental_and_disable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_embeddings: FakeEmbeddings
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "01_a.md").write_text("---\ntitle: 甲\n---\n钻石客户体检每年两次。", encoding="utf-8")
    (corpus / "02_b.md").write_text("---\ntitle: 乙\n---\n白金客户洗车六折。", encoding="utf-8")
    monkeypatch.setattr(kb_module, "CORPUS_DIR", corpus)
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=fake_embeddings)

    first = kb.sync_bundled()
    assert first.added == ("bundled:01_a.md", "bundled:02_b.md")
    embedded = fake_embeddings.documents_embedded

    again = kb.sync_bundled()
    assert again.unchanged == ("bundled:01_a.md", "bundled:02_b.md")
    assert fake_embeddings.documents_embedded == embedded

    (corpus / "02_b.md").unlink()
    (corpus / "01_a.md").write_text("---\ntitle: 甲\n---\n钻石客户体检每年三次。", encoding="utf-8")
    third = kb.sync_bundled()
    assert third.updated == ("bundled:01_a.md",)
    assert third.removed == ("bundled:02_b.md",)
    assert [s.source for s in kb.sources()] == ["bundled:01_a.md"]
    assert "三次" in kb.search("体检几次", top_k=1)[0].text

    off = kb.sync_bundled(enabled=False)
    assert off.removed == ("bundled:01_a.md",)
    assert kb.sources() == []
    kb.close()


def test_other_process_changes_are_noticed(tmp_path: Path, docs_dir: Path) -> None:
    reader = KnowledgeBase(data_dir=tmp_path / "d", embeddings=FakeEmbeddings())
    assert reader.search("黑名单") == []
    writer = KnowledgeBase(data_dir=tmp_path / "d", embeddings=FakeEmbeddings())
    writer.ingest([docs_dir / "aml.txt"])
    writer.close()
    assert any("黑名单" in h.text for h in reader.search("黑名单客户开户"))
    reader.close()


def test_repeated_question_reuses_its_evidence_until_documents_change(
    loaded_kb: KnowledgeBase, fake_embeddings: FakeEmbeddings, docs_dir: Path
) -> None:
    first = loaded_kb.ask("男性顾问穿什么西装？")
    calls = fake_embeddings.query_calls
    again = loaded_kb.ask("男性顾问穿什么西装？")
    assert again == first and fake_embeddings.query_calls == calls  # no retrieval the second time
    path = docs_dir / "sub" / "etiquette.md"
    path.write_text(ETIQUETTE_MD.replace("深色西装", "藏青色西装"), encoding="utf-8")
    loaded_kb.ingest([path])
    changed = loaded_kb.ask("男性顾问穿什么西装？")
    assert fake_embeddings.query_calls == calls + 1  # a new snapshot: retrieved afresh
    assert "藏青色西装" in changed.answer and "深色西装" not in changed.answer


def test_concurrent_questions_and_an_ingest(loaded_kb: KnowledgeBase, docs_dir: Path, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    extra = tmp_path / "extra.md"
    extra.write_text("# 节日问候\n\n春节前应向钻石客户寄送贺卡并电话问候。\n", encoding="utf-8")
    questions = ["钻石客户每年可以预约几次专家挂号？", "黑名单客户能开户吗？", "男性顾问穿什么西装？"] * 8
    with ThreadPoolExecutor(max_workers=6) as pool:
        ingest = pool.submit(loaded_kb.ingest, [extra])
        answers = list(pool.map(loaded_kb.ask, questions))
        assert ingest.result().ok
    assert all(a.grounded for a in answers)
    assert {a.answer for a in answers[0::3]} == {answers[0].answer}  # same question, same answer
    assert any("贺卡" in h.text for h in loaded_kb.search("春节 贺卡", top_k=3))
