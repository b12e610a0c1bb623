"""Databases written before the one tree keep working: a database of the three former trees (version
tables `alembic_version_crm`/`_bot`/`_audit`, at their heads or part-way) and an old hand-made knowledge
manifest are upgraded by the one tree without losing a row, and then pass `alembic check`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection, Engine

from bot import migrations, schema
from bot.migrations import LEGACY_VERSION_TABLES, MANIFEST, VERSION_TABLE
from crm_adapter.engines import create_database_engine
from crm_adapter.sql import SqlCRM
from tests.bot.test_migrations import head, heads_of

AT = datetime(2026, 11, 1, 2, tzinfo=UTC)
AT_HEADS = {"crm_": "crm_0004_benefit_uses", "bot_": "bot_0008_leader_lease", "audit_": "audit_0001"}
PART_WAY = {"crm_": "crm_0002_contact_fingerprint", "bot_": "bot_0005", "audit_": None}


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_database_engine(db_url)
    yield engine
    engine.dispose()


def build_old_layout(engine: Engine, targets: dict[str, str | None]) -> None:
    """The database the former trees left: their migrations (kept in this tree as the crm_/bot_/audit_
    branches, unchanged but for the prefix of their ids) up to `targets`, each tree's version in its own
    version table, and no new version table."""
    with engine.begin() as conn:
        config = migrations.alembic_config(conn)
        for revision in targets.values():
            if revision:
                command.upgrade(config, revision)
        for table, prefix in LEGACY_VERSION_TABLES.items():
            revision = targets[prefix]
            if revision is None:
                continue
            conn.execute(
                sa.text(
                    f"CREATE TABLE {table} (version_num VARCHAR(32) NOT NULL, "
                    f"CONSTRAINT {table}_pkc PRIMARY KEY (version_num))"
                )
            )
            conn.execute(sa.text(f"INSERT INTO {table} VALUES (:v)"), {"v": revision.removeprefix(prefix)})
        conn.execute(sa.text(f"DROP TABLE {VERSION_TABLE}"))
        seed_rows(conn, audit=targets["audit_"] is not None)


def seed_rows(conn: Connection, *, audit: bool) -> None:
    tables = schema.metadata().tables
    stamps = {"created_at": AT, "updated_at": AT}
    conn.execute(
        sa.insert(tables["crm_staff"]),
        [
            {"code": "ADM01", "name": "管理员", "role": "admin", "team": None, **stamps},
            {"code": "RM001", "name": "王敏", "role": "rm", "team": "A", **stamps},
        ],
    )
    conn.execute(
        sa.insert(tables["crm_clients"]),
        {
            "client_id": "C0001",
            "name": "张伟",
            "name_pinyin": "zhangwei",
            "name_initials": "zw",
            "aum_fen": 1_000_000_00,
            "tier": "钻石",
            "risk_level": "C3",
            "rm_code": "RM001",
            **stamps,
        },
    )
    conn.execute(
        sa.insert(tables["crm_contacts"]),
        {
            "client_id": "C0001",
            "rm_code": "RM001",
            "channel": "电话",
            "occurred_at": AT,
            "summary": "电话沟通理财到期事宜",
            "topics": [],
            "source": "cli",
            "created_at": AT,
        },
    )
    conn.execute(
        sa.insert(tables["bot_exchanges"]),
        {
            "staff_code": "RM001",
            "channel": "console",
            "question": "钻石客户能约几次专家号？",
            "answer": "每年5次",
            "citations": [],
            "grounded": True,
            "composer": "rule",
            "flags": [],
            "created_at": AT,
        },
    )
    if audit:
        conn.execute(
            sa.insert(tables["audit_chain"]),
            {
                "id": 1,
                "at": AT,
                "kind": "answer",
                "actor": "RM001",
                "ref": "Q1",
                "payload": "{}",
                "prev_hash": "0" * 64,
                "hash": "a" * 64,
            },
        )


def counts(engine: Engine, names: list[str]) -> dict[str, int]:
    with engine.connect() as conn:
        return {n: conn.execute(sa.text(f"SELECT count(*) FROM {n}")).scalar_one() for n in names}


@pytest.mark.parametrize("targets", [AT_HEADS, PART_WAY], ids=["at-heads", "part-way"])
def test_a_database_of_the_three_former_trees_is_adopted_without_losing_rows(
    engine: Engine, db_url: str, targets: dict[str, str | None]
) -> None:
    build_old_layout(engine, targets)
    assert set(LEGACY_VERSION_TABLES) & set(sa.inspect(engine).get_table_names())
    seeded = ["crm_staff", "crm_clients", "crm_contacts", "bot_exchanges"]

    migrations.upgrade(engine)

    tables = set(sa.inspect(engine).get_table_names())
    assert not set(LEGACY_VERSION_TABLES) & tables  # adopted: the old version tables are gone
    assert tables == {*schema.tables(), VERSION_TABLE}  # the steps a part-way database lacked ran
    assert heads_of(engine) == {head()}
    assert counts(engine, seeded) == {"crm_staff": 2, "crm_clients": 1, "crm_contacts": 1, "bot_exchanges": 1}
    if targets["audit_"]:
        assert counts(engine, ["audit_chain"]) == {"audit_chain": 1}
    migrations.check(engine)
    crm = SqlCRM(db_url, prepare_schema=migrations.upgrade)  # the application's next start
    try:
        client = crm.get_client(actor="ADM01", client_id="C0001")
        assert client.name == "张伟" and client.risk_assessed_on is None
        assert [c.summary for c in crm.list_contacts(actor="ADM01")] == ["电话沟通理财到期事宜"]
    finally:
        crm.close()


# The manifest as knowledge/manifest.py created it by hand before the one tree (stdlib sqlite3).
_OLDEST_MANIFEST = """
CREATE TABLE sources (source TEXT PRIMARY KEY, title TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL, chunks INTEGER NOT NULL, ingested_at TEXT NOT NULL);
CREATE TABLE chunks (chunk_id TEXT PRIMARY KEY, source TEXT NOT NULL, ord INTEGER NOT NULL,
    text TEXT NOT NULL, title TEXT NOT NULL, heading TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',
    tokens TEXT NOT NULL);
CREATE INDEX chunks_by_source ON chunks (source, ord);
"""
_LATER_COLUMNS = """
ALTER TABLE chunks ADD COLUMN vector BLOB;
ALTER TABLE chunks ADD COLUMN authority TEXT NOT NULL DEFAULT '';
"""


@pytest.mark.parametrize("layout", ["oldest", "last-hand-made"])
def test_an_old_manifest_file_is_upgraded_keeping_its_rows(tmp_path: Path, layout: str) -> None:
    from knowledge.manifest import Manifest

    path = tmp_path / "knowledge_rm_knowledge.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(_OLDEST_MANIFEST + (_LATER_COLUMNS if layout != "oldest" else ""))
        conn.execute(
            "INSERT INTO sources VALUES ('doc.md', '标题', '', 'h1', 1, '2026-11-01T02:00:00+00:00')"
        )
        conn.execute(
            "INSERT INTO chunks (chunk_id, source, ord, text, title, heading, category, tokens) "
            "VALUES ('c1', 'doc.md', 0, '钻石客户每年5次', '标题', '', '', '钻石 客户')"
        )
        if layout != "oldest":
            conn.execute("UPDATE chunks SET vector = ?, authority = '本行制度'", (b"\x00\x00\x80\x3f",))
    conn.close()

    manifest = Manifest(path, prepare=migrations.upgrade_manifest)
    try:
        assert manifest.hashes() == {"doc.md": "h1"}
        [chunk] = manifest.all_chunks()
        assert chunk.text == "钻石客户每年5次" and chunk.tokens == ("钻石", "客户")
        if layout == "oldest":
            assert (chunk.vector, chunk.authority) == (b"", "") and manifest.pending_count() == 1
        else:
            assert (chunk.vector, chunk.authority) == (b"\x00\x00\x80\x3f", "本行制度")
    finally:
        manifest.close()
    engine = create_database_engine(f"sqlite:///{path}")
    try:
        assert heads_of(engine) == {head()}
        migrations.check(engine, database=MANIFEST)
    finally:
        engine.dispose()


def test_tables_without_any_migration_history_are_refused_not_guessed(tmp_path: Path) -> None:
    """A database whose CRM tables were created from the ORM (a CRM used on its own) has no history to
    continue from: the upgrade stops with one clear message and changes nothing."""
    url = f"sqlite:///{tmp_path / 'unversioned.db'}"
    SqlCRM(url).close()
    engine = create_database_engine(url)
    try:
        with pytest.raises(migrations.UnversionedSchemaError, match="no migration history"):
            migrations.upgrade(engine)
        assert VERSION_TABLE not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
