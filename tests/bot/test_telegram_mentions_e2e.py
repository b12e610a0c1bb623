"""End to end through the fake Bot API: a question naming one of the RM's clients anywhere is answered
for that client, and a bare "确认" outside /log gets a hint instead of an answer."""

from __future__ import annotations

import pytest

from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.test_telegram_e2e import send

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM = TELEGRAM_IDS["RM001"]


async def test_bare_confirmation_hint_and_client_named_before_a_noun(bot_world: BotWorld) -> None:
    fake, crm = bot_world.fake, bot_world.crm
    zhang = crm.get_client(actor="RM001", client_id="C0001")  # 张伟, one of RM001's demo clients
    async with running(bot_world.build()):
        for word in ("确认", "取消", "好的"):
            [hint] = await send(fake, RM, word)
            text = hint.visible_text or ""
            assert "当前没有需要确认或取消的操作" in text and "/log" in text and "参考依据" not in text
        assert bot_world.log.stats().questions == 0  # no answer was given, none logged
        [answer] = await send(fake, RM, "张伟手术住院安排有几次")
        assert f"依据客户卡片：张伟，{zhang.tier.value}客户" in (answer.visible_text or "")
        # inside /log the same word still confirms the record
        for step in ("/log", "C0001", "见面", "例行问候", "下周一"):
            [prompt] = await send(fake, RM, step)
        assert "请确认" in (prompt.visible_text or "")
        [done] = await send(fake, RM, "确认")
        assert "已记录" in (done.visible_text or "")
    assert bot_world.log.stats().questions == 1


async def test_the_which_client_pick_survives_a_restart(bot_world: BotWorld) -> None:
    """The question waiting for "which 张伟?" lives in the RM's persisted user_data: a new Application on
    the same database answers the pick made after the restart, for the client picked."""
    fake, crm = bot_world.fake, bot_world.crm
    report = crm.import_clients(
        actor="ADM01",
        rows=[{"name": "张伟", "birthday": "", "phone": "", "aum": "800000", "risk_level": "C3",
               "rm_code": "RM001", "client_id": "C9001"}],
    )  # fmt: skip
    assert not report.errors, report.errors
    twin = crm.get_client(actor="RM001", client_id="C9001")
    async with running(bot_world.build()):
        [pick] = await send(fake, RM, "张伟手术住院安排有几次")
        assert "哪一位" in (pick.visible_text or "") and f"askc:{twin.client_id}" in pick.callback_data
    assert bot_world.log.stats().questions == 0  # nothing answered before the pick
    async with running(bot_world.build()):  # a restart: nothing of the first process is left in memory
        mark = fake.mark()
        fake.push_callback(RM, f"askc:{twin.client_id}", message=pick)
        [answer] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        text = answer.visible_text or ""
        assert f"依据客户卡片：张伟，{twin.tier.value}客户" in text and "已失效" not in text
        mark = fake.mark()
        fake.push_callback(RM, f"askc:{twin.client_id}", message=pick)  # used once
        [again] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        assert "已失效" in (again.visible_text or "")
    assert bot_world.log.stats().questions == 1
