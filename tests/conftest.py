"""Fixtures shared by every test package: isolated settings and a real PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings, get_settings

#: The composition root's services on fakes (tests/bot: feature and command-table tests).
pytest_plugins = ["tests.bot.app_fixtures"]

#: Where the PostgreSQL tests connect; `.ci/run` sets RM_REQUIRE_POSTGRES=1 so they fail rather than skip.
DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep every test away from the developer's `.env`, `./data` and real Telegram/LLM settings."""
    for key in list(os.environ):
        managed = key.startswith(("RM_", "TELEGRAM_", "LLM_", "CHROMA_")) or key == "DATABASE_URL"
        if managed and key != "RM_REQUIRE_POSTGRES":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RM_DATA_DIR", str(tmp_path / "data"))
    # The morning digest is a daily job of every running Application: twelve hours away, it never
    # lands in the middle of a test that counts replies (a test at 08:30 Shanghai time once did).
    away = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=12)
    monkeypatch.setenv("RM_DIGEST_TIME", f"{away:%H:%M}")
    monkeypatch.setenv("RM_AUDIT_ANCHOR_TIME", f"{away:%H:%M}")  # likewise the daily audit anchor
    monkeypatch.chdir(tmp_path)  # so a stray `.env` in the repo is never read
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings rooted in a fresh temporary data directory (SQLite, embedded Chroma, no token)."""
    return Settings(rm_data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


def _postgres_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Skips when the server is unreachable, unless RM_REQUIRE_POSTGRES=1 (as in CI), where it fails.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(_postgres_admin_url())
    conninfo = psycopg.conninfo.make_conninfo(
        host=admin.host or "127.0.0.1",
        port=admin.port or 5432,
        user=admin.username or "postgres",
        dbname=admin.database or "test",
    )
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("RM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    name = f"rm_test_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
