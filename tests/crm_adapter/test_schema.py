"""The CRM's tables when the CRM is used on its own (no migrations): created from the ORM, idempotent,
the same collation and defaults the application's migrations give them; SQLite PRAGMAs; URL forms.

The migrations themselves belong to the application's one Alembic tree: tests/bot/test_migrations*.py.
"""

from __future__ import annotations

from sqlalchemy import inspect, text

from crm_adapter.sql import SqlCRM

CRM_TABLES = {
    "crm_staff",
    "crm_clients",
    "crm_client_terms",
    "crm_contacts",
    "crm_access_log",
    "crm_products",
    "crm_benefit_uses",
}


def test_tables_are_created_without_migrations(db_url: str) -> None:
    crm = SqlCRM(db_url)
    try:
        tables = set(inspect(crm.engine).get_table_names())
        assert tables == CRM_TABLES  # no version table: nothing was migrated
    finally:
        crm.close()


def test_a_prepare_schema_given_replaces_the_creation(tmp_path: object) -> None:
    seen: list[object] = []
    crm = SqlCRM(f"sqlite:///{tmp_path}/own.db", prepare_schema=seen.append)
    try:
        assert seen == [crm.engine]
        assert inspect(crm.engine).get_table_names() == []
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


def test_postgres_name_columns_sort_bytewise(postgres_url: str) -> None:
    """Prefix search relies on the C collation (range scans on Chinese names and pinyin)."""
    crm = SqlCRM(postgres_url)
    try:
        with crm.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                    "WHERE table_name IN ('crm_clients', 'crm_products') AND column_name LIKE 'name%'"
                )
            ).all()
        assert len(rows) == 6 and {r.collation_name for r in rows} == {"C"}
    finally:
        crm.close()


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
