"""CRM fixtures: an adapter on SQLite and on the real PostgreSQL (same tests run on both)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import TODAY, seed_org


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def crm(db_url: str) -> Iterator[SqlCRM]:
    """An empty, migrated CRM (timezone Asia/Shanghai)."""
    adapter = SqlCRM(db_url, timezone="Asia/Shanghai")
    try:
        yield adapter
    finally:
        adapter.close()


@pytest.fixture
def org(crm: SqlCRM) -> SqlCRM:
    """The CRM with the standard organisation of `factories.seed_org` (staff + a few clients)."""
    seed_org(crm)
    return crm


@pytest.fixture
def today() -> object:
    return TODAY
