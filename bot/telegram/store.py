"""The Telegram bot's own tables: the update inbox and the conversation state (migration 0002).

They live in the conversation-log database (SQLite or PostgreSQL), whose migrations create them. PTB
loads its persistence in `Application.initialize`, before `post_init` opens the services, so the store
opens the conversation log on first use when none was handed in; it closes only what it opened.

Every method is blocking (callers run it in a worker thread) and is one transaction.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm_adapter.masking import mask_personal_numbers

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from bot.convlog import ConversationLog

logger = logging.getLogger(__name__)

#: The inbox's channel for Telegram updates (update ids are unique per bot).
CHANNEL = "telegram"
PENDING, DONE, FAILED = "pending", "done", "failed"

METADATA = sa.MetaData()
inbox = sa.Table(
    "bot_inbox",
    METADATA,
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("update_id", sa.BigInteger, primary_key=True),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("payload", sa.JSON),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True)),
    sa.Index("ix_bot_inbox_status", "status", "channel", "update_id"),
)
user_data = sa.Table(
    "bot_user_data",
    METADATA,
    sa.Column("user_id", sa.BigInteger, primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
conversations = sa.Table(
    "bot_conversations",
    METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("conv_key", sa.String(128), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

_INSERT_UPDATE = sa.insert(inbox)
_STATUS = sa.select(inbox.c.status).where(
    inbox.c.channel == sa.bindparam("ch"), inbox.c.update_id == sa.bindparam("uid")
)


@dataclass(frozen=True, slots=True)
class UserDataWrite:
    """`data` None: the user's data is dropped."""

    user_id: int
    data: dict[Any, Any] | None


@dataclass(frozen=True, slots=True)
class ConversationWrite:
    """`state` None: the conversation ended (its row is deleted)."""

    name: str
    key: tuple[int | str, ...]
    state: object | None


StateWrite = UserDataWrite | ConversationWrite


def conv_key(key: Sequence[int | str]) -> str:
    return json.dumps(list(key), separators=(",", ":"))


class TelegramStore:
    """Inbox and conversation state on the conversation log's engine (thread-safe)."""

    def __init__(
        self,
        database_url: str,
        log: ConversationLog | None = None,
        *,
        channel: str = CHANNEL,
        fence: Callable[[Connection], None] | None = None,
    ) -> None:
        """`fence` runs first in every transaction that writes conversation state or `done` marks
        (the standby's term check: it raises when this process no longer leads)."""
        self._url = database_url
        self._fence = fence
        self._log = log
        self._owned = False
        self._lock = threading.Lock()
        self.channel = channel

    @property
    def log(self) -> ConversationLog:
        """The conversation log (opened, and migrated, on first use unless handed in)."""
        with self._lock:
            if self._log is None:
                from bot.convlog import ConversationLog

                self._log = ConversationLog(self._url)
                self._owned = True
            return self._log

    @property
    def engine(self) -> Engine:
        return self.log.engine

    def close(self) -> None:
        """Close the conversation log if this store opened it."""
        with self._lock:
            log, owned = self._log, self._owned
            if owned:
                self._log, self._owned = None, False
        if owned and log is not None:
            log.close()

    # --- inbox ----------------------------------------------------------------------------------
    def receive(self, update_id: int, payload: dict[str, Any]) -> str:
        """Write a received update as pending unless it is known; returns its status afterwards
        (a new update: "pending"; a redelivery: whatever it was)."""
        row = {
            "channel": self.channel,
            "update_id": update_id,
            "status": PENDING,
            "payload": at_rest(payload),
            "attempts": 0,
            "received_at": datetime.now(UTC),
            "done_at": None,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(_INSERT_UPDATE, row)
            return PENDING
        except IntegrityError:  # a redelivery, or the same update refetched after a failed write
            with self.engine.connect() as conn:
                status = conn.execute(_STATUS, {"ch": self.channel, "uid": update_id}).scalar()
            if status is None:
                raise
            return str(status)

    def receive_many(self, payloads: Sequence[dict[str, Any]]) -> dict[int, str]:
        """`receive` for a whole getUpdates batch in one transaction: update id → status afterwards."""
        ids = [int(p["update_id"]) for p in payloads]
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                known = {
                    int(uid): str(status)
                    for uid, status in conn.execute(
                        sa.select(inbox.c.update_id, inbox.c.status).where(
                            inbox.c.channel == self.channel, inbox.c.update_id.in_(ids)
                        )
                    )
                }
                new = [p for p in payloads if int(p["update_id"]) not in known]
                if new:
                    conn.execute(
                        _INSERT_UPDATE,
                        [
                            {
                                "channel": self.channel,
                                "update_id": int(p["update_id"]),
                                "status": PENDING,
                                "payload": at_rest(p),
                                "attempts": 0,
                                "received_at": now,
                                "done_at": None,
                            }
                            for p in new
                        ],
                    )
        except IntegrityError:  # raced with another writer: one by one
            return {int(p["update_id"]): self.receive(int(p["update_id"]), p) for p in payloads}
        return {uid: known.get(uid, PENDING) for uid in ids}

    def status(self, update_id: int) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(_STATUS, {"ch": self.channel, "uid": update_id}).scalar()
        return None if found is None else str(found)

    def take_pending(self, max_attempts: int) -> list[tuple[int, dict[str, Any]]]:
        """Unfinished updates in update order, each counted as one more attempt; those already tried
        `max_attempts` times are marked failed instead (an update that kills the process every time
        must not stop the bot for good)."""
        mine = (inbox.c.channel == self.channel) & (inbox.c.status == PENDING)
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(inbox.c.update_id, inbox.c.payload, inbox.c.attempts)
                .where(mine)
                .order_by(inbox.c.update_id)
            ).all()
            poison = [r.update_id for r in rows if r.attempts >= max_attempts or r.payload is None]
            if poison:
                logger.error("giving up on updates %s after %d attempts", poison, max_attempts)
                conn.execute(
                    sa.update(inbox)
                    .where(mine, inbox.c.update_id.in_(poison))
                    .values(status=FAILED, done_at=datetime.now(UTC))
                )
            replay = [(int(r.update_id), dict(r.payload)) for r in rows if r.update_id not in poison]
            if replay:
                conn.execute(
                    sa.update(inbox)
                    .where(mine, inbox.c.update_id.in_([uid for uid, _ in replay]))
                    .values(attempts=inbox.c.attempts + 1)
                )
        return replay

    def commit(self, done: Collection[int], writes: Sequence[StateWrite] = ()) -> None:
        """One transaction: the state changes of finished updates and their `done` marks."""
        with self.engine.begin() as conn:
            if self._fence is not None:
                self._fence(conn)
            _apply(conn, writes)
            if done:
                conn.execute(
                    sa.update(inbox)
                    .where(inbox.c.channel == self.channel, inbox.c.update_id.in_(list(done)))
                    .values(status=DONE, done_at=datetime.now(UTC), payload=None)  # purged once handled
                )

    def prune(self, before: datetime) -> int:
        """Forget finished updates older than `before` (pending ones stay until they are replayed)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.delete(inbox).where(
                    inbox.c.channel == self.channel,
                    inbox.c.status != PENDING,
                    inbox.c.received_at < before,
                )
            )
        return int(result.rowcount or 0)

    def counts(self) -> dict[str, int]:
        """Updates per status (for tests and operators)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(inbox.c.status, sa.func.count())
                .where(inbox.c.channel == self.channel)
                .group_by(inbox.c.status)
            ).all()
        return {str(status): int(n) for status, n in rows}

    # --- conversation state -----------------------------------------------------------------------
    def load_user_data(self) -> dict[int, dict[Any, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(user_data.c.user_id, user_data.c.data)).all()
        return {int(uid): dict(data) for uid, data in rows}

    def load_conversations(self, name: str) -> dict[tuple[int | str, ...], object]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(conversations.c.conv_key, conversations.c.state).where(conversations.c.name == name)
            ).all()
        return {tuple(json.loads(key)): state for key, state in rows}

    def write(self, writes: Sequence[StateWrite]) -> None:
        """Write state changes now (outside an update: PTB's interval loop, shutdown)."""
        if writes:
            with self.engine.begin() as conn:
                if self._fence is not None:
                    self._fence(conn)
                _apply(conn, writes)


def at_rest(value: Any) -> Any:
    """`value` as stored: personal numbers in every string masked (dumps and backups must not carry
    them). The live update keeps what was typed; a replay after a crash sees the masked text, as the
    CRM and the conversation log would store it anyway."""
    if isinstance(value, str):
        return mask_personal_numbers(value)
    if isinstance(value, dict):
        return {k: at_rest(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(at_rest(v) for v in value)
    return value


def _apply(conn: Connection, writes: Sequence[StateWrite]) -> None:
    """Upsert or delete each row, in order (update first, insert when there was nothing to update:
    portable, and there is one writer, the serving process)."""
    now = datetime.now(UTC)
    for w in writes:
        if isinstance(w, UserDataWrite):
            where = user_data.c.user_id == w.user_id
            if w.data is None:
                conn.execute(sa.delete(user_data).where(where))
            elif not conn.execute(
                sa.update(user_data).where(where).values(data=at_rest(w.data), updated_at=now)
            ).rowcount:
                conn.execute(
                    sa.insert(user_data).values(user_id=w.user_id, data=at_rest(w.data), updated_at=now)
                )
        else:
            key = conv_key(w.key)
            where = (conversations.c.name == w.name) & (conversations.c.conv_key == key)
            if w.state is None:
                conn.execute(sa.delete(conversations).where(where))
            elif not conn.execute(
                sa.update(conversations).where(where).values(state=w.state, updated_at=now)
            ).rowcount:
                conn.execute(
                    sa.insert(conversations).values(name=w.name, conv_key=key, state=w.state, updated_at=now)
                )
