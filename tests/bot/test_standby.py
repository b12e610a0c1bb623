"""Hot standby on PostgreSQL (advisory lock), the SQLite single-process guard, and a takeover of two real
bot processes after kill -9: within 10 s, no update lost or doubled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from bot.settings import Settings
from bot.telegram.standby import LeaderLock, SingleProcessLock, lock_id_for, serving_lock
from bot.telegram.store import TelegramStore
from tests.bot.bot_process import SERVING, WAITING, BotProcess, child_env, stub_world, wait_until
from tests.bot.conftest import TELEGRAM_IDS, BotWorld
from tests.bot.fake_bot_api import FakeBotAPI

RM = TELEGRAM_IDS["RM001"]


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, rm_data_dir=tmp_path / "data", telegram_bot_token=SecretStr("123:ABC"), **kw
    )


# --- the locks ----------------------------------------------------------------------------------------------
def test_one_leader_at_a_time_and_the_lock_dies_with_its_session(postgres_url: str) -> None:
    a, b = LeaderLock(postgres_url, 4242), LeaderLock(postgres_url, 4242)
    other = LeaderLock(postgres_url, 4243)
    try:
        assert a.try_acquire() and a.held()
        assert not b.try_acquire()
        assert other.try_acquire()  # another key (another bot): independent
        a.release()
        assert b.try_acquire()
        # the leader's session ends (crash, database restart): the lock is free, the old leader knows
        engine = sa.create_engine(postgres_url)
        with engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND "
                    "pid <> pg_backend_pid() AND objid = 4242"
                )
            )
        engine.dispose()
        wait_until(lambda: not b.held(), timeout=5, what="the lost lock noticed")
        assert a.try_acquire()
    finally:
        for lock in (a, b, other):
            lock.release()


def test_standby_waits_then_takes_over(postgres_url: str) -> None:
    import threading

    leader, standby = (
        LeaderLock(postgres_url, 77, poll_seconds=0.1),
        LeaderLock(postgres_url, 77, poll_seconds=0.1),
    )
    try:
        assert leader.wait()
        got: list[bool] = []
        thread = threading.Thread(target=lambda: got.append(standby.wait()))
        thread.start()
        time.sleep(0.5)
        assert got == []  # still waiting
        leader.release()
        thread.join(timeout=5)
        assert got == [True] and standby.held()
        stop = threading.Event()
        stop.set()
        assert LeaderLock(postgres_url, 77).wait(stop) is False  # a stopped wait gives up
    finally:
        leader.release()
        standby.release()


def test_serving_lock_by_database(tmp_path: Path, postgres_url: str) -> None:
    sqlite = _settings(tmp_path)
    lock = serving_lock(sqlite)
    assert isinstance(lock, SingleProcessLock)
    assert lock.wait()
    second = serving_lock(sqlite)
    assert second is not None
    with pytest.raises(RuntimeError, match="SQLite has no hot standby"):
        second.wait()
    lock.release()
    assert second.wait()  # free again
    second.release()
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        serving_lock(_settings(tmp_path, rm_standby_lock_id=5))
    pg = _settings(tmp_path, database_url=postgres_url)
    assert isinstance(serving_lock(pg), LeaderLock)
    assert serving_lock(pg.model_copy(update={"rm_standby": False})) is None
    # the default key is the bot's: stable, and another bot on the same database gets another one
    assert lock_id_for(pg) == lock_id_for(pg)
    assert lock_id_for(pg) != lock_id_for(pg.model_copy(update={"telegram_bot_token": SecretStr("999:X")}))
    assert lock_id_for(pg.model_copy(update={"rm_standby_lock_id": 12})) == 12


# --- two real processes ------------------------------------------------------------------------------------
@pytest.fixture
def pg_world(fake_bot_api: FakeBotAPI, tmp_path: Path, postgres_url: str) -> Iterator[BotWorld]:
    with stub_world(fake_bot_api, tmp_path / "data", postgres_url) as w:
        yield w


def _records(world: BotWorld, summary: str) -> int:
    return sum(1 for r in world.crm.list_contacts(actor="RM001", limit=1000) if r.summary == summary)


@pytest.mark.slow
def test_kill_9_the_leader_and_the_standby_serves_within_10_s(
    pg_world: BotWorld, tmp_path: Path, record_property: Any
) -> None:
    world = pg_world
    fake = world.fake
    store = TelegramStore(world.settings.effective_database_url, world.log)
    marker = tmp_path / "paused"
    env = child_env(
        fake.env(), database_url=world.settings.effective_database_url, data_dir=world.settings.data_dir
    )
    # A pauses after saving the record of "接管中" (before replying): it dies in the middle of an update.
    a = BotProcess(
        {**env, "BOT_TEST_PAUSE_ON": "接管中", "BOT_TEST_MARKER": str(marker)}, tmp_path / "a.log", tmp_path
    )
    b = BotProcess(env, tmp_path / "b.log", tmp_path)
    start = fake.mark()
    try:
        a.start().wait_log(SERVING)
        b.start().wait_log(WAITING)
        mark = fake.mark()
        before = fake.push_command(RM, "log", "张伟 电话 接管前")
        fake.wait_for_messages(RM, 1, 20, since=mark)
        wait_until(lambda: store.status(before) == "done", what="A finished its update")
        during = fake.push_command(RM, "log", "张伟 电话 接管中")
        wait_until(marker.exists, what="A saved the record and paused")
        assert SERVING not in b.log  # B only waited so far
        killed = time.monotonic()
        a.kill()
        after = fake.push_command(RM, "log", "张伟 微信 接管后")
        mark = fake.mark()
        replies = fake.wait_for_messages(RM, 2, 10, since=mark)  # B answers both within 10 s of the kill
        takeover = time.monotonic() - killed
        wait_until(lambda: store.status(during) == store.status(after) == "done", what="B finished")
        time.sleep(0.5)  # a doubled reply would arrive now
    finally:
        a.kill()
        b.stop()
    record_property("takeover_seconds", round(takeover, 2))
    assert takeover <= 10, takeover
    assert "replaying 1 unfinished update" in b.log
    assert all("已记录" in (r.visible_text or "") for r in replies)
    assert len(fake.messages_to(RM, since=start)) == 3  # one reply per update, across the takeover
    assert [_records(world, s) for s in ("接管前", "接管中", "接管后")] == [1, 1, 1]
    assert store.counts() == {"done": 3}


@pytest.mark.slow
def test_a_leader_that_loses_its_lock_stops_serving(pg_world: BotWorld, tmp_path: Path) -> None:
    world = pg_world
    fake = world.fake
    url = world.settings.effective_database_url
    env = child_env(fake.env(), database_url=url, data_dir=world.settings.data_dir)
    a = BotProcess(env, tmp_path / "a.log", tmp_path)
    b = BotProcess(env, tmp_path / "b.log", tmp_path)
    try:
        a.start().wait_log(SERVING)
        b.start().wait_log(WAITING)
        # The leader's lock session ends while the process lives (database restart, network cut).
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).all()
        engine.dispose()
        assert len(killed) == 1
        assert a.proc is not None and a.proc.wait(timeout=15) != 0  # it stopped serving, and says so
        assert "lost the standby lock" in a.log
        b.wait_log(SERVING, timeout=10)
        mark = fake.mark()
        fake.push_command(RM, "log", "张伟 电话 失锁后")
        [reply] = fake.wait_for_messages(RM, 1, 20, since=mark)
        time.sleep(0.5)
    finally:
        a.kill()
        b.stop()
    assert "已记录" in (reply.visible_text or "") and len(fake.messages_to(RM, since=mark)) == 1
    assert _records(world, "失锁后") == 1
