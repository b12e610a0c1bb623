"""PTB persistence on SQLAlchemy (SQLite and PostgreSQL): user_data and conversation states, written
through when each update finishes, surviving a restart; no pickle file any more."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bot.convlog import ConversationLog
from bot.features.contact_log import CHANNEL, SUMMARY
from bot.telegram.handlers import DRAFT_KEY
from bot.telegram.persistence import SqlPersistence
from bot.telegram.store import ConversationWrite, StateWrite, TelegramStore, UserDataWrite
from tests.bot.bot_process import stub_world
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import FakeBotAPI

pytestmark = pytest.mark.anyio

RM = TELEGRAM_IDS["RM001"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[TelegramStore]:
    store = TelegramStore(database_url)  # opens (and migrates) the conversation log itself
    yield store
    store.close()


class CountingStore(TelegramStore):
    """Counts the write-through transactions."""

    writes = 0

    def write(self, writes: Sequence[StateWrite]) -> None:
        CountingStore.writes += 1
        super().write(writes)


async def test_round_trip_and_unchanged_data_is_not_written(database_url: str) -> None:
    log = ConversationLog(database_url)
    try:
        store = CountingStore(database_url, log)
        persistence = SqlPersistence(store)
        CountingStore.writes = 0
        await persistence.update_user_data(7, {DRAFT_KEY: {"client_id": "C0001", "one_line": False}})
        await persistence.update_user_data(7, {DRAFT_KEY: {"one_line": False, "client_id": "C0001"}})
        await persistence.update_conversation("log", (7, 7), CHANNEL)
        await persistence.update_conversation("log", (8, 8), SUMMARY)
        await persistence.update_conversation("log", (8, 8), None)  # that one ended
        assert CountingStore.writes == 4  # the second, equal user_data was skipped
        again = SqlPersistence(TelegramStore(database_url, log))  # a restarted process
        assert await again.get_user_data() == {7: {DRAFT_KEY: {"client_id": "C0001", "one_line": False}}}
        assert await again.get_conversations("log") == {(7, 7): CHANNEL}
        assert await again.get_conversations("other") == {}
        await again.drop_user_data(7)
        assert await SqlPersistence(TelegramStore(database_url, log)).get_user_data() == {}
        assert await again.get_chat_data() == {} and await again.get_callback_data() is None
    finally:
        log.close()


async def test_collected_writes_commit_with_the_done_mark(store: TelegramStore) -> None:
    persistence = SqlPersistence(store)
    store.receive(1, {"update_id": 1})
    async with persistence.collect() as writes:
        await persistence.update_conversation("log", (5, 5), CHANNEL)
        await persistence.update_user_data(5, {"k": 1})
    assert writes == [ConversationWrite("log", (5, 5), CHANNEL), UserDataWrite(5, {"k": 1})]
    assert store.load_conversations("log") == {} and store.status(1) == "pending"  # nothing written yet
    await asyncio.to_thread(store.commit, [1], writes)
    persistence.committed(writes)
    assert store.load_conversations("log") == {(5, 5): CHANNEL} and store.status(1) == "done"
    assert store.load_user_data() == {5: {"k": 1}}


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, fake_bot_api: FakeBotAPI, tmp_path: Path) -> Iterator[BotWorld]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with stub_world(fake_bot_api, tmp_path / "data", url) as w:
        yield w


async def test_log_state_is_in_the_database_after_each_step(world: BotWorld) -> None:
    fake = world.fake
    store = TelegramStore(world.settings.effective_database_url, world.log)

    async def step(text: str) -> str:
        mark = fake.mark()
        if text.startswith("/"):
            fake.push_command(RM, text[1:])
        else:
            fake.push_message(RM, text)
        [reply] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        while store.counts().get("pending"):  # the update's finish (state + done) follows its reply
            await asyncio.sleep(0.02)
        return reply.visible_text or ""

    async with running(world.build()):
        await step("/log")
        assert "渠道" in await step("C0001")
        # written through while the bot runs (not at shutdown): the next process would see this
        assert store.load_conversations("log") == {(RM, RM): CHANNEL}
        assert store.load_user_data()[RM][DRAFT_KEY]["client_id"] == "C0001"
    async with running(world.build()):  # a new Application continues where the last one stopped
        assert "摘要" in await step("电话")
        assert store.load_conversations("log") == {(RM, RM): SUMMARY}
        await step("数据库持久化测试")
        await step("跳过")
        assert "已记录" in await step("确认")
        assert store.load_conversations("log") == {}  # the conversation ended
        assert DRAFT_KEY not in store.load_user_data().get(RM, {})
    assert not list(world.settings.data_dir.glob("*.pickle"))
    assert (
        sum(1 for r in world.crm.list_contacts(actor="RM001", limit=100) if r.summary == "数据库持久化测试")
        == 1
    )
