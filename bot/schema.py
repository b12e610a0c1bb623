"""The application's one schema: every table of every package, gathered into one SQLAlchemy `MetaData`.

Each package declares its own tables next to the code that uses them (the dependency rule stands:
`crm_adapter` and `knowledge` know nothing of the bot): `crm_adapter.orm.Base.metadata`, the manifest's
`knowledge.manifest_tables.METADATA`, and the bot's stores. This module, in the composition side of the
dependency graph, copies them all into one `MetaData` — the target of the one Alembic tree
(`bot.migrations`), its autogenerate and `alembic check`. Each table's ``info["database"]`` says which
kind of database holds it: ``main`` (DATABASE_URL) or ``manifest`` (the knowledge manifest file).
"""

from __future__ import annotations

import functools
import logging

import sqlalchemy as sa

from bot.migrations import MAIN, MANIFEST

logger = logging.getLogger(__name__)


def _sources() -> list[tuple[sa.MetaData, str]]:
    # Imported when the schema is compared, not on every upgrade: the feature packages cost startup time.
    from bot import convlog
    from bot.audit import trail
    from bot.features.approvals import store as approvals
    from bot.features.gaps import curated_store, vectors
    from bot.features.message_check import store as message_check
    from bot.features.supervision import store as supervision
    from bot.telegram import standby
    from bot.telegram import store as telegram
    from crm_adapter.orm import Base
    from knowledge.manifest_tables import METADATA as manifest

    return [
        (Base.metadata, MAIN),
        (convlog.METADATA, MAIN),
        (telegram.METADATA, MAIN),
        (supervision.METADATA, MAIN),
        (curated_store.METADATA, MAIN),
        (vectors.METADATA, MAIN),
        (approvals.METADATA, MAIN),
        (message_check.METADATA, MAIN),
        (standby.METADATA, MAIN),
        (trail.METADATA, MAIN),
        (manifest, MANIFEST),
    ]


@functools.cache
def metadata() -> sa.MetaData:
    """The one `MetaData` (built once, on first use)."""
    combined = sa.MetaData()
    for source, database in _sources():
        for table in source.tables.values():
            if table.name in combined.tables:
                raise RuntimeError(f"table {table.name} is declared twice")
            table.to_metadata(combined).info["database"] = database
    return combined


def database_of(table_name: str) -> str:
    """The kind of database that holds `table_name` (a table the metadata does not know: the main one)."""
    table = metadata().tables.get(table_name)
    return MAIN if table is None else str(table.info.get("database", MAIN))


def tables(database: str = MAIN) -> list[str]:
    """The names of the tables of one kind of database, sorted."""
    return sorted(t.name for t in metadata().tables.values() if t.info.get("database") == database)


__all__ = ["database_of", "metadata", "tables"]
