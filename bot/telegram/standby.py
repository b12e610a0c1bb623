"""Hot standby: of several `rm-assistant run` processes on one PostgreSQL database, one serves.

Leadership is a lease, not a lock held by a connection. The row of this bot in `bot_leader` (migration
0008_leader_lease) holds a term number, the holder and `renewed_at`, always written with the database's
clock (`now()`), so no two hosts' clocks are ever compared:

* the leader renews it every lease/3 (`UPDATE … WHERE term = <mine>`, on a connection of its own that
  reconnects after a database restart); a renewal that finds another term means another process took
  over: it stops at once.
* a standby, with its services already open (knowledge base loaded), reads the row every
  RM_STANDBY_POLL_SECONDS; once `renewed_at` is older than the lease it takes over with one
  compare-and-set `UPDATE` (same term, same `renewed_at`, still expired) that increments the term.
* the leader counts its lease locally from the moment it SENT its last successful renewal, and stops
  serving after 2/3 of the lease (`held()` turns false) — a frozen (SIGSTOP), cut-off or slow leader
  stops before any standby can start, since the row is stamped no earlier than that moment.
* fencing, for whatever an old leader still had in flight when it stopped: every Bot API call checks
  `held()` (`FencedRequest`: no reply, no getUpdates from a process that may no longer lead), and the
  inbox commit (conversation state and `done` marks, `TelegramStore.commit`/`write`) checks the term in
  the same transaction (`LeaseLock.fence`). Contact records and exchanges need no fence: they carry the
  update's key, so the new leader's replay of an unfinished update finds them instead of writing twice.

A leader that loses leadership steps down to standby and competes again (`run_bot`); a graceful stop
expires the lease at once so the standby takes over without waiting.

SQLite has no standby: a single process serves, and a second `run` on the same database file refuses to
start (an exclusive `flock` on `<database>.telegram.lock`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from bot.telegram.http import DelegatingRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from bot.settings import Settings

logger = logging.getLogger(__name__)


class LeadershipLost(RuntimeError):
    """A fenced write of a process whose term is no longer the current one."""


class ServingLock(Protocol):
    """What `run_bot` needs from a lock: wait for it, check it is still held (cheap: no I/O, called
    before every Bot API call), fence a write transaction, let it go."""

    def wait(self, stop: threading.Event | None = None) -> bool: ...

    def held(self) -> bool: ...

    def fence(self, conn: Connection) -> None: ...

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


#: The lease table (migration bot_0008_leader_lease; queried with the SQL below).
METADATA = sa.MetaData()
LEADER = sa.Table(
    "bot_leader",
    METADATA,
    sa.Column("leader_key", sa.BigInteger, primary_key=True, autoincrement=False),
    # +1 at every takeover: writes of a process whose term is no longer current are refused
    sa.Column("term", sa.BigInteger, nullable=False),
    sa.Column("holder", sa.String(200), nullable=False),
    # the database's clock (now()) at the last renewal: hosts' clocks are never compared
    sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
)

_LEASE = "make_interval(secs => :lease)"
_ENSURE = sa.text(
    "INSERT INTO bot_leader (leader_key, term, holder, renewed_at) VALUES (:k, 0, '', to_timestamp(0)) "
    "ON CONFLICT (leader_key) DO NOTHING"
)
_READ = sa.text(
    f"SELECT term, holder, renewed_at, renewed_at < now() - {_LEASE} AS expired "
    "FROM bot_leader WHERE leader_key = :k"
)
# Compare-and-set: only the term and heartbeat this standby saw, and only while still expired.
_TAKE = sa.text(
    "UPDATE bot_leader SET term = term + 1, holder = :me, renewed_at = now() WHERE leader_key = :k "
    f"AND term = :term AND renewed_at = :renewed AND renewed_at < now() - {_LEASE} RETURNING term"
)
_RENEW = sa.text(
    "UPDATE bot_leader SET renewed_at = now() WHERE leader_key = :k AND term = :term AND holder = :me "
    "RETURNING term"
)
_EXPIRE = sa.text(
    "UPDATE bot_leader SET renewed_at = to_timestamp(0) "
    "WHERE leader_key = :k AND term = :term AND holder = :me"
)
# FOR SHARE: a takeover (an UPDATE of this row) waits for the fenced transaction to commit, and a
# fenced transaction that starts after the takeover sees the new term.
_FENCE = sa.text("SELECT term FROM bot_leader WHERE leader_key = :k FOR SHARE")


class LeaseLock:
    """Leadership of one bot by a lease in `bot_leader` (PostgreSQL): see the module docstring."""

    def __init__(
        self,
        database_url: str,
        lock_id: int,
        *,
        lease_seconds: float = 15.0,
        poll_seconds: float = 1.0,
        holder: str | None = None,
    ) -> None:
        self.lock_id = lock_id
        self.lease = lease_seconds
        self.renew_every = lease_seconds / 3
        # < lease: a leader that could not renew stops before a standby may take over.
        self.serve_for = lease_seconds * 2 / 3
        self.poll_seconds = poll_seconds
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        timeout_ms = int(self.renew_every * 1000)
        # One dedicated connection (no pool), replaced after any error: a database restart costs one
        # failed renewal. Statements and lock waits are bounded, so a renewal never outlives the lease.
        self._engine = sa.create_engine(
            database_url,
            poolclass=NullPool,
            connect_args={
                "connect_timeout": max(1, int(self.renew_every)),
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 2,
                "application_name": "rm-assistant leader lease",
                "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
            },
        )
        self._conn: Connection | None = None
        self._db = threading.Lock()  # the connection: renewer thread, wait and release
        self._ensured = False
        self._term: int | None = None
        self._valid_until = 0.0  # time.monotonic(): counts on during SIGSTOP
        self._lost = True
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._announced = False

    @property
    def term(self) -> int | None:
        """The term this process leads in, or None."""
        return None if self._lost else self._term

    # --- standby ------------------------------------------------------------------------------------
    def try_acquire(self) -> bool:
        """Take over if the lease expired (never blocks on the leader); True when this process leads."""
        if not self._lost:
            return True
        if not self._ensured:
            self._execute(_ENSURE, {"k": self.lock_id})
            self._ensured = True
        [row] = self._execute(_READ, {"k": self.lock_id, "lease": self.lease})
        if not row.expired:
            if not self._announced:
                logger.info(
                    "standby: another process serves (term %s, %s); waiting to take over",
                    row.term,
                    row.holder,
                )
                self._announced = True
            return False
        sent = time.monotonic()
        params = {"k": self.lock_id, "me": self.holder, "term": row.term, "renewed": row.renewed_at}
        taken = self._execute(_TAKE, {**params, "lease": self.lease})
        if not taken:
            return False  # another standby was faster
        self._term = int(taken[0].term)
        self._valid_until = sent + self.serve_for
        self._lost = False
        self._announced = False
        self._stop = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew_loop, args=(self._term, self._stop), name="leader-lease", daemon=True
        )
        self._renewer.start()
        logger.info("leader lease taken (term %d, was %s): serving", self._term, row.holder or "free")
        return True

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until this process leads (True) or `stop` is set (False)."""
        while stop is None or not stop.is_set():
            try:
                if self.try_acquire():
                    return True
            except sa.exc.SQLAlchemyError as exc:
                logger.warning("standby: cannot reach the database (%s); retrying", exc.__class__.__name__)
            if stop is not None:
                stop.wait(self.poll_seconds)
            else:
                time.sleep(self.poll_seconds)
        return False

    # --- leader -------------------------------------------------------------------------------------
    def held(self) -> bool:
        """True while the lease is ours by this process's own clock (no I/O); once false, false until
        the next `wait`."""
        if self._lost:
            return False
        if time.monotonic() >= self._valid_until:
            self._lose(f"no renewal within {self.serve_for:.1f} s")
            return False
        return True

    def fence(self, conn: Connection) -> None:
        """First statement of a write transaction: raises LeadershipLost unless this process still
        leads in the current term. A process frozen inside the transaction is cut off by the server
        (idle_in_transaction_session_timeout), so it cannot hold up a takeover."""
        term = self._term
        idle_ms = int(self.renew_every * 1000)
        conn.execute(sa.text(f"SET LOCAL idle_in_transaction_session_timeout = {idle_ms}"))
        current = conn.execute(_FENCE, {"k": self.lock_id}).scalar()
        if term is None or current != term or not self.held():
            self._lose(f"term {term} is no longer current ({current})")
            raise LeadershipLost(f"term {term} is no longer current")

    def release(self) -> None:
        """Stop renewing and expire the lease now (a standby need not wait for it to run out)."""
        self._stop.set()
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=self.renew_every + 5)
        term, self._term, self._lost = self._term, None, True
        if term is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self._execute(_EXPIRE, {"k": self.lock_id, "term": term, "me": self.holder})
        with self._db:
            self._drop()
        self._engine.dispose()

    def _renew_loop(self, term: int, stop: threading.Event) -> None:
        next_at = time.monotonic() + self.renew_every
        while not stop.wait(max(0.0, next_at - time.monotonic())):
            if self._lost or self._term != term:
                return
            sent = time.monotonic()
            try:
                renewed = self._execute(_RENEW, {"k": self.lock_id, "term": term, "me": self.holder})
            except sa.exc.SQLAlchemyError as exc:
                logger.warning("leader: cannot renew the lease (%s); retrying", exc.__class__.__name__)
                next_at = time.monotonic() + min(1.0, self.renew_every / 3)
                continue
            if not renewed:
                self._lose(f"another process took over from term {term}")
                return
            if not self._lost:  # renewed on the database: it is ours until `sent` + serve_for
                self._valid_until = sent + self.serve_for
            next_at = sent + self.renew_every

    def _lose(self, reason: str) -> None:
        if not self._lost:
            self._lost = True
            logger.critical("leader lease lost (%s): this process stops serving", reason)

    def _execute(self, statement: sa.TextClause, params: dict[str, Any]) -> list[Any]:
        with self._db:
            try:
                if self._conn is None:
                    self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                result = self._conn.execute(statement, params)
                return list(result.all()) if result.returns_rows else []
            except sa.exc.SQLAlchemyError:
                self._drop()  # reconnect next time
                raise

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.close()


class FencedRequest(DelegatingRequest):
    """A Bot API request object that refuses every call while `held()` is false: a leader that was
    frozen or cut off sends no reply and polls no update once its lease ran out, even before its
    Application has stopped."""

    __slots__ = ("_held",)

    def __init__(self, inner: BaseRequest, held: Callable[[], bool]) -> None:
        super().__init__(inner)
        self._held = held

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if not self._held():
            raise NetworkError("this process no longer holds the leader lease: Bot API call refused")
        code, body = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        return code, body


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

    def fence(self, conn: Connection) -> None:
        """Nothing to check: the flock keeps every other process out."""

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()  # closing the file releases the flock


def serving_lock(settings: Settings) -> ServingLock | None:
    """The lock `run_bot` must hold before serving: PostgreSQL's leader lease, SQLite's file lock, or
    None (RM_STANDBY=false, or a database with neither)."""
    url = sa.engine.make_url(settings.effective_database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        if not settings.rm_standby:
            return None
        return LeaseLock(
            settings.effective_database_url,
            lock_id_for(settings),
            lease_seconds=settings.rm_leader_lease_seconds,
            poll_seconds=settings.rm_standby_poll_seconds,
        )
    if settings.rm_standby_lock_id is not None:
        raise ValueError("RM_STANDBY_LOCK_ID needs PostgreSQL (DATABASE_URL); SQLite has no hot standby")
    if backend == "sqlite" and url.database and url.database != ":memory:":
        return SingleProcessLock(Path(url.database).with_suffix(".telegram.lock"))
    return None
