"""Alembic schema: applied on construction, own version table, matches the ORM, idempotent."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from crm_adapter.migrations import VERSION_TABLE
from crm_adapter.orm import Base
from crm_adapter.sql import SqlCRM


def _head() -> str:
    """The newest revision in crm_adapter/migrations/versions (a new migration needs no edit here)."""
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import crm_adapter.migrations as migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_schema_matches_orm_and_version_table(db_url: str) -> None:
    crm = SqlCRM(db_url)
    try:
        tables = set(inspect(crm.engine).get_table_names())
        assert {"crm_staff", "crm_clients", "crm_client_terms", "crm_contacts", "crm_access_log"} <= tables
        assert VERSION_TABLE in tables and "alembic_version" not in tables
        with crm.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert context.get_current_revision() == _head()
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        crm.close()


def test_reopening_is_idempotent_and_keeps_data(db_url: str) -> None:
    from tests.crm_adapter.factories import seed_org

    crm = SqlCRM(db_url)
    seed_org(crm)
    crm.close()
    again = SqlCRM(db_url)
    try:
        assert len(again.list_staff()) == 7
    finally:
        again.close()


def test_sqlite_pragmas(tmp_path: object) -> None:
    crm = SqlCRM(f"sqlite:///{tmp_path}/p.db")
    try:
        with crm.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        crm.close()


def test_postgres_url_forms_use_psycopg3() -> None:
    from crm_adapter.sql import normalize_database_url

    assert normalize_database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_database_url("sqlite:///x.db").drivername == "sqlite"
