"""End to end through the fake Bot API (issue #13 "done when", issue #11 item 3): RMs ask a question the
knowledge base cannot answer; the trainer's /unanswered shows it as the biggest gap, with the client's
name replaced by 某客户; the trainer turns that cluster into a curated answer in chat; it is not served
until a second trainer approves it with the /changes button (four eyes, issue #12 item 5; the author
cannot); then the next RM asking a paraphrase gets it, marked 培训师审定 with author and date; /kbusage
counts the hit."""

from __future__ import annotations

import pytest

from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import ApiCall, FakeBotAPI
from tests.bot.test_telegram_e2e import send

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, RM2, SUP, TRN, TRN2 = (TELEGRAM_IDS[c] for c in ("RM001", "RM002", "SUP01", "TRN01", "TRN02"))
ANSWER = "请客户本人携带有效身份证件，与客户一同到网点办理开户"


async def ask(fake: FakeBotAPI, user: int, question: str) -> ApiCall:
    """Ask in chat; when the bot asks which of two same-named clients is meant, pick the first."""
    [reply] = await send(fake, user, question)
    if "问题中的客户是哪一位" in (reply.visible_text or ""):
        data = reply.callback_data[0]
        mark = fake.mark()
        fake.push_callback(user, data, message=reply)
        [reply] = await fake.wait_for_messages_async(user, 1, since=mark, timeout=30)
    return reply


async def test_trainer_turns_the_biggest_gap_into_a_curated_answer(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    trainer = bot_world.crm.get_staff(code="TRN01")
    async with running(bot_world.build()):
        first = await ask(fake, RM, "张伟的太太想开户怎么办")
        assert "培训老师会据此补充知识库" in (first.visible_text or "")  # unanswered
        await ask(fake, RM2, "李娜的老婆要来开户怎么办")
        await ask(fake, RM2, "张伟的太太想开户，该怎么办？")
        await ask(fake, RM, "火星上有什么理财产品？")
        [gaps] = await send(fake, TRN, "/unanswered")
        text = gaps.visible_text or ""
        assert "某客户的太太想开户怎么办" in text and "张伟" not in text and "李娜" not in text
        assert "1. 3 次【未能回答 3】" in text
        [sup_view] = await send(fake, SUP, "/unanswered")
        assert "张伟的太太想开户怎么办" in (sup_view.visible_text or "")  # the team's questions as they are
        told = fake.mark()
        [saved] = await send(fake, TRN, f"/curate 1 {ANSWER} 来源：开户指引")
        assert "已提交审定答案 A1" in (saved.visible_text or "") and "待审批" in (saved.visible_text or "")
        [notice] = await fake.wait_for_messages_async(TRN2, 1, since=told, timeout=30)  # approvers are told
        assert "A1" in (notice.visible_text or "") and "等待审批" in (notice.visible_text or "")
        unapproved = await ask(fake, RM2, "张伟的妻子要开户，怎么办理？")
        assert "培训师审定" not in (unapproved.visible_text or "")  # never served before approval
        [own] = await send(fake, TRN, "/approve A1")
        assert "四眼原则" in (own.visible_text or "")  # not by its author
        [listing] = await send(fake, TRN2, "/changes")
        assert "A1" in (listing.visible_text or "") and ANSWER in (listing.visible_text or "")
        mark = fake.mark()
        fake.push_callback(TRN2, listing.button("查看 A1 全文")["callback_data"], message=listing)
        [full] = await fake.wait_for_messages_async(TRN2, 1, since=mark, timeout=30)
        assert ANSWER in (full.visible_text or "")  # the approve buttons are under the whole answer
        mark = fake.mark()
        fake.push_callback(TRN2, full.button("批准 A1")["callback_data"], message=full)
        [approved] = await fake.wait_for_messages_async(TRN2, 1, since=mark, timeout=30)
        assert "已批准审定答案 A1" in (approved.visible_text or "")
        [outcome] = await fake.wait_for_messages_async(TRN, 1, since=mark, timeout=30)  # the author hears it
        heard = outcome.visible_text or ""
        assert "已由 孙悦（TRN02）处理" in heard and "A1" in heard
        reply = await ask(fake, RM2, "张伟的妻子要开户，怎么办理？")
        shown = reply.visible_text or ""
        assert "培训师审定" in shown and trainer.name in shown and ANSWER in shown and "开户指引" in shown
        assert reply.button("没帮助")  # rated like any answer
        [usage] = await send(fake, TRN, "/kbusage")
        assert "A1 1 次" in (usage.visible_text or "")
    served = bot_world.log.list_exchanges(staff_codes=["RM002"], flagged_first=False, limit=1)[0]
    assert served.composer == "curated" and served.citations[0]["source"] == "curated:1"
