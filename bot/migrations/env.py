"""Alembic environment of the application's one tree; run programmatically by `bot.migrations`.

The caller passes an open connection (for an upgrade: in its transaction, holding the migration lock) and
the kind of database it reaches; autogenerate and `check` compare that database with its part of
`bot.schema.metadata`.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from bot.migrations import MAIN, VERSION_TABLE

config = context.config
if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) mode is not supported; run bot.migrations.upgrade")
_connection = config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("migrations run programmatically: pass config.attributes['connection']")
connection: Connection = _connection
database: str = config.attributes.get("database") or MAIN
# The metadata only matters when comparing (check, autogenerate); an upgrade does not load every store.
compare = bool(config.attributes.get("compare"))


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # Tables of the other kind of database are not expected here; a table only the database has is
    # reported (it belongs to the main database unless the metadata says otherwise).
    if type_ == "table":
        from bot.schema import database_of

        return database_of(name or "") == database
    return True


def _compare_default(
    _context: Any, _inspected: Any, _column: Any, reflected: str | None, _default: Any, rendered: str | None
) -> bool | None:
    # SQLite reflects a default as written in the DDL ('' as "''", true() as "1"); compare the bare values.
    if connection.dialect.name == "sqlite" and reflected is not None and rendered is not None:
        return _bare(reflected) != _bare(rendered)
    return None  # Alembic's own comparison


def _bare(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text.strip("'\"")


def _target() -> Any:
    from bot.schema import metadata

    return metadata()


context.configure(
    connection=connection,
    target_metadata=_target() if compare else None,
    version_table=VERSION_TABLE,
    include_object=_include_object,
    compare_server_default=_compare_default,
    render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE via copy on SQLite
    template_args={"database": database},
)
with context.begin_transaction():
    context.run_migrations(database=database)
