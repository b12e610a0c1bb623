"""Hot standby: of several `rm-assistant run` processes on one PostgreSQL database, one serves.

The leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a dedicated connection; the
others, with their services already open (knowledge base loaded), try to take it every
RM_STANDBY_POLL_SECONDS. PostgreSQL frees a session lock the moment the session ends, so when the
leader dies (even `kill -9`: the kernel closes its socket) a standby gets the lock within one poll,
then initialises the Application — loading the conversation state from the database and replaying the
updates the leader left unfinished in the inbox — and serves. The leader checks its lock connection
as often; if it breaks (database restarted, network cut) it stops serving and exits non-zero, so a
supervisor restarts it as a standby.

SQLite has no standby: a single process serves, and a second `run` on the same database file refuses to
start (an exclusive `flock` on `<database>.telegram.lock`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from bot.settings import Settings

logger = logging.getLogger(__name__)


class ServingLock(Protocol):
    """What `run_bot` needs from a lock: wait for it, check it is still held, let it go."""

    def wait(self, stop: threading.Event | None = None) -> bool: ...

    def held(self) -> bool: ...

    def release(self) -> None: ...


def lock_id_for(settings: Settings) -> int:
    """RM_STANDBY_LOCK_ID, else a 64-bit key derived from the bot's id (two bots on one database do
    not block each other)."""
    if settings.rm_standby_lock_id is not None:
        return settings.rm_standby_lock_id
    assert settings.telegram_bot_token is not None
    bot_id = settings.telegram_bot_token.get_secret_value().split(":", 1)[0]
    digest = hashlib.sha256(f"rm-assistant:telegram:{bot_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LeaderLock:
    """`pg_try_advisory_lock` on its own connection, held for as long as that connection lives."""

    def __init__(self, database_url: str, lock_id: int, *, poll_seconds: float = 1.0) -> None:
        self.lock_id = lock_id
        self.poll_seconds = poll_seconds
        # One dedicated connection (no pool): the lock lives and dies with it. TCP keepalives so a
        # vanished server is noticed in seconds rather than hours.
        self._engine = sa.create_engine(
            database_url,
            poolclass=NullPool,
            connect_args={
                "connect_timeout": 5,
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 2,
            },
        )
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free (never blocks); True when this process holds it."""
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(
            self._conn.execute(sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": self.lock_id}).scalar()
        )
        return got

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until the lock is ours (True) or `stop` is set (False)."""
        announced = False
        while stop is None or not stop.is_set():
            try:
                if self.try_acquire():
                    logger.info("standby lock %s acquired: serving", self.lock_id)
                    return True
                if not announced:
                    logger.info(
                        "standby: another process serves (lock %s); waiting to take over", self.lock_id
                    )
                    announced = True
            except sa.exc.SQLAlchemyError as exc:
                logger.warning("standby: cannot reach the database (%s); retrying", exc.__class__.__name__)
                self._drop()
            if stop is not None:
                stop.wait(self.poll_seconds)
            else:
                time.sleep(self.poll_seconds)
        return False

    def held(self) -> bool:
        """True while the lock connection is alive (a session lock is lost only with its session)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            logger.critical(
                "standby: the lock connection broke; this process no longer holds lock %s", self.lock_id
            )
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):  # closing the session frees it anyway
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": self.lock_id})
        self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.close()


class SingleProcessLock:
    """SQLite: an exclusive, non-blocking `flock` next to the database file (no standby)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def wait(self, stop: threading.Event | None = None) -> bool:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RuntimeError(
                f"another rm-assistant process serves this SQLite database ({self.path}); SQLite has no "
                "hot standby: use PostgreSQL (DATABASE_URL) to run a second process"
            ) from None
        self._file = handle
        return True

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()  # closing the file releases the flock


def serving_lock(settings: Settings) -> ServingLock | None:
    """The lock `run_bot` must hold before serving: PostgreSQL's leader lock, SQLite's file lock, or
    None (RM_STANDBY=false, or a database with neither)."""
    url = sa.engine.make_url(settings.effective_database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        if not settings.rm_standby:
            return None
        return LeaderLock(
            settings.effective_database_url,
            lock_id_for(settings),
            poll_seconds=settings.rm_standby_poll_seconds,
        )
    if settings.rm_standby_lock_id is not None:
        raise ValueError("RM_STANDBY_LOCK_ID needs PostgreSQL (DATABASE_URL); SQLite has no hot standby")
    if backend == "sqlite" and url.database and url.database != ":memory:":
        return SingleProcessLock(Path(url.database).with_suffix(".telegram.lock"))
    return None
