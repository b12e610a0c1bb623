"""Edited messages and resends, end to end through the fake Bot API (SQLite and PostgreSQL): each test
asserts the exact number of contact records and of replies.

- a resent /log (same content, same day) is one record; the reply says when it was stored;
- an edited /log that stored a record changes nothing and says so once;
- an edited answer of an unconfirmed guided draft updates the draft and asks the current question again;
- an edited question is answered again as a new question and logged as its own exchange.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.telegram.log_handlers import EDIT_NOT_APPLIED, EDIT_NOT_IN_DRAFT, EDIT_OF_CANCELLED
from tests.bot.bot_process import stub_world
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import FakeBotAPI

pytestmark = pytest.mark.anyio

RM = TELEGRAM_IDS["RM001"]
KEPT = "原记录保留；如需更正，请发送 /log 重新登记更正内容"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, fake_bot_api: FakeBotAPI, tmp_path: Path) -> Iterator[BotWorld]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with stub_world(fake_bot_api, tmp_path / "data", url) as w:
        yield w


def records(world: BotWorld, summary: str) -> int:
    return sum(1 for r in world.crm.list_contacts(actor="RM001", limit=1000) if summary in r.summary)


def stored_at(world: BotWorld, summary: str, channel: str = "电话") -> str:
    """HH:MM (bank time zone) at which the one record with `summary` and `channel` was stored."""
    contacts = world.crm.list_contacts(actor="RM001", limit=1000)
    [record] = [r for r in contacts if r.summary == summary and r.channel == channel]
    return record.created_at.astimezone(ZoneInfo(world.settings.rm_timezone)).strftime("%H:%M")


async def replies(fake: FakeBotAPI, n: int, since: int) -> list[str]:
    """Exactly `n` replies to the RM since `since` (waits for them, then checks that no more follow)."""
    await fake.wait_for_messages_async(RM, n, since=since, timeout=20)
    await asyncio.sleep(0.4)
    texts = [c.visible_text or "" for c in fake.messages_to(RM, since=since)]
    assert len(texts) == n, texts
    return texts


async def send(fake: FakeBotAPI, text: str, n: int = 1) -> tuple[int, list[str]]:
    """Push a message (or /command) and wait for its `n` replies; returns its update id and the replies."""
    mark = fake.mark()
    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        uid = fake.push_command(RM, command, args)
    else:
        uid = fake.push_message(RM, text)
    return uid, await replies(fake, n, mark)


async def edit(fake: FakeBotAPI, uid: int, text: str, n: int = 1) -> list[str]:
    mark = fake.mark()
    fake.push_edit(RM, fake.message_id_of(uid), text)
    return await replies(fake, n, mark)


async def test_a_resent_log_is_one_record_and_says_when_it_was_stored(world: BotWorld) -> None:
    async with running(world.build()):
        _, [first] = await send(world.fake, "/log 张伟 电话 重发同一条")
        _, [again] = await send(world.fake, "/log  张伟 电话   重发同一条 ")  # spacing differs: same contact
        _, [other] = await send(world.fake, "/log 张伟 微信 重发同一条")  # another channel: a new record
    assert "已记录" in first and "已记录" in other
    assert again.startswith(f"ℹ️ 该联系记录已于 {stored_at(world, '重发同一条')} 登记")
    assert "已记录" not in again
    assert records(world, "重发同一条") == 2


async def test_editing_a_saved_log_keeps_the_record_and_says_so(world: BotWorld) -> None:
    fake = world.fake
    async with running(world.build()):
        uid, [saved] = await send(fake, "/log 张伟 电话 编辑前的摘要")
        [reply] = await edit(fake, uid, "/log 张伟 电话 编辑后的摘要")
        [reply_again] = await edit(fake, uid, "张伟 电话 编辑后的摘要")  # no longer a command: still the log
    assert "已记录" in saved
    expected = f"该联系记录已于 {stored_at(world, '编辑前的摘要')} 登记，{KEPT}"
    assert reply == reply_again == expected
    assert records(world, "编辑前的摘要") == 1 and records(world, "编辑后的摘要") == 0
    assert world.log.stats().questions == 0  # the edit was not taken for a question either


async def test_editing_a_log_that_saved_nothing_saves_nothing(world: BotWorld) -> None:
    fake = world.fake
    async with running(world.build()):
        uid, [refused] = await send(fake, "/log 查无此人 电话 未保存的记录")
        [reply] = await edit(fake, uid, "/log 张伟 电话 未保存的记录")
    assert "未找到" in refused or "没有找到" in refused
    assert reply == EDIT_NOT_APPLIED
    assert records(world, "未保存的记录") == 0


async def test_editing_an_answer_of_the_unconfirmed_draft_updates_it(world: BotWorld) -> None:
    fake = world.fake
    async with running(world.build()):
        await send(fake, "/log")
        await send(fake, "C0001")
        await send(fake, "电话")
        summary_uid, [follow_up] = await send(fake, "草稿原摘要")
        assert "跟进" in follow_up
        note, prompt = await edit(fake, summary_uid, "草稿改后的摘要", n=2)
        assert note == "✏️ 已按您修改的消息更新草稿。" and "跟进" in prompt  # the same question again
        _, [confirm] = await send(fake, "跳过")
        assert "请确认" in confirm and "草稿改后的摘要" in confirm and "草稿原摘要" not in confirm
        confirm_uid, [saved] = await send(fake, "确认")
        assert "已记录" in saved and "草稿改后的摘要" in saved
        # Once saved, editing any message of that /log changes nothing.
        [after] = await edit(fake, summary_uid, "保存后再改的摘要")
        [after_confirm] = await edit(fake, confirm_uid, "取消")
    assert after == after_confirm and after.endswith(KEPT)
    assert records(world, "草稿改后的摘要") == 1
    assert records(world, "草稿原摘要") == records(world, "保存后再改的摘要") == 0


async def test_draft_edits_that_do_not_fit_leave_the_draft_as_it_was(world: BotWorld) -> None:
    fake = world.fake
    async with running(world.build()):
        question_uid, _ = await send(fake, "钻石客户有哪些增值服务？")
        await send(fake, "/log")
        client_uid, [unknown] = await send(fake, "查无此人")  # refused: the state stays
        assert "没有找到客户" in unknown
        [channel_prompt] = await edit(fake, client_uid, "C0001")  # the refused answer, corrected
        assert "请选择联系渠道" in channel_prompt
        refused_uid, [again] = await send(fake, "飞鸽传书")  # not a channel: asked again
        assert "请从以下渠道中选择" in again
        [summary_prompt] = await edit(fake, refused_uid, "微信")  # the refused answer, corrected
        assert "摘要" in summary_prompt
        note, prompt = await edit(fake, client_uid, "查无此人", n=2)  # an answer edited into nonsense
        assert note.startswith("⚠️") and "草稿未改" in note and "摘要" in prompt
        [not_in_draft] = await edit(fake, question_uid, "黄金客户有哪些增值服务？")
        assert not_in_draft == EDIT_NOT_IN_DRAFT
        await send(fake, "草稿不变测试")
        await send(fake, "跳过")
        _, [saved] = await send(fake, "确认")
    assert "已记录" in saved and "微信" in saved
    [record] = [r for r in world.crm.list_contacts(actor="RM001") if r.summary == "草稿不变测试"]
    assert record.client_id == "C0001" and record.channel == "微信"
    assert world.log.stats().questions == 1  # the question edited during the /log was not answered


async def test_editing_a_message_of_a_cancelled_log_stores_and_asks_nothing(world: BotWorld) -> None:
    fake = world.fake
    async with running(world.build()):
        await send(fake, "/log")
        await send(fake, "C0001")
        await send(fake, "电话")
        summary_uid, _ = await send(fake, "取消前的摘要")
        _, [cancelled] = await send(fake, "/cancel")
        [reply] = await edit(fake, summary_uid, "取消后改的摘要")
    assert "取消" in cancelled and reply == EDIT_OF_CANCELLED
    assert records(world, "摘要") == 0 and world.log.stats().questions == 0


async def test_an_edited_question_is_answered_again_as_a_new_question(world: BotWorld) -> None:
    fake = world.fake
    async with running(world.build()):
        uid, [first] = await send(fake, "火星客户有哪些增值服务？")
        [second] = await edit(fake, uid, "钻石客户有哪些增值服务？")
        _, [today] = await send(fake, "/today")
        today_mark = fake.mark()
        fake.push_edit(RM, fake.message_id_of(_), "/today 2")  # an edited command is not run again
        await asyncio.sleep(1.0)
        assert fake.messages_to(RM, since=today_mark) == []
    assert "没有找到" in first and "贵宾厅" in second
    exchanges = world.log.list_exchanges(flagged_first=False)
    assert sorted(e.question for e in exchanges) == ["火星客户有哪些增值服务？", "钻石客户有哪些增值服务？"]
    assert [u.question for u in world.log.unanswered()] == ["火星客户有哪些增值服务？"]  # once, as asked
    assert re.search(r"\S", today)
