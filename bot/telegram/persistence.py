"""PTB persistence on SQLAlchemy: user_data (the /log draft) and conversation states, in the database.

Written through, not every `update_interval`: the update processor calls `Application.update_persistence`
after each update inside `collect()`, and commits the collected writes in the same transaction that marks
the update done in the inbox (`Inbox.finish`), so a replayed update never meets the state it produced.
Outside `collect()` (PTB's interval loop, shutdown) a write goes to the database at once.

Only what changed is written: user_data that equals what was last written is skipped.
bot_data (live services), chat_data and callback_data are not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from bot.telegram.standby import LeadershipLost
from bot.telegram.store import ConversationWrite, StateWrite, TelegramStore, UserDataWrite

logger = logging.getLogger(__name__)

#: PTB's own flush loop is only a backstop: every update is flushed when it finishes.
BACKSTOP_INTERVAL = 3600.0

_collecting: contextvars.ContextVar[list[StateWrite] | None] = contextvars.ContextVar(
    "rm_persistence_writes", default=None
)


def _fingerprint(data: object) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class SqlPersistence(BasePersistence[dict[Any, Any], dict[Any, Any], Any]):
    """user_data and conversations in `bot_user_data` / `bot_conversations` (SQLite or PostgreSQL)."""

    def __init__(self, store: TelegramStore) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
            update_interval=BACKSTOP_INTERVAL,
        )
        self._store = store
        self._written: dict[int, str] = {}  # user id → fingerprint of the user_data last committed

    # --- batching with the inbox -------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def collect(self) -> AsyncIterator[list[StateWrite]]:
        """Within this block the update_* calls of this task collect their writes instead of committing."""
        writes: list[StateWrite] = []
        token = _collecting.set(writes)
        try:
            yield writes
        finally:
            _collecting.reset(token)

    def committed(self, writes: Sequence[StateWrite]) -> None:
        """Remember what the store now holds (so unchanged user_data is not written again)."""
        for w in writes:
            if isinstance(w, UserDataWrite):
                if w.data is None:
                    self._written.pop(w.user_id, None)
                else:
                    self._written[w.user_id] = _fingerprint(w.data)

    async def _write(self, write: StateWrite) -> None:
        batch = _collecting.get()
        if batch is not None:
            batch.append(write)
            return
        try:
            await asyncio.to_thread(self._store.write, [write])
        except LeadershipLost:  # stepping down: the serving process has its own state
            logger.warning("not the leader any more: conversation state not written")
            return
        self.committed([write])

    # --- loading -------------------------------------------------------------------------------------
    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        """Load every user's data (at `Application.initialize`)."""
        data = await asyncio.to_thread(self._store.load_user_data)
        self._written = {uid: _fingerprint(d) for uid, d in data.items()}
        return data

    async def get_conversations(self, name: str) -> ConversationDict:
        """Load the states of conversation handler `name`."""
        return await asyncio.to_thread(self._store.load_conversations, name)

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        """Not stored."""
        return {}

    async def get_bot_data(self) -> Any:
        """Not stored (bot_data holds the live services)."""
        raise NotImplementedError("bot_data is not persisted")

    async def get_callback_data(self) -> CDCData | None:
        """Not stored."""
        return None

    # --- writing -------------------------------------------------------------------------------------
    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        """Store a conversation's new state (None: it ended)."""
        await self._write(ConversationWrite(name, tuple(key), new_state))

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        """Store a user's data if it changed."""
        if self._written.get(user_id) == _fingerprint(data):
            return
        await self._write(UserDataWrite(user_id, data))

    async def drop_user_data(self, user_id: int) -> None:
        """Delete a user's data."""
        await self._write(UserDataWrite(user_id, None))

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """Not stored."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Not stored."""

    async def update_bot_data(self, data: Any) -> None:
        """Not stored."""

    async def update_callback_data(self, data: CDCData) -> None:
        """Not stored."""

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """Nothing to refresh: one process serves at a time (the standby lock), so memory is current."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """Not stored."""

    async def refresh_bot_data(self, bot_data: Any) -> None:
        """Not stored."""

    async def flush(self) -> None:
        """Nothing buffered: every write is committed when it is made."""
