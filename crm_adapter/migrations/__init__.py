"""Alembic migrations run programmatically: the CRM schema (version table `alembic_version_crm`) and
`run_migrations`, the one runner every store of the application uses (the bot's conversation log too)."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version_crm"
MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(*, script_location: Path = MIGRATIONS_DIR, version_table: str = VERSION_TABLE) -> Config:
    """An Alembic `Config` built in code: no alembic.ini, works from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("version_table", version_table)
    return config


def run_migrations(
    engine: Engine, *, script_location: Path, version_table: str, revision: str = "head"
) -> None:
    """Upgrade the tables of one store to `revision`, in one transaction (idempotent, safe to race).

    `script_location` is the store's Alembic directory; its ``env.py`` reads the open connection from
    ``config.attributes["connection"]`` and should configure `version_table` (passed as the main option
    ``version_table``), so stores sharing a database keep separate histories. On PostgreSQL a
    transaction-scoped advisory lock, keyed by the version table, makes processes starting at once
    migrate one after the other; on SQLite the engine's ``BEGIN IMMEDIATE`` does the same.
    """
    config = alembic_config(script_location=script_location, version_table=version_table)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(version_table)})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    logger.debug("migrations of %s at %s", version_table, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the CRM tables of `engine`'s database up to `revision`."""
    run_migrations(engine, script_location=MIGRATIONS_DIR, version_table=VERSION_TABLE, revision=revision)


def _lock_key(version_table: str) -> int:
    # Stable across processes and Python versions (hash() is salted per process).
    return zlib.crc32(f"rm-assistant:{version_table}".encode())


__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "alembic_config", "run_migrations", "upgrade"]
