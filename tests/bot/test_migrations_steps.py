"""Steps of the one tree that change rows' meaning, down and up again on SQLite and PostgreSQL
(the CRM's `crm_0002` fingerprint and `crm_0003` products and risk dates)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, inspect, select

from bot import migrations
from crm_adapter.demo import demo_product_rows
from crm_adapter.engines import create_database_engine
from crm_adapter.orm import ContactRow
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import ADMIN, at, make_client, make_contact, seed_org


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'steps.db'}"
    return str(request.getfixturevalue("postgres_url"))


def open_crm(db_url: str) -> SqlCRM:
    return SqlCRM(db_url, timezone="Asia/Shanghai", prepare_schema=migrations.upgrade)


def downgrade(db_url: str, revision: str) -> None:
    engine = create_database_engine(db_url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrations.alembic_config(conn), revision)
    finally:
        engine.dispose()


def test_the_fingerprint_migration_keeps_older_duplicates_and_dedups_new_records(db_url: str) -> None:
    """crm_0002 adds the nullable, unique fingerprint without back-filling: rows written before it (even
    identical ones) stay as they are; from then on the same content on the same day is one record."""
    crm = open_crm(db_url)
    seed_org(crm)
    crm.close()
    downgrade(db_url, "crm_0001_initial")  # back to the schema before the fingerprint
    engine = create_database_engine(db_url)
    try:
        assert "content_fingerprint" not in {c["name"] for c in inspect(engine).get_columns("crm_contacts")}
        when = at(date(2026, 6, 1))
        old = {
            "client_id": "C0001", "rm_code": "RM001", "channel": "电话", "summary": "电话沟通理财到期事宜",
            "topics": [], "source": "cli", "occurred_at": when, "created_at": when,
        }  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(ContactRow), [old, old])
    finally:
        engine.dispose()
    crm = open_crm(db_url)  # migrates to head again
    try:
        with crm.engine.connect() as conn:
            assert conn.execute(select(ContactRow.content_fingerprint)).scalars().all() == [None, None]
        first = make_contact(crm, occurred_at=at(date(2026, 6, 1)))
        again = make_contact(crm, occurred_at=at(date(2026, 6, 1), 12))
        assert not first.duplicate and again.duplicate and again.id == first.id
        assert len(crm.list_contacts(actor="ADM01")) == 3
    finally:
        crm.close()


def test_migration_0003_downgrades_and_upgrades_keeping_clients(db_url: str) -> None:
    crm = open_crm(db_url)
    seed_org(crm)
    make_client(crm, client_id="C0009", name="张薇", risk_assessed_on="2026-01-05")
    crm.import_products(actor=ADMIN, rows=demo_product_rows()[0])
    crm.close()
    downgrade(db_url, "crm_0002_contact_fingerprint")
    engine = create_database_engine(db_url)
    try:
        tables = inspect(engine)
        assert "crm_products" not in tables.get_table_names()
        assert "risk_assessed_on" not in {c["name"] for c in tables.get_columns("crm_clients")}
    finally:
        engine.dispose()
    crm = open_crm(db_url)
    try:
        client = crm.get_client(actor=ADMIN, client_id="C0009")
        assert client.name == "张薇" and client.risk_assessed_on is None  # the column came back empty
        assert crm.list_products() == []
    finally:
        crm.close()
