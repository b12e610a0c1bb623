"""Alembic env for the CRM tables. Only used programmatically (`crm_adapter.migrations.run_migrations`):
the caller passes an open connection, already in its transaction and holding the migration lock."""

from __future__ import annotations

import logging

from alembic import context

logger = logging.getLogger(__name__)


def run_migrations_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "crm_adapter migrations run programmatically: pass config.attributes['connection']"
        )
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=config.get_main_option("version_table") or "alembic_version_crm",
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE via copy on SQLite
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) mode is not supported for the CRM migrations")
run_migrations_online()
