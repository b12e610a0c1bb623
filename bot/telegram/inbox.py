"""The durable inbox: no update is acknowledged to Telegram before it is in the database, and every
update that was not finished is handled again after a restart.

Where it writes:

* long polling: `InboxRequest`, the Application's `get_updates_request`, writes the raw JSON of every
  getUpdates batch in one transaction before PTB even parses the response. PTB acknowledges a batch
  only with the offset of its NEXT getUpdates call, which the `Updater` makes after this call returned
  and the batch went through `update_queue.put` — so an update is acknowledged only after its row was
  committed. When the write fails, the call raises a `NetworkError`: PTB's polling loop logs it and
  retries getUpdates with the old offset (with back-off), so the batch comes again, nothing is lost.
  PTB's final getUpdates at shutdown uses the same offset: it never acks more than was written.
* webhook: `InboxQueue`, the Application's `update_queue`. PTB's tornado handler awaits
  `update_queue.put(update)` inside the request, so the 200 goes out after the commit; a failed write
  raises, tornado answers 500 and Telegram delivers the update again.

`InboxQueue.put` is also the redelivery check for polled updates (their status is known from the batch
write, no second query).

Done: `PerChatUpdateProcessor` calls `finish` after `Application.process_update` returned (handlers,
replies and the error handler have run); the update is marked done in the same transaction as the
conversation state it produced (`SqlPersistence.collect`). A handler that failed is done too (the user
got the error reply). A cancelled one (shutdown) stays pending.

Replay: at start (`post_init`, before polling starts) pending updates are put back on the queue in
update order and go through the same gate and handlers; they are idempotent per update (contact
records carry the update's idempotency key, exchanges are unique per update). The redelivery check
is part of the inbox: a known `done` update is dropped at `put`, a `pending` one is processed once
(an update already queued in this process is not queued again).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from bot.telegram.http import DelegatingRequest
from bot.telegram.standby import LeadershipLost
from bot.telegram.store import PENDING, StateWrite, TelegramStore

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.telegram.persistence import SqlPersistence

logger = logging.getLogger(__name__)


class Inbox:
    """Bookkeeping of received updates: the database rows plus what this process has queued."""

    def __init__(
        self, store: TelegramStore, persistence: SqlPersistence | None = None, *, max_attempts: int = 3
    ) -> None:
        self.store = store
        self._persistence = persistence
        self._max_attempts = max_attempts
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._queue: InboxQueue | None = None
        self._inflight: set[int] = set()  # queued or being handled in this process
        self._known: dict[int, str] = {}  # written by `receive_batch`, not yet through `put`
        self._completed: list[int] = []  # handled, not yet marked done
        self._unsaved: tuple[list[int], list[StateWrite]] = ([], [])  # a failed commit, retried next time
        self._lock = asyncio.Lock()

    def attach(self, app: Application[Any, Any, Any, Any, Any, Any], queue: InboxQueue) -> None:
        self._app, self._queue = app, queue

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def receive_batch(self, payloads: list[dict[str, Any]]) -> None:
        """Write a getUpdates batch (raw JSON) before PTB sees it; raises NetworkError if that fails."""
        try:
            statuses = await asyncio.to_thread(self.store.receive_many, payloads)
        except Exception as exc:
            logger.error(
                "could not write %d update(s) to the inbox; not acknowledged", len(payloads), exc_info=True
            )
            raise NetworkError("the update inbox is unavailable") from exc
        if len(self._known) > 10_000:  # batches PTB dropped (it stopped mid-poll): forget, re-ask the DB
            self._known.clear()
        self._known.update(statuses)

    async def receive(self, update: Update) -> bool:
        """Write `update` before it may be acknowledged; False when it must not be handled (again)."""
        uid = update.update_id
        if uid in self._inflight:
            self._known.pop(uid, None)
            return False
        self._inflight.add(uid)  # before the await: a concurrent redelivery must not slip through
        status = self._known.pop(uid, None)
        if status is None:
            try:
                status = await asyncio.to_thread(self.store.receive, uid, update.to_dict())
            except Exception as exc:
                self._inflight.discard(uid)
                logger.error("could not write update %s to the inbox; not acknowledged", uid, exc_info=True)
                raise NetworkError("the update inbox is unavailable") from exc
        if status != PENDING:
            self._inflight.discard(uid)
            logger.info("update %s already handled (%s); ignoring the redelivery", uid, status)
            return False
        return True

    async def claim(self, update: Update) -> bool:
        """The gate's check: True for an update to handle (queued here, pending, or new — then written),
        False for one already handled. Updates that did not come through `put` (`process_update`
        called directly) are written here."""
        if update.update_id in self._inflight:
            return True
        return await self.receive(update)

    async def replay(self) -> int:
        """Queue the updates a previous process left unfinished; returns how many."""
        assert self._app is not None and self._queue is not None, "attach() first"
        rows = await asyncio.to_thread(self.store.take_pending, self._max_attempts)
        count = 0
        for uid, payload in rows:
            if uid in self._inflight:
                continue
            try:
                update = Update.de_json(payload, self._app.bot)
            except Exception:
                logger.exception("cannot decode pending update %s; it stays pending", uid)
                continue
            self._inflight.add(uid)
            await self._queue.requeue(update)
            count += 1
        if count:
            logger.warning("replaying %d unfinished update(s) from the inbox", count)
        return count

    async def finish(self, update: Update) -> None:
        """Mark a handled update done, with the state it produced, in one transaction."""
        uid = update.update_id
        if uid not in self._inflight:
            return
        self._completed.append(uid)
        async with self._lock:
            # Everything handled so far: the flush below also writes their state changes.
            done, self._completed = self._completed, []
            if not done:
                return  # a concurrent finish took it
            old_done, old_writes = self._unsaved
            writes: list[StateWrite] = list(old_writes)
            try:
                if self._persistence is not None and self._app is not None:
                    async with self._persistence.collect() as collected:
                        await self._app.update_persistence()
                    writes += collected
                await asyncio.to_thread(self.store.commit, old_done + done, writes)
            except LeadershipLost:
                # Another process leads now: these updates are pending there and replayed by it.
                logger.warning("not the leader any more: updates %s left to the serving process", done)
            except Exception:
                self._unsaved = (old_done + done, writes)
                logger.error(
                    "could not mark updates %s done (retried with the next update; replayed after a "
                    "restart if it never works)",
                    done,
                    exc_info=True,
                )
            else:
                self._unsaved = ([], [])
                if self._persistence is not None:
                    self._persistence.committed(writes)
            finally:
                self._inflight.difference_update(done)

    async def prune(self, retention_days: int) -> int:
        """Forget finished updates older than the retention (Telegram redelivers within a day)."""
        before = datetime.now(UTC) - timedelta(days=retention_days)
        removed = await asyncio.to_thread(self.store.prune, before)
        if removed:
            logger.info("inbox: forgot %d finished update(s) older than %d days", removed, retention_days)
        return removed


class InboxQueue(asyncio.Queue[object]):
    """`Application.update_queue` that writes every `Update` to the inbox before queueing it."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and not await self.inbox.receive(item):
            return
        await super().put(item)

    async def requeue(self, item: object) -> None:
        """Queue an update already in the inbox (a replay)."""
        await super().put(item)


class InboxRequest(DelegatingRequest):
    """The getUpdates request: any `BaseRequest`, plus the inbox write of each batch before PTB parses
    it (and so before PTB can acknowledge it)."""

    __slots__ = ("_inbox",)

    def __init__(self, inner: BaseRequest, inbox: Inbox) -> None:
        super().__init__(inner)
        self._inbox = inbox

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
        code, body = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if code == 200 and url.rsplit("/", 1)[-1].lower() == "getupdates":
            updates = _batch(body)
            if updates:
                await self._inbox.receive_batch(updates)
        return code, body


def _batch(body: bytes) -> list[dict[str, Any]]:
    """The updates of a getUpdates response (PTB reports a malformed one itself)."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    result = data.get("result") if isinstance(data, dict) and data.get("ok") else None
    if not isinstance(result, list):
        return []
    return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
