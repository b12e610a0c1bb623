"""End to end through the fake Bot API: a supervisor pages through last month's review of their team with
the inline buttons, marks everything done and finds the same totals in /stats (which also sends its chart);
an escalated answer reaches the trainer, who resolves it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.answer_flags import WEAK_FLAG
from bot.core import Clock
from bot.features.supervision import ReviewLog, SupervisionService
from bot.features.supervision.views import ReviewView
from crm_adapter import Channel, NewContact
from knowledge import Answer, Citation
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import ApiCall, FakeBotAPI
from tests.bot.features.test_review_workbench import backdate
from tests.bot.test_telegram_e2e import send

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, SUP, TRN = TELEGRAM_IDS["RM001"], TELEGRAM_IDS["SUP01"], TELEGRAM_IDS["TRN01"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def seed_last_month(world: BotWorld, clock: Clock, n: int = 23) -> list[int]:
    """`n` exchanges of team A (RM001/RM002) and one of team B (RM003) in last month, plus a flagged
    contact record of RM001."""
    first = clock.today().replace(day=1)
    start = (first - timedelta(days=1)).replace(day=1)
    cite = Citation(n=1, source="bundled:03.md", title="增值服务权益", text="…", heading="钻石")
    ids = []
    for i in range(n + 1):
        grounded = i % 4 != 1
        answer = Answer(
            question="q", lead=("答[1]。",), citations=(cite,) if grounded else (), grounded=grounded
        )
        code = "RM003" if i == n else ("RM001", "RM002")[i % 2]
        flags = (WEAK_FLAG,) if i % 4 == 2 else ()
        stored = world.log.record(staff_code=code, channel="telegram", question=f"月度问题{i}", answer=answer,
                                  flags=flags)  # fmt: skip
        local = datetime.combine(start + timedelta(days=i % 27), time(10, i), clock.tz)
        backdate(world.log, stored.id, local.astimezone(UTC))
        ids.append(stored.id)
    client = world.crm.search_clients(actor="RM001", query="张伟")[0]
    occurred = datetime.combine(start + timedelta(days=27), time(15), clock.tz)
    world.crm.create_contact(
        actor="RM001",
        contact=NewContact(client_id=client.client_id, channel=Channel.PHONE, summary="建议客户拆分转账",
                           occurred_at=occurred),
    )  # fmt: skip
    return ids[:n]


def refs(call: ApiCall) -> list[str]:
    return re.findall(r"^(?:🚩|⬜|✅|⬆️) ([QC]\d+) ", call.visible_text or "", flags=re.MULTILINE)


async def press(fake: FakeBotAPI, user: int, message: ApiCall, text: str) -> ApiCall:
    data = message.button(text)["callback_data"]
    assert len(data.encode()) <= 64
    mark = fake.mark()
    fake.push_callback(user, data, message=message)
    [reply] = await fake.wait_for_messages_async(user, 1, since=mark, timeout=30)
    return reply


async def test_supervisor_pages_through_a_month_and_marks_everything_done(bot_world: BotWorld) -> None:
    fake, clock = bot_world.fake, Clock(bot_world.settings.rm_timezone)
    ids = seed_last_month(bot_world, clock)
    service = SupervisionService(crm=bot_world.crm, log=bot_world.log, clock=clock)
    sup = bot_world.crm.get_staff(code="SUP01")
    expected: ReviewView = service.review(sup, ["上月"])
    total = expected.totals.items
    assert expected.totals.exchanges == 23 and expected.pages == -(-total // 10) >= 3
    async with running(bot_world.build()):
        [first] = await send(fake, SUP, "/review 上月")
        text = first.visible_text or ""
        assert "问答 23 条" in text and f"联系记录 {expected.totals.contacts} 条" in text
        assert f"已复核 0/{total}" in text and f"第 1/{expected.pages} 页" in text
        assert refs(first) == [i.ref for i in expected.items] and refs(first)[0].startswith("C")
        assert "月度问题23" not in text  # team B
        # page through with 下一页: every item once
        seen, page = refs(first), first
        for n in range(2, expected.pages + 1):
            page = await press(fake, SUP, page, "下一页")
            assert f"第 {n}/{expected.pages} 页" in (page.visible_text or "")
            seen += refs(page)
        assert len(set(seen)) == total and {f"Q{i}" for i in ids} <= set(seen)
        back = await press(fake, SUP, page, "上一页")
        assert f"第 {expected.pages - 1}/{expected.pages} 页" in (back.visible_text or "")
        # one item by its button, one by command, then the rest page by page from the first message
        one = await press(fake, SUP, first, f"{refs(first)[0]} 已复核")
        assert f"已复核 1/{total}" in (one.visible_text or "")
        [done] = await send(fake, SUP, f"/reviewed Q{ids[0]}")
        assert f"已标记为已复核：Q{ids[0]}" in (done.visible_text or "")
        page = await press(fake, SUP, one, "本页")
        while "待复核 0" not in (page.visible_text or ""):
            assert (page.visible_text or "").startswith("✅ 已标记为已复核")
            page = await press(fake, SUP, page, "本页")
        assert f"已复核 {total}/{total}，待复核 0" in (page.visible_text or "")
        # /stats: the same totals, and its chart
        mark = fake.mark()
        [stats] = await send(fake, SUP, "/stats 上月")
        figures = stats.visible_text or ""
        assert "提问 23 次" in figures and f"联系记录 {expected.totals.contacts} 条" in figures
        photo = await fake.wait_for_async(lambda c: c.method == "sendPhoto", since=mark, timeout=30)
        assert photo.chat_id == SUP and photo.files["photo"].content.startswith(PNG_MAGIC)
        assert photo.ok and photo.result["photo"][0]["file_size"] == len(photo.files["photo"].content)
        # an RM cannot press a supervisor's button
        [hello] = await send(fake, RM, "/help")  # a message in the RM's own chat to press on
        mark = fake.mark()
        fake.push_callback(RM, first.button("下一页")["callback_data"], message=hello)
        [refused] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        assert "仅供" in (refused.visible_text or "")
    actions = ReviewLog(bot_world.log).list_actions()
    assert len(actions) == total and {a.action for a in actions} == {"reviewed"}
    assert {a.actor for a in actions} == {"SUP01"}


async def test_escalated_answer_reaches_the_trainer(bot_world: BotWorld) -> None:
    fake, clock = bot_world.fake, Clock(bot_world.settings.rm_timezone)
    ids = seed_last_month(bot_world, clock, n=4)
    wrong = f"Q{ids[0]}"
    async with running(bot_world.build()):
        [review] = await send(fake, SUP, "/review 上月")
        escalated = await press(fake, SUP, review, f"{wrong} 转交培训师")
        assert f"已转交培训师：{wrong}" in (escalated.visible_text or "")
        [noted] = await send(fake, SUP, f"/note {wrong} 回答没有提到起购金额")
        assert "已记录" in (noted.visible_text or "")
        [handoffs] = await send(fake, TRN, "/handoffs")
        text = handoffs.visible_text or ""
        assert wrong in text and "月度问题0" in text and "陈静" in text
        [gaps] = await send(fake, TRN, "/unanswered")
        assert "主管转交（1）" in (gaps.visible_text or "")
        resolved = await press(fake, TRN, handoffs, f"{wrong} 已处理")
        assert "目前没有待处理的主管转交" in (resolved.visible_text or "")
        [again] = await send(fake, SUP, "/review 上月")
        shown = again.visible_text or ""
        assert f"✅ {wrong}" in shown and "回答没有提到起购金额" in shown
    assert [a.action for a in ReviewLog(bot_world.log).list_actions()] == ["escalate", "comment", "resolve"]
