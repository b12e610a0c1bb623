"""Hot standby on PostgreSQL (a lease in bot_leader), the SQLite single-process guard, and takeovers of
real bot processes: after kill -9 and after SIGSTOP (within the lease and some seconds; after SIGCONT the
old leader sends nothing), and a leader whose connections are cut keeps serving or hands over, never
exits. No update lost or doubled."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from bot.settings import Settings
from bot.telegram.standby import LeadershipLost, LeaseLock, SingleProcessLock, lock_id_for, serving_lock
from bot.telegram.store import TelegramStore
from tests.bot.bot_process import SERVING, WAITING, BotProcess, child_env, stub_world, wait_until
from tests.bot.conftest import TELEGRAM_IDS, BotWorld
from tests.bot.fake_bot_api import FakeBotAPI

RM = TELEGRAM_IDS["RM001"]
LEASE = 9  # RM_LEADER_LEASE_SECONDS of the bot processes (tests.bot.bot_process.child_env)


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, rm_data_dir=tmp_path / "data", telegram_bot_token=SecretStr("123:ABC"), **kw
    )


# --- the lease ----------------------------------------------------------------------------------------------
@pytest.fixture
def lease_db(postgres_url: str) -> str:
    from bot.convlog import ConversationLog

    ConversationLog(postgres_url).close()  # migrated: bot_leader exists
    return postgres_url


def _row(url: str, key: int) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT term, holder FROM bot_leader WHERE leader_key = :k"), {"k": key}
            ).one()
    finally:
        engine.dispose()


def _fenced_write(lock: LeaseLock, url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            lock.fence(conn)
    finally:
        engine.dispose()


def test_one_leader_per_term_and_a_takeover_fences_the_old_one(lease_db: str) -> None:
    a, b = LeaseLock(lease_db, 4242, lease_seconds=3), LeaseLock(lease_db, 4242, lease_seconds=3)
    other = LeaseLock(lease_db, 4243, lease_seconds=3)
    try:
        assert a.try_acquire() and a.held() and a.term == 1
        assert not b.try_acquire() and not b.held()
        assert other.try_acquire()  # another key (another bot): independent
        _fenced_write(a, lease_db)  # the current term writes
        a.release()  # a graceful stop expires the lease: no waiting for it to run out
        assert not a.held()
        assert b.try_acquire() and b.term == 2
        assert _row(lease_db, 4242) == (2, b.holder)
        with pytest.raises(LeadershipLost):
            _fenced_write(a, lease_db)  # a write of the old leader
    finally:
        for lock in (a, b, other):
            lock.release()


def test_a_frozen_leader_is_taken_over_after_the_lease_and_stops_first(lease_db: str) -> None:
    import threading

    a = LeaseLock(lease_db, 77, lease_seconds=3)
    b = LeaseLock(lease_db, 77, lease_seconds=3, poll_seconds=0.1)
    try:
        assert a.wait()
        got: list[bool] = []
        thread = threading.Thread(target=lambda: got.append(b.wait()))
        thread.start()
        time.sleep(1.5)
        assert got == [] and a.held()  # renewed: the standby waits
        with a._db:  # the leader's renewals hang (a frozen process, a cut network)
            thread.join(timeout=30)
            assert got == [True]
            assert not a.held()  # by its own clock it stopped before the standby could start
        assert b.held() and b.term == 2
        wait_until(lambda: a._renewer is None or not a._renewer.is_alive(), timeout=10, what="renewer ended")
        assert not a.held() and _row(lease_db, 77) == (2, b.holder)  # its late renewal did not win
        with pytest.raises(LeadershipLost):
            _fenced_write(a, lease_db)
        _fenced_write(b, lease_db)
        stop = threading.Event()
        stop.set()
        assert LeaseLock(lease_db, 77).wait(stop) is False  # a stopped wait gives up
    finally:
        a.release()
        b.release()


def test_a_leader_whose_connection_is_cut_renews_and_keeps_the_lease(lease_db: str) -> None:
    a, b = LeaseLock(lease_db, 5, lease_seconds=3), LeaseLock(lease_db, 5, lease_seconds=3)
    try:
        assert a.try_acquire()
        engine = sa.create_engine(lease_db)
        with engine.connect() as conn:
            [killed] = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'rm-assistant leader lease' AND datname = current_database()"
                )
            ).all()
        engine.dispose()
        assert killed[0] is True
        time.sleep(4)  # longer than the lease: renewals on a new connection kept it
        assert a.held() and a.term == 1
        assert not b.try_acquire()
    finally:
        a.release()
        b.release()


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
    assert isinstance(serving_lock(pg), LeaseLock)
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
def test_kill_9_the_leader_and_the_standby_serves_after_the_lease(
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
        replies = fake.wait_for_messages(RM, 2, LEASE + 30, since=mark)  # B answers both after the lease
        takeover = time.monotonic() - killed
        wait_until(lambda: store.status(during) == store.status(after) == "done", what="B finished")
        time.sleep(0.5)  # a doubled reply would arrive now
    finally:
        a.kill()
        b.stop()
    record_property("takeover_seconds", round(takeover, 2))
    assert takeover >= LEASE * 2 / 3  # not before the dead leader's lease could have run out
    assert "replaying 1 unfinished update" in b.log
    assert all("已记录" in (r.visible_text or "") for r in replies)
    assert len(fake.messages_to(RM, since=start)) == 3  # one reply per update, across the takeover
    assert [_records(world, s) for s in ("接管前", "接管中", "接管后")] == [1, 1, 1]
    assert store.counts() == {"done": 3}


@pytest.mark.slow
def test_sigstop_the_leader_the_standby_takes_over_and_the_thawed_one_sends_nothing(
    pg_world: BotWorld, tmp_path: Path, record_property: Any
) -> None:
    """A frozen leader keeps its connections (no advisory lock would be freed): the standby takes over
    once the lease ran out and replays the update A froze in; after SIGCONT, A's handler finishes
    without a reply (the Bot API fence), its commit is refused (the term fence), and A waits as the
    standby instead of exiting."""
    world = pg_world
    fake = world.fake
    store = TelegramStore(world.settings.effective_database_url, world.log)
    marker = tmp_path / "paused"
    env = child_env(
        fake.env(), database_url=world.settings.effective_database_url, data_dir=world.settings.data_dir
    )
    pause = {"BOT_TEST_PAUSE_ON": "冻结中", "BOT_TEST_MARKER": str(marker), "BOT_TEST_PAUSE_SECONDS": "3"}
    a = BotProcess({**env, **pause}, tmp_path / "a.log", tmp_path)
    b = BotProcess(env, tmp_path / "b.log", tmp_path)
    start = fake.mark()
    frozen = False
    try:
        a.start().wait_log(SERVING)
        b.start().wait_log(WAITING)
        mark = fake.mark()
        before = fake.push_command(RM, "log", "张伟 电话 冻结前")
        fake.wait_for_messages(RM, 1, 20, since=mark)
        wait_until(lambda: store.status(before) == "done", what="A finished its update")
        during = fake.push_command(RM, "log", "张伟 电话 冻结中")
        wait_until(marker.exists, what="A saved the record and paused")
        a.signal(signal.SIGSTOP)  # mid-update: the record is saved, the reply not sent
        frozen, stopped = True, time.monotonic()
        mark = fake.mark()
        b.wait_log(SERVING, timeout=LEASE + 60)
        takeover = time.monotonic() - stopped
        [replayed] = fake.wait_for_messages(RM, 1, 30, since=mark)  # B answers the update A froze in
        after = fake.push_command(RM, "log", "张伟 微信 冻结后")
        fake.wait_for_messages(RM, 2, 30, since=mark)
        wait_until(lambda: store.status(during) == store.status(after) == "done", what="B finished")
        a.signal(signal.SIGCONT)
        frozen = False
        a.wait_log(WAITING, timeout=60)  # stepped down to standby, did not exit
        late = fake.push_command(RM, "log", "张伟 电话 解冻后")
        fake.wait_for_messages(RM, 3, 30, since=mark)
        wait_until(lambda: store.status(late) == "done", what="B handled the last update")
        time.sleep(2)  # a doubled reply from A would arrive now
        assert a.proc is not None and a.proc.poll() is None  # alive, as the standby
    finally:
        if frozen:
            a.signal(signal.SIGCONT)
        a.stop()
        b.stop()
    record_property("takeover_seconds", round(takeover, 2))
    assert "已记录" in (replayed.visible_text or "")
    assert len(fake.messages_to(RM, since=start)) == 4  # one reply per update, none from the thawed A
    assert [_records(world, s) for s in ("冻结前", "冻结中", "冻结后", "解冻后")] == [1, 1, 1, 1]
    assert store.counts() == {"done": 4}
    assert "leader lease lost" in a.log and "lost the leader lease" in a.log


@pytest.mark.slow
def test_a_leader_whose_connections_are_cut_keeps_serving_or_hands_over(
    pg_world: BotWorld, tmp_path: Path
) -> None:
    world = pg_world
    fake = world.fake
    url = world.settings.effective_database_url
    env = child_env(fake.env(), database_url=url, data_dir=world.settings.data_dir)
    a = BotProcess(env, tmp_path / "a.log", tmp_path)
    b = BotProcess(env, tmp_path / "b.log", tmp_path)
    try:
        a.start().wait_log(SERVING)
        b.start().wait_log(WAITING)
        # Every connection of both processes ends while they live (a network cut, a failover).
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        engine.dispose()
        assert len(killed) >= 2  # at least both lease connections
        time.sleep(LEASE)  # long enough for a lost lease to be noticed and taken over
        mark = fake.mark()
        fake.push_command(RM, "log", "张伟 电话 断线后")
        [reply] = fake.wait_for_messages(RM, 1, LEASE + 40, since=mark)
        time.sleep(2)  # a doubled reply would arrive now
        for proc in (a, b):
            assert proc.proc is not None and proc.proc.poll() is None  # neither exited
    finally:
        a.stop()
        b.stop()
    assert "已记录" in (reply.visible_text or "") and len(fake.messages_to(RM, since=mark)) == 1
    assert _records(world, "断线后") == 1
