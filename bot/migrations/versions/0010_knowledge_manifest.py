"""The knowledge manifest (its own SQLite file per vector store, see README "Schema") joins the tree.

Manifests written before carry no version table: their tables, created by hand (CREATE TABLE IF NOT
EXISTS, then ALTER TABLE for `vector` and `authority`), are recognised and completed here (the missing
columns, NOT NULL on the keys, the index), rows kept.

Revision ID: 0010_knowledge_manifest
Revises: 0009_one_tree
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_knowledge_manifest"
down_revision: str | Sequence[str] | None = "0009_one_tree"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(database: str = "main") -> None:
    if database != "manifest":
        return
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "sources" not in tables:
        op.create_table(
            "sources",
            sa.Column("source", sa.Text, primary_key=True),
            sa.Column("title", sa.Text, nullable=False),
            sa.Column("category", sa.Text, nullable=False, server_default=""),
            sa.Column("content_hash", sa.Text, nullable=False),
            sa.Column("chunks", sa.Integer, nullable=False),
            sa.Column("ingested_at", sa.Text, nullable=False),
        )
    if "chunks" not in tables:
        op.create_table(
            "chunks",
            sa.Column("chunk_id", sa.Text, primary_key=True),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("ord", sa.Integer, nullable=False),
            sa.Column("text", sa.Text, nullable=False),
            sa.Column("title", sa.Text, nullable=False),
            sa.Column("heading", sa.Text, nullable=False),
            sa.Column("category", sa.Text, nullable=False, server_default=""),
            sa.Column("tokens", sa.Text, nullable=False),
            sa.Column("vector", sa.LargeBinary),
            sa.Column("authority", sa.Text, nullable=False, server_default=""),
        )
    else:
        columns = {c["name"] for c in inspector.get_columns("chunks")}
        if "vector" not in columns:  # manifests written before the local dense index
            op.add_column("chunks", sa.Column("vector", sa.LargeBinary))
        if "authority" not in columns:  # manifests written before authority levels
            op.add_column("chunks", sa.Column("authority", sa.Text, nullable=False, server_default=""))
    # SQLite lets a TEXT PRIMARY KEY hold NULL unless it says NOT NULL, and the hand-made tables did not:
    # the tables are copied with the constraint (batch mode), their rows with them.
    for table, key in (("sources", "source"), ("chunks", "chunk_id")):
        if table in tables and any(c["name"] == key and c["nullable"] for c in inspector.get_columns(table)):
            with op.batch_alter_table(table) as batch:
                batch.alter_column(key, existing_type=sa.Text, nullable=False)
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("chunks")}
    if "chunks_by_source" not in indexes:
        op.create_index("chunks_by_source", "chunks", ["source", "ord"])


def downgrade(database: str = "main") -> None:
    if database != "manifest":
        return
    op.drop_index("chunks_by_source", "chunks")
    op.drop_table("chunks")
    op.drop_table("sources")
