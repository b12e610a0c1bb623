"""SQLAlchemy engines for the application's stores (the CRM and the bot's conversation log).

One factory so every store on a database gets the same URL normalisation, SQLite PRAGMAs and
PostgreSQL connection settings (`create_database_engine`).

SQLite: WAL, ``synchronous=NORMAL``, a 30 s busy timeout, foreign keys on, a larger page cache, and
every transaction starts with ``BEGIN IMMEDIATE`` so concurrent processes queue on the busy timeout
instead of failing with "database is locked" when a read transaction upgrades to a write (long pure
reads may opt out: `DEFERRED_BEGIN`).

PostgreSQL (psycopg 3): ``pool_pre_ping`` (a connection killed by a server restart or an idle timeout is
replaced at checkout, before the request uses it), connections recycled after 30 min, and
``synchronous_commit`` set once per connection.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Seconds after which a pooled PostgreSQL connection is replaced (server-side idle timeouts, proxies).
POSTGRES_POOL_RECYCLE_S = 1800
#: Execution option for long pure reads on SQLite (an export, a full scan):
#: ``engine.execution_options(deferred_begin=True)`` starts their transactions deferred, so they do not
#: hold the write lock while they run (WAL readers never block the writer). They must not write.
DEFERRED_BEGIN = "deferred_begin"


def normalize_database_url(database_url: str | URL) -> URL:
    """`postgres://` / `postgresql://` → psycopg 3 driver; anything else is passed through."""
    url = make_url(database_url)
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def create_database_engine(database_url: str | URL, *, durable: bool = True, echo: bool = False) -> Engine:
    """An engine on `database_url` (SQLite file or memory, or PostgreSQL), configured as described above.

    `durable` (PostgreSQL only): commits wait for the WAL flush (``synchronous_commit`` ON, set
    explicitly so a server, database or role default of off cannot weaken it). ``durable=False`` commits
    without waiting: a server crash may lose the last fraction of a second of commits, never consistency.
    SQLite ignores it: WAL + ``synchronous=NORMAL`` survives application crashes, only an OS crash or
    power cut can lose the last commits.

    The caller owns the engine (``engine.dispose()`` when done).
    """
    url = normalize_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if url.get_backend_name() == "postgresql":
        return _postgres_engine(url, echo=echo, durable=durable)
    # Another backend: no tuning known, but still checked at checkout.
    return sa.create_engine(url, echo=echo, pool_pre_ping=True)


def _postgres_engine(url: URL, *, echo: bool, durable: bool) -> Engine:
    # The setting is made once per connection: a per-transaction SET LOCAL was one more round trip on
    # every write. pool_pre_ping re-runs the connect hook on the replacement connection too.
    engine = sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_recycle=POSTGRES_POOL_RECYCLE_S)
    statement = f"SET synchronous_commit TO {'ON' if durable else 'OFF'}"

    @event.listens_for(engine, "connect")
    def _on_pg_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(statement)
        dbapi_connection.commit()

    return engine


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    memory = url.database in (None, "", ":memory:")
    if memory:
        # One shared connection: every thread sees the same in-memory database.
        engine = sa.create_engine(
            url, echo=echo, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver's implicit transactions are disabled.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # The default 2 MB page cache thrashes at 100k clients / 1M contacts; memory-map reads too.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA mmap_size=268435456")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: a deferred transaction that later writes can fail with
        # SQLITE_BUSY immediately (no busy wait) when another process committed in between.
        deferred = conn.get_execution_options().get(DEFERRED_BEGIN)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


__all__ = [
    "DEFERRED_BEGIN",
    "POSTGRES_POOL_RECYCLE_S",
    "SQLITE_BUSY_TIMEOUT_MS",
    "create_database_engine",
    "normalize_database_url",
]
