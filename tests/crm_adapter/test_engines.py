"""The shared engine factory (`crm_adapter.engines`): SQLite and PostgreSQL settings, faults, restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from crm_adapter.engines import DEFERRED_BEGIN, create_database_engine, normalize_database_url
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import make_contact, seed_org


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_database_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, stmt, *_: seen.append(stmt))
    return seen


def test_sqlite_file_settings_and_immediate_transactions(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path}/sub/dir/x.db")  # parent dirs are created
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        assert pragmas == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 30000, "foreign_keys": 1}
        seen = _statements(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT 1"))
        with engine.execution_options(**{DEFERRED_BEGIN: True}).begin() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]
    finally:
        engine.dispose()


def test_sqlite_memory_is_one_database_for_every_thread() -> None:
    engine = create_database_engine("sqlite://")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        errors: list[BaseException] = []

        def insert() -> None:
            try:
                with engine.begin() as conn:
                    conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        worker = threading.Thread(target=insert)
        worker.start()
        worker.join()
        assert not errors
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(("durable", "expected"), [(True, "on"), (False, "off")])
def test_postgres_commit_mode_and_pre_ping(postgres_url: str, durable: bool, expected: str) -> None:
    plain = make_url(postgres_url).set(drivername="postgresql")  # normalised to psycopg 3
    engine = create_database_engine(plain.render_as_string(hide_password=False), durable=durable)
    try:
        assert engine.dialect.driver == "psycopg"
        assert engine.pool._pre_ping
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == expected
    finally:
        engine.dispose()


def test_url_normalisation_keeps_other_urls() -> None:
    assert normalize_database_url("postgresql://u:p@h:5433/db").render_as_string(hide_password=False) == (
        "postgresql+psycopg://u:p@h:5433/db"
    )
    assert normalize_database_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_database_url("sqlite://").drivername == "sqlite"


def _terminate_backends(postgres_url: str) -> int:
    """Kill every server connection to the test database (as a server restart would), from a separate
    admin connection to the server's maintenance database."""
    url = make_url(postgres_url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        dbname="postgres",
    )
    with psycopg.connect(conninfo, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (url.database,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_postgres_connections_killed_by_a_restart_are_replaced(postgres_url: str) -> None:
    crm = SqlCRM(postgres_url, timezone="Asia/Shanghai")
    # Without pre-ping the first use of a pooled connection fails: the control proves the kill is real.
    control = sa.create_engine(make_url(postgres_url))
    try:
        seed_org(crm)
        make_contact(crm, key="before-restart")  # the pool now holds live connections
        with control.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert _terminate_backends(postgres_url) >= 2  # the CRM's pooled connection and the control's
        with pytest.raises(DBAPIError), control.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        # The first read and the first write after the "restart" both succeed.
        assert [c.client_id for c in crm.search_clients(actor="RM001", query="张伟")] == ["C0001"]
        record = make_contact(crm, key="after-restart")
        assert crm.list_contacts(actor="RM001", client_id="C0001")[0].id == record.id
    finally:
        control.dispose()
        crm.close()
