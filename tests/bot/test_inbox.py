"""The durable inbox: written before Telegram gets the ack (polling) or the 200 (webhook), replayed at
start, redeliveries of handled updates dropped, pending ones handled exactly once."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.telegram.app import webhook_options
from bot.telegram.store import TelegramStore
from tests.bot.bot_process import stub_world
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import FakeBotAPI

pytestmark = pytest.mark.anyio

RM = TELEGRAM_IDS["RM001"]


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, fake_bot_api: FakeBotAPI, tmp_path: Path) -> Iterator[BotWorld]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with stub_world(fake_bot_api, tmp_path / "data", url) as w:
        yield w


def store_of(world: BotWorld) -> TelegramStore:
    return TelegramStore(world.settings.effective_database_url, world.log)


def message(update_id: int, text: str, user: int = RM) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": user, "type": "private", "first_name": "王敏"},
        "from": {"id": user, "is_bot": False, "first_name": "王敏"},
        "text": text,
    }
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": msg}


class Failing:
    """Wraps a store method: the first `times` calls raise (the database is down)."""

    def __init__(self, func: Any, times: int) -> None:
        self.func, self.left, self.calls = func, times, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise ConnectionError("database is down")
        return self.func(*args, **kwargs)


async def test_polled_update_is_not_acknowledged_before_it_is_written(world: BotWorld) -> None:
    fake = world.fake
    app = world.build()
    store = app.bot_data.inbox.store
    failing = Failing(store.receive_many, times=2)
    store.receive_many = failing
    async with running(app):
        mark = fake.mark()
        uid = fake.push_message(RM, "钻石客户有哪些增值服务？")
        while failing.calls < 2:
            await asyncio.sleep(0.05)
        assert fake.pending_updates == 1  # the batch was fetched but never confirmed
        assert fake.messages_to(RM, since=mark) == []
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)  # PTB's retry wrote it
        await fake.wait_until_consumed_async(timeout=20)  # … and only then acknowledged it
        await asyncio.sleep(0.3)
        assert len(fake.messages_to(RM, since=mark)) == 1
    assert store_of(world).status(uid) == "done"
    assert world.log.stats().questions == 1


async def test_webhook_answers_200_only_after_the_write(world: BotWorld) -> None:
    from tests.bot.fake_bot_api import post_update_to_async

    fake = world.fake
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = world.settings.model_copy(
        update={
            "telegram_webhook_url": f"http://127.0.0.1:{port}",
            "telegram_webhook_listen": "127.0.0.1",
            "telegram_webhook_port": port,
        }
    )
    from bot.telegram.app import build_application

    options = webhook_options(settings)
    app = build_application(settings, world.kb, world.crm, world.log)
    assert app.bot_data.inbox is not None
    store = app.bot_data.inbox.store
    failing = Failing(store.receive, times=2)
    store.receive = failing  # type: ignore[method-assign]
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None and app.updater is not None
    await app.post_init(app)
    try:
        await app.start()
        await app.updater.start_webhook(**options)
        mark = fake.mark()
        uid = fake.push_message(RM, "钻石客户有哪些增值服务？")
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        info = await app.bot.get_webhook_info()
        assert "500" in (info.last_error_message or "")  # the write failed: no 200, Telegram retried
        assert failing.calls == 3
        # Telegram delivering the handled update once more: 200, and nothing is done twice
        assert (
            await post_update_to_async(
                options["webhook_url"], fake.update(uid), secret_token=options["secret_token"]
            )
            == 200
        )
        await asyncio.sleep(0.5)
        assert len(fake.messages_to(RM, since=mark)) == 1
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)
    assert store_of(world).status(uid) == "done"


async def test_unfinished_updates_are_replayed_in_order_at_start(world: BotWorld) -> None:
    fake, store = world.fake, store_of(world)
    # What a crashed process left: a question, a /log and its first answer (same chat), and an update that
    # has been tried too often (it stops being replayed).
    for update in (message(900, "钻石客户有哪些增值服务？"), message(901, "/log"), message(902, "C0001")):
        assert store.receive(update["update_id"], update) == "pending"
    store.receive(903, message(903, "毒丸消息"))
    with store.engine.begin() as conn:
        from bot.telegram.store import inbox

        conn.execute(inbox.update().where(inbox.c.update_id == 903).values(attempts=3))
    # Telegram had not been told about 902 yet either: it delivers it again while the replay runs.
    fake.push_raw(message(902, "C0001"))
    mark = fake.mark()
    async with running(world.build()):
        replies = await fake.wait_for_messages_async(RM, 3, since=mark, timeout=20)
        await fake.wait_until_consumed_async(timeout=20)
        await asyncio.sleep(0.5)
        assert len(fake.messages_to(RM, since=mark)) == 3  # one reply per update, none twice
    texts = [r.visible_text or "" for r in replies]
    assert "钻石客户" in texts[0] and "客户姓名" in texts[1] and "渠道" in texts[2]
    assert [store.status(u) for u in (900, 901, 902, 903)] == ["done", "done", "done", "failed"]
    assert [e.update_id for e in world.log.list_exchanges()] == [900]


async def test_prune_keeps_pending_updates(world: BotWorld) -> None:
    store = store_of(world)
    for uid in (1, 2, 3):
        store.receive(uid, message(uid, "x"))
    store.commit([1, 2])
    old = datetime.now(UTC) + timedelta(seconds=1)
    assert store.prune(old) == 2
    assert store.counts() == {"pending": 1}
    assert store.prune(datetime.now(UTC) - timedelta(days=1)) == 0


async def test_redelivery_of_a_handled_update_is_dropped(world: BotWorld) -> None:
    fake = world.fake
    async with running(world.build()):
        mark = fake.mark()
        uid = fake.push_command(RM, "log", "张伟 电话 重复投递收件箱")
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        while store_of(world).status(uid) != "done":
            await asyncio.sleep(0.05)
        fake.push_raw(fake.update(uid))
        await fake.wait_until_consumed_async(timeout=20)
        await asyncio.sleep(0.5)
        assert len(fake.messages_to(RM, since=mark)) == 1
    assert (
        sum(1 for r in world.crm.list_contacts(actor="RM001", limit=1000) if r.summary == "重复投递收件箱")
        == 1
    )


async def test_personal_numbers_are_not_kept_at_rest(world: BotWorld) -> None:
    """Issue #18 item 9: the raw update and an open /log draft never hold a number as typed."""
    from bot.telegram.store import inbox, user_data

    fake, store = world.fake, store_of(world)
    id_card, phone = "110101199003071234", "13812345678"
    async with running(world.build()):
        mark = fake.mark()
        fake.push_command(RM, "log")
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        mark = fake.mark()
        fake.push_message(RM, f"张伟 身份证{id_card} 电话{phone}")
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        await fake.wait_until_consumed_async(timeout=20)
        await asyncio.sleep(0.5)
    with store.engine.connect() as conn:
        payloads = [p for (p,) in conn.execute(sa.select(inbox.c.payload))]
        drafts = [d for (d,) in conn.execute(sa.select(user_data.c.data))]
    stored = repr(payloads) + repr(drafts)
    assert id_card not in stored and phone not in stored
    assert all(p is None for p in payloads)  # handled updates keep no payload at all
    # A pending update (not handled yet) is kept for replay, masked.
    store.receive(5000, message(5000, f"客户电话{phone}"))
    with store.engine.connect() as conn:
        [pending] = [p for (p,) in conn.execute(sa.select(inbox.c.payload).where(inbox.c.update_id == 5000))]
    assert phone not in repr(pending) and "138****5678" in pending["message"]["text"]
