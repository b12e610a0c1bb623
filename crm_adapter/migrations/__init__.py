"""Alembic environment of the CRM schema (version table `alembic_version_crm`), run programmatically."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version_crm"
MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """An Alembic `Config` built in code: no alembic.ini, works from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the CRM tables of `engine`'s database up to `revision` (idempotent, safe to race)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "alembic_config", "upgrade"]
