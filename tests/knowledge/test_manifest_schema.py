"""The manifest's schema: declared for SQLAlchemy (`knowledge.manifest_tables`), prepared by the caller's
migrations when given (the application's Alembic tree), else created straight from the declaration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from knowledge.manifest import Manifest, StoredChunk


def _schema(path: Path) -> tuple[set[str], set[str], set[str]]:
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}
    conn.close()
    return tables, indexes, columns


def test_without_migrations_the_declared_tables_are_created(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    manifest = Manifest(path)
    chunk = StoredChunk("c1", "a.md", 0, "正文", "标题", "", "", ("正文",))
    manifest.replace_source(source="a.md", title="标题", category="", content_hash="h", chunks=[chunk])
    manifest.close()
    tables, indexes, columns = _schema(path)
    assert tables == {"sources", "chunks"}  # no version table: nothing was migrated
    assert "chunks_by_source" in indexes
    assert {"vector", "authority"} <= columns
    again = Manifest(path)  # idempotent, rows kept
    try:
        assert again.hashes() == {"a.md": "h"} and again.pending_count() == 1
    finally:
        again.close()


def test_the_callers_preparation_replaces_the_creation(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    seen: list[Path] = []

    def prepare(p: Path) -> None:
        seen.append(p)
        with sqlite3.connect(p) as conn:
            conn.execute("CREATE TABLE sources (source TEXT PRIMARY KEY, title TEXT, category TEXT, "
                         "content_hash TEXT, chunks INTEGER, ingested_at TEXT)")  # fmt: skip
        conn.close()

    manifest = Manifest(path, prepare=prepare)
    try:
        assert seen == [path]
        assert _schema(path)[0] == {"sources"}
    finally:
        manifest.close()
