"""The knowledge manifest's tables, declared for SQLAlchemy (see `knowledge.manifest` for their use).

The application migrates a manifest with its one Alembic tree (`bot.migrations`, which gathers these
tables into `bot.schema.metadata`); a manifest opened without it (tests, scripts using the knowledge
package on its own) gets its tables created from this metadata.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

logger = logging.getLogger(__name__)

METADATA = sa.MetaData()

SOURCES = sa.Table(
    "sources",
    METADATA,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False, server_default=""),
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("chunks", sa.Integer, nullable=False),
    sa.Column("ingested_at", sa.Text, nullable=False),  # ISO 8601, UTC
)

CHUNKS = sa.Table(
    "chunks",
    METADATA,
    sa.Column("chunk_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("ord", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("heading", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False, server_default=""),
    sa.Column("tokens", sa.Text, nullable=False),
    sa.Column("vector", sa.LargeBinary),  # float32 embedding; NULL = still to embed (knowledge.vectors)
    sa.Column("authority", sa.Text, nullable=False, server_default=""),  # knowledge.authority
    sa.Index("chunks_by_source", "source", "ord"),
)


def create_tables(path: Path) -> None:
    """Create the manifest tables missing at `path` (no migrations: a manifest used on its own)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        METADATA.create_all(engine)
    finally:
        engine.dispose()


__all__ = ["CHUNKS", "METADATA", "SOURCES", "create_tables"]
