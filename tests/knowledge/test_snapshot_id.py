"""The snapshot id answers are audited with: the same content gives the same id (also after a restart),
a document added, changed or removed gives another."""

from __future__ import annotations

from pathlib import Path

from knowledge import KnowledgeBase


def test_the_snapshot_id_names_the_content(loaded_kb: KnowledgeBase, tmp_path: Path) -> None:
    first = loaded_kb.snapshot_id()
    assert len(first) == 16 and int(first, 16) >= 0
    assert loaded_kb.snapshot_id() == first  # asking does not change it
    doc = tmp_path / "星辰理财.md"
    doc.write_text("# 星辰理财\n\n星辰稳健理财面向白金客户，起购金额100万元。\n", encoding="utf-8")
    loaded_kb.ingest([doc])
    added = loaded_kb.snapshot_id()
    assert added != first
    doc.write_text("# 星辰理财\n\n星辰稳健理财面向白金客户，起购金额50万元。\n", encoding="utf-8")
    loaded_kb.ingest([doc])
    changed = loaded_kb.snapshot_id()
    assert changed not in (first, added)
    loaded_kb.remove("星辰理财.md")
    assert loaded_kb.snapshot_id() == first  # the same content as before: the same id
