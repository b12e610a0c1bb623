from __future__ import annotations

from pathlib import Path

from knowledge import KnowledgeBase, authority
from knowledge.base import CORPUS_DIR
from knowledge.loaders import parse_front_matter
from tests.knowledge.conftest import FakeEmbeddings


def test_normalise_and_rank() -> None:
    assert authority.normalise(None) == authority.TRAINING
    assert authority.normalise("本行制度") == authority.OWN_RULE
    assert authority.normalise("同业") == authority.PEER_CASE
    assert authority.normalise("不知道") == authority.TRAINING
    assert (
        authority.rank(authority.OWN_RULE)
        < authority.rank(authority.TRAINING)
        < authority.rank(authority.PEER_CASE)
    )
    assert authority.weight(authority.PEER_CASE) < authority.weight(authority.OWN_RULE)
    assert authority.weight(authority.PEER_CASE, peer_question=True) == 1.0
    assert authority.weight(authority.OWN_RULE, peer_question=True) < 1.0


def test_bundled_corpus_declares_its_authority() -> None:
    levels = {}
    for path in CORPUS_DIR.glob("*.md"):
        meta, _ = parse_front_matter(path.read_text(encoding="utf-8"))
        levels[path.name[:2]] = meta.get("authority")
    assert set(levels.values()) <= set(authority.LEVELS)
    assert levels["14"] == authority.PEER_CASE
    assert levels["02"] == levels["03"] == authority.OWN_RULE


def test_ingested_documents_default_to_training(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("标题\n钻石客户每年可享受机场贵宾厅服务6次。", encoding="utf-8")
    (tmp_path / "b.md").write_text(
        "---\ntitle: 制度\nauthority: 本行制度\n---\n白金客户洗车六折。", encoding="utf-8"
    )
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=FakeEmbeddings())
    assert kb.ingest([tmp_path / "a.txt", tmp_path / "b.md"]).ok
    levels = {c.title: c.authority for c in kb._index().chunks}
    assert levels == {"标题": authority.TRAINING, "制度": authority.OWN_RULE}
    kb.close()
