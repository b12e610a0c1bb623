"""End to end through the fake Bot API (issue #21): an RM records two 专家挂号 uses for a 钻石 client, asks
how many are left, reads the /brief, is warned before a sixth use; a redelivered /used counts once; a
/log that arranged a benefit offers, while confirming, to record it."""

from __future__ import annotations

import pytest

from crm_adapter import Client
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.test_telegram_e2e import send, settle

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, SUP = TELEGRAM_IDS["RM001"], TELEGRAM_IDS["SUP01"]


def diamond_client(world: BotWorld) -> Client:
    """A 钻石 client of RM001 whose name no other client of theirs shares (asked about by name)."""
    for f in world.crm.follow_ups(actor="RM001", horizon_days=366):
        c = f.client
        if c.tier == "钻石" and len(world.crm.search_clients(actor="RM001", query=c.name)) == 1:
            return c
    raise AssertionError("the demo data has no 钻石 client for RM001")


def uses(world: BotWorld, client: Client) -> int:
    return len(world.crm.benefit_uses(actor="RM001", client_id=client.client_id))


async def test_two_uses_what_is_left_the_brief_and_a_sixth_use(bot_world: BotWorld) -> None:
    fake, client = bot_world.fake, diamond_client(bot_world)
    cid = client.client_id
    async with running(bot_world.build()):
        [first] = await send(fake, RM, f"/used {cid} 专家挂号 今天 心内科")
        assert "已登记" in (first.visible_text or "") and "还剩 4 次" in (first.visible_text or "")
        mark = fake.mark()
        second_update = fake.push_command(RM, "used", f"{cid} 专家号 今天 骨科")
        [second] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        assert "专家挂号预约" in (second.visible_text or "") and "还剩 3 次" in (second.visible_text or "")
        fake.push_raw(fake.update(second_update))  # Telegram delivers the same update again
        await settle(fake)
        assert uses(bot_world, client) == 2

        [answer] = await send(fake, RM, f"{client.name}今年还能约几次专家号？")
        text = answer.visible_text or ""
        assert "钻石客户每年5次，今年已用2次" in text and "还剩3次" in text
        assert "CRM 权益使用台账" in text and "增值服务权益" in text  # the rule and the ledger, cited

        [brief] = await send(fake, RM, f"/brief {client.name}")
        text = brief.visible_text or ""
        assert f"会前简报：{client.name}" in text and "专家挂号预约：每年5次，已用 2 次" in text
        assert "话题建议" in text and "\n1. " in text and "依据：" in text
        [read] = await send(fake, SUP, f"/brief {cid}")  # the supervisor reads the team's client
        assert f"会前简报：{client.name}" in (read.visible_text or "")

        for note in ("复诊一", "复诊二", "复诊三"):
            await send(fake, RM, f"/used {cid} 专家挂号 今天 {note}")
        assert uses(bot_world, client) == 5
        [warned] = await send(fake, RM, f"/used {cid} 专家挂号 今天 复诊四")
        assert "超出权益次数" in (warned.visible_text or "") and "第 6 次" in (warned.visible_text or "")
        assert uses(bot_world, client) == 5  # nothing saved before the RM decides
        mark = fake.mark()
        [_, cancel] = warned.callback_data
        assert cancel.startswith("bu:no:")
        fake.push_callback(RM, cancel, message=warned)
        [cancelled] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        assert "已取消" in (cancelled.visible_text or "")
    assert uses(bot_world, client) == 5


async def test_a_log_that_arranged_a_benefit_offers_to_record_it_while_confirming(
    bot_world: BotWorld,
) -> None:
    """The confirmation names the benefit; "确认并登记权益" saves the record and the use linked to it; the
    answer redelivered or edited counts nothing more."""
    fake, client = bot_world.fake, diamond_client(bot_world)
    summary = "帮客户约了全程导医，下周三陪同就诊"
    async with running(bot_world.build()):
        [ask] = await send(fake, RM, f"/log {client.client_id} 电话 {summary}")
        text = ask.visible_text or ""
        assert "请确认联系记录" in text and "摘要提到已安排「全程导医」" in text
        keys = [b["text"] for row in (ask.reply_markup or {}).get("keyboard", []) for b in row]
        assert keys == ["确认", "确认并登记权益", "取消"]
        assert uses(bot_world, client) == 0  # nothing stored before the RM answers
        mark = fake.mark()
        answer = fake.push_message(RM, "确认并登记权益")
        [saved, used] = await fake.wait_for_messages_async(RM, 2, since=mark, timeout=30)
        assert "已记录" in (saved.visible_text or "") and "已登记" in (used.visible_text or "")
        fake.push_raw(fake.update(answer))  # Telegram delivers the answer again
        fake.push_edit(RM, fake.update(answer)["message"]["message_id"], "确认并登记权益！")
        await settle(fake)
    [use] = bot_world.crm.benefit_uses(actor="RM001", client_id=client.client_id)
    [record] = [
        r
        for r in bot_world.crm.list_contacts(actor="RM001", client_id=client.client_id)
        if r.summary == summary
    ]
    assert use.benefit == "全程导医" and use.contact_id == record.id
    assert f"关联联系记录 C{record.id}" in (used.visible_text or "")


async def test_today_is_ranked_and_marked_and_the_supervisor_sees_completion(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build()):
        [day] = await send(fake, RM, "/today")
        text = day.visible_text or ""
        assert (
            "今日待办（按紧急程度" in text and "\n1. " in text and " — " in text
        )  # each item with its reason
        [done] = await send(fake, RM, "/done 1 已电话回访")
        assert "已完成" in (done.visible_text or "")
        [skipped] = await send(fake, RM, "/skip 2")
        assert "须写明原因" in (skipped.visible_text or "")
        [again] = await send(fake, RM, "/today")
        assert "1. ✅" in (again.visible_text or "") and "（已电话回访）" in (again.visible_text or "")
        [team] = await send(fake, SUP, "/today")
        assert "完成情况" in (team.visible_text or "") and "• RM001：1/" in (team.visible_text or "")
