"""Fault suite, end to end through the fake Bot API: each test asserts the exact number of contact records
and of replies. Guarantees: 0 records lost, 0 doubled, 0 updates left unanswered after a restart, at most
one error reply per update, and the reply says whether a /log was saved.

In-process tests drive the Application with `running()`; crash tests kill -9 real bot processes
(`tests/bot/bot_process.py`) and restart them on the same database (SQLite and PostgreSQL). The standby
takeover is in test_standby.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from bot.telegram.handlers import GATE_UNAVAILABLE, LOG_NOT_SAVED, LOG_SAVED_REPLY_FAILED
from bot.telegram.store import TelegramStore
from tests.bot.bot_process import (
    SERVING,
    WAITING,
    BotProcess,
    PrivatePostgres,
    child_env,
    stub_world,
    wait_until,
)
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import FakeBotAPI

RM = TELEGRAM_IDS["RM001"]


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, fake_bot_api: FakeBotAPI, tmp_path: Path) -> Iterator[BotWorld]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with stub_world(fake_bot_api, tmp_path / "data", url) as w:
        yield w


@pytest.fixture
def sqlite_world(fake_bot_api: FakeBotAPI, tmp_path: Path) -> Iterator[BotWorld]:
    with stub_world(fake_bot_api, tmp_path / "data") as w:
        yield w


def records(world: BotWorld, summary: str) -> int:
    return sum(1 for r in world.crm.list_contacts(actor="RM001", limit=1000) if summary in r.summary)


def texts(fake: FakeBotAPI, since: int) -> list[str]:
    return [c.visible_text or "" for c in fake.messages_to(RM, since=since)]


def store_of(world: BotWorld) -> TelegramStore:
    return TelegramStore(world.settings.effective_database_url, world.log)


def _down(*_a: Any, **_kw: Any) -> Any:
    raise OperationalError("SELECT …", {}, ConnectionRefusedError("database is down"))


# --- fail closed: the access gate ------------------------------------------------------------------------
@pytest.mark.anyio
async def test_gate_error_drops_the_update_with_one_reply(
    world: BotWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = world.fake
    async with running(world.build()):
        monkeypatch.setattr(world.crm, "get_staff_by_telegram_id", _down)  # the staff lookup fails
        mark = fake.mark()
        question = fake.push_message(RM, "钻石客户有哪些增值服务？")
        log_update = fake.push_command(RM, "log", "张伟 电话 网关故障测试")
        await fake.wait_for_messages_async(RM, 2, since=mark, timeout=20)
        await asyncio.sleep(0.5)  # a second error reply would come now
        assert texts(fake, mark) == [GATE_UNAVAILABLE, LOG_NOT_SAVED]  # one each, no handler ran
        monkeypatch.undo()
        mark = fake.mark()
        fake.push_command(RM, "log", "张伟 电话 网关故障测试")  # the RM resends once the database is back
        [saved] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        assert "已记录" in (saved.visible_text or "")
    assert world.log.stats().questions == 0  # the dropped question reached no handler
    assert records(world, "网关故障测试") == 1
    store = store_of(world)
    assert store.status(question) == store.status(log_update) == "done"  # dropped, not replayed later
    assert store.counts().get("pending", 0) == 0


@pytest.mark.anyio
async def test_crm_down_while_saving_says_not_saved(world: BotWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = world.fake
    async with running(world.build()):
        monkeypatch.setattr(world.crm, "create_contact", _down)
        mark = fake.mark()
        fake.push_command(RM, "log", "张伟 电话 客户系统故障测试")
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        await asyncio.sleep(0.5)
        assert texts(fake, mark) == [f"⚠️ {LOG_NOT_SAVED}"]
        assert records(world, "客户系统故障测试") == 0
        monkeypatch.undo()
        mark = fake.mark()
        fake.push_command(RM, "log", "张伟 电话 客户系统故障测试")
        [saved] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        assert "已记录" in (saved.visible_text or "")
    assert records(world, "客户系统故障测试") == 1


# --- the reply is lost after the record was saved -----------------------------------------------------------
async def _lose_the_confirmation(world: BotWorld, fault: str, summary: str) -> list[str]:
    """Send a one-line /log whose confirmation fails (HTTP 500, or a timeout: delivered late)."""
    fake = world.fake
    if fault == "500":
        fake.inject_error("sendMessage", 500, times=1)
    else:  # longer than the 5 s read timeout: PTB gives up, the fake delivers it anyway
        fake.inject_error("sendMessage", None, delay=6, times=1)
    mark = fake.mark()
    fake.push_command(RM, "log", f"张伟 电话 {summary}")
    await fake.wait_for_messages_async(RM, 1 if fault == "500" else 2, since=mark, timeout=20)
    await asyncio.sleep(0.5)
    return texts(fake, mark)


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["500", "timeout"])
async def test_lost_confirmation_tells_the_rm_the_record_is_saved(sqlite_world: BotWorld, fault: str) -> None:
    world = sqlite_world
    async with running(world.build()):
        replies = await _lose_the_confirmation(world, fault, f"回复失败{fault}")
    if fault == "500":
        assert replies == [LOG_SAVED_REPLY_FAILED]
    else:  # the notice at the timeout, then the confirmation the fake delivered late
        assert replies[0] == LOG_SAVED_REPLY_FAILED and "已记录" in replies[1] and len(replies) == 2
    assert records(world, f"回复失败{fault}") == 1
    assert store_of(world).counts() == {"done": 1}


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["500", "timeout"])
async def test_resend_after_a_lost_confirmation_keeps_one_record(world: BotWorld, fault: str) -> None:
    """Logical idempotency: the resend is another update (another key) with the same contact; it is
    answered with the time of the record already stored, not with a second "已记录"."""
    fake = world.fake
    async with running(world.build()):
        await _lose_the_confirmation(world, fault, f"重发测试{fault}")
        mark = fake.mark()
        fake.push_command(RM, "log", f"张伟 电话 重发测试{fault}")  # the RM did not trust it and resends
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
        await asyncio.sleep(0.5)
        [again] = texts(fake, mark)
    [record] = [r for r in world.crm.list_contacts(actor="RM001") if r.summary == f"重发测试{fault}"]
    at = record.created_at.astimezone(ZoneInfo(world.settings.rm_timezone)).strftime("%H:%M")
    assert again.startswith(f"ℹ️ 该联系记录已于 {at} 登记") and "已记录" not in again
    assert records(world, f"重发测试{fault}") == 1


# --- kill -9 and restart (real processes, state in the database) --------------------------------------------
GUIDED = (
    ("/log", "客户"),
    ("C0001", "渠道"),
    ("电话", "摘要"),
    ("客户关注家族信托重启测试", "跟进"),
    ("跳过", "请确认"),
    ("确认", "已记录"),
)


def wait_done(store: TelegramStore, uid: int) -> None:
    wait_until(lambda: store.status(uid) == "done", what=f"update {uid} done")


def _push(fake: FakeBotAPI, text: str) -> int:
    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        return fake.push_command(RM, command, args)
    return fake.push_message(RM, text)


def _bot(world: BotWorld, tmp_path: Path, name: str, **extra: str) -> BotProcess:
    env = child_env(
        world.fake.env(),
        database_url=world.settings.effective_database_url,
        data_dir=world.settings.data_dir,
        **extra,
    )
    return BotProcess(env, tmp_path / f"{name}.log", tmp_path).start()


@pytest.mark.slow
def test_kill_9_after_every_step_of_a_guided_log(world: BotWorld, tmp_path: Path) -> None:
    fake, store = world.fake, store_of(world)
    start = fake.mark()
    for i, (text, expected) in enumerate(GUIDED):
        bot = _bot(world, tmp_path, f"step{i}")
        try:
            bot.wait_log(SERVING)
            mark = fake.mark()
            uid = _push(fake, text)
            [reply] = fake.wait_for_messages(RM, 1, 20, since=mark)
            assert expected in (reply.visible_text or ""), (text, reply.visible_text)
            wait_done(store, uid)
        finally:
            bot.kill()  # the state of the half-finished /log is only in the database now
    assert len(texts(fake, start)) == len(GUIDED)  # one reply per step, none repeated after a restart
    assert records(world, "客户关注家族信托重启测试") == 1
    assert store.counts() == {"done": len(GUIDED)}  # nothing left unanswered


@pytest.mark.slow
def test_kill_9_after_the_save_before_the_reply(world: BotWorld, tmp_path: Path) -> None:
    fake, store = world.fake, store_of(world)
    marker = tmp_path / "paused"
    bot = _bot(world, tmp_path, "a", BOT_TEST_PAUSE_ON="保存后崩溃", BOT_TEST_MARKER=str(marker))
    try:
        bot.wait_log(SERVING)
        mark = fake.mark()
        uid = fake.push_command(RM, "log", "张伟 电话 保存后崩溃测试")
        wait_until(marker.exists, what="the record saved")
    finally:
        bot.kill()
    assert texts(fake, mark) == [] and records(world, "保存后崩溃测试") == 1
    assert store.status(uid) == "pending"
    bot = _bot(world, tmp_path, "b")
    try:
        bot.wait_log(SERVING)
        [reply] = fake.wait_for_messages(RM, 1, 20, since=mark)  # the replayed update answers
        wait_until(lambda: store.status(uid) == "done", what="replayed update done")
        fake.wait_until_consumed(timeout=10)
    finally:
        bot.stop()
    assert "已记录" in (reply.visible_text or "") and len(texts(fake, mark)) == 1
    assert records(world, "保存后崩溃测试") == 1  # the replay found the record by its update's key
    assert "replaying 1 unfinished update" in bot.log


@pytest.mark.slow
def test_kill_9_while_the_reply_is_in_flight(sqlite_world: BotWorld, tmp_path: Path) -> None:
    """The one window left: Telegram delivered the reply but the process died before it heard so. The
    update is replayed, so that reply comes twice (Telegram has no idempotent sendMessage); the record
    stays one."""
    world = sqlite_world
    fake, store = world.fake, store_of(world)
    bot = _bot(world, tmp_path, "a")
    try:
        bot.wait_log(SERVING)
        fake.inject_error("sendMessage", None, delay=3, times=1)
        mark = fake.mark()
        uid = fake.push_command(RM, "log", "张伟 电话 回复途中崩溃测试")
        fake.wait_for_held_call("sendMessage", timeout=20)
    finally:
        bot.kill()
    bot = _bot(world, tmp_path, "b")
    try:
        bot.wait_log(SERVING)
        fake.wait_for_messages(RM, 2, 20, since=mark)
        wait_until(lambda: store.status(uid) == "done", what="replayed update done")
    finally:
        bot.stop()
    replies = texts(fake, mark)
    assert len(replies) == 2 and all("已记录" in t for t in replies)
    assert records(world, "回复途中崩溃测试") == 1


# --- PostgreSQL restarted mid-run (a private server: never the machine's own) --------------------------
@pytest.fixture
def restartable_pg(fake_bot_api: FakeBotAPI, tmp_path: Path) -> Iterator[tuple[PrivatePostgres, BotWorld]]:
    bindir = PrivatePostgres.find_bindir()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("no initdb to run a private PostgreSQL server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pg = PrivatePostgres(bindir, port)
    try:
        pg.start()
        with stub_world(fake_bot_api, tmp_path / "data", pg.url) as w:
            yield pg, w
    finally:
        pg.destroy()


def _count(url: str, sql: str, **params: Any) -> list[Any]:
    engine = sa.create_engine(url)  # a fresh engine: the test's pooled connections died with the server
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("standby", "down_seconds"),
    [(False, 2), (True, 2), (True, 12)],
    ids=["single", "standby", "standby-long"],
)
def test_postgres_restart_mid_run_loses_nothing(
    restartable_pg: tuple[PrivatePostgres, BotWorld], tmp_path: Path, standby: bool, down_seconds: float
) -> None:
    """Standby off: the one process keeps polling; updates that arrive while the database is down are
    not acknowledged (the inbox write fails) and are answered once it is back. Standby on: the same, by
    the leader if it renewed its lease in time, else by the standby; neither process exits. Down for
    longer than the lease (9 s in the bot processes): the leader steps down, and one of the two serves
    once the database is back."""
    pg, world = restartable_pg
    fake, url = world.fake, pg.url
    a = _bot(world, tmp_path, "a", RM_STANDBY=str(standby).lower())
    b: BotProcess | None = None
    try:
        a.wait_log(SERVING)
        if standby:
            b = _bot(world, tmp_path, "b")
            b.wait_log(WAITING)
        mark = fake.mark()
        before = fake.push_command(RM, "log", "张伟 电话 重启前")
        fake.wait_for_messages(RM, 1, 20, since=mark)
        # Finished first: stopped between its reply and its done mark it would be replayed (reply twice,
        # record once: the window test_kill_9_while_the_reply_is_in_flight shows).
        wait_done(store_of(world), before)
        pg.stop()
        mark = fake.mark()
        fake.push_command(RM, "log", "张伟 电话 停机中")
        fake.push_message(RM, "钻石客户有哪些增值服务？")
        time.sleep(down_seconds)
        assert fake.pending_updates == 2 and fake.messages_to(RM, since=mark) == []  # not acknowledged
        pg.start()
        replies = fake.wait_for_messages(RM, 2, 60, since=mark)
        fake.wait_until_consumed(timeout=20)
        time.sleep(0.5)
        for proc in (a, b):
            assert proc is None or (proc.proc is not None and proc.proc.poll() is None)  # none exited
    finally:
        a.kill()
        if b is not None:
            b.stop()
    assert len(fake.messages_to(RM, since=mark)) == 2
    assert "已记录" in (replies[0].visible_text or "") and "钻石客户" in (replies[1].visible_text or "")
    counts = _count(
        url, "SELECT summary, count(*) FROM crm_contacts WHERE source = 'telegram' GROUP BY summary"
    )
    assert sorted(counts) == [("停机中", 1), ("重启前", 1)]
    assert _count(url, "SELECT status, count(*) FROM bot_inbox GROUP BY status") == [("done", 3)]
