"""End to end: the REAL Application from build_application, polling the fake Bot API on loopback, with a
real SqlCRM (demo data in tmp SQLite), the real knowledge base (bundled corpus) and the conversation log."""

from __future__ import annotations

import asyncio
import socket
from datetime import date, timedelta
from typing import Any

import pytest

from bot.telegram.app import build_application
from crm_adapter import Client
from knowledge import Answer, Citation
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import ApiCall, FakeBotAPI

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, RM2, SUP, TRN = (TELEGRAM_IDS[c] for c in ("RM001", "RM002", "SUP01", "TRN01"))
TRN2 = TELEGRAM_IDS["TRN02"]
STRANGER = 987654


async def send(fake: FakeBotAPI, user: int, text: str, count: int = 1, **kw: Any) -> list[ApiCall]:
    """Push a message (a command when it starts with "/") and wait for `count` replies in that chat."""
    mark = fake.mark()
    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        fake.push_command(user, command, args, **kw)
    else:
        fake.push_message(user, text, **kw)
    return await fake.wait_for_messages_async(kw.get("chat_id", user), count, since=mark, timeout=30)


async def settle(fake: FakeBotAPI, user: int = RM) -> None:
    """Wait until every pushed update was handled: a /help round trip after the rest (per-chat order)."""
    await fake.wait_until_consumed_async(timeout=30)
    await send(fake, user, "/help")
    await asyncio.sleep(0.2)


def rm2_client(world: BotWorld) -> Client:
    return world.crm.follow_ups(actor="RM002", horizon_days=366)[0].client


async def test_unregistered_user_gets_one_polite_refusal(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build()):
        [reply] = await send(fake, STRANGER, "钻石客户有哪些增值服务？")
        assert "已登记的员工" in (reply.visible_text or "")
        mark = fake.mark()
        fake.push_message(STRANGER, "再问一次")
        fake.push_command(STRANGER, "client", "张伟")
        await settle(fake)
        assert fake.messages_to(STRANGER, since=mark) == []
    assert bot_world.log.stats().questions == 0
    # the default menu offers strangers only /start and /help; staff get their role's menu in their chat
    assert {c["command"] for c in fake.commands} == {"start", "help"}
    assert fake.commands_for(scope={"type": "chat", "chat_id": STRANGER}) == []
    commands = {
        c["command"]: c["description"] for c in fake.commands_for(scope={"type": "chat", "chat_id": RM})
    }
    assert commands["client"].startswith("查看客户卡片") and "log" in commands


async def test_question_with_citations_and_feedback(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build()):
        [reply] = await send(fake, RM, "钻石客户有哪些增值服务？")
        text = reply.visible_text or ""
        assert "参考依据" in text and "[1]" in text and "《" in text
        up, down = reply.callback_data
        assert up.startswith("fb:up:") and down.startswith("fb:down:")
        exchange_id = int(down.rsplit(":", 1)[1])
        mark = fake.mark()
        fake.push_callback(RM, down, message=reply)
        await fake.wait_for_async(lambda c: c.method == "answerCallbackQuery", since=mark, timeout=30)
        await fake.wait_for_async(lambda c: c.method == "editMessageReplyMarkup", since=mark, timeout=30)
    stored = bot_world.log.get(exchange_id=exchange_id)
    assert stored is not None and stored.feedback == "down" and stored.grounded
    assert stored.citations and stored.staff_code == "RM001"


async def test_httpx_fallback_backend_answers_too(bot_world: BotWorld) -> None:
    from telegram.request import HTTPXRequest

    from bot.telegram.http import AiohttpRequest

    assert isinstance(bot_world.build().bot.request, AiohttpRequest)  # the default
    settings = bot_world.settings.model_copy(update={"telegram_http_backend": "httpx"})
    app = build_application(settings, bot_world.kb, bot_world.crm, bot_world.log)
    assert isinstance(app.bot.request, HTTPXRequest)
    async with running(app):
        [reply] = await send(bot_world.fake, RM, "客户投诉应该怎么处理？")
    assert "参考依据" in (reply.visible_text or "")


async def test_client_lookup_denied_and_group_refusal(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    other = rm2_client(bot_world)
    async with running(bot_world.build()):
        # two homophones (张伟/章伟 are both "zhangwei"): a pick list, then the card
        [pick] = await send(fake, RM, "/client zhangwei")
        assert len(pick.callback_data) == 2 and all(d.startswith("client:") for d in pick.callback_data)
        mark = fake.mark()
        fake.push_callback(RM, pick.callback_data[0], message=pick)
        [card] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        text = card.visible_text or ""
        assert "等级" in text and "风险等级" in text and "资产规模" in text
        # another RM's client: not found by search (scoped), denied by id
        [reply] = await send(fake, RM, f"/client {other.name}")
        assert other.client_id not in (reply.visible_text or "") and "没有找到" in (reply.visible_text or "")
        mark = fake.mark()
        fake.push_callback(RM, f"client:{other.client_id}", message=pick)
        [denied] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        assert "无权" in (denied.visible_text or "")
        assert other.name not in (denied.visible_text or "")
        # in a group chat: refused, no client data
        [group] = await send(
            fake, RM, "/client 张伟", chat_id=-100123, chat_type="group", chat_title="团队群"
        )
        assert "私聊" in (group.visible_text or "") and "C0001" not in (group.visible_text or "")


async def test_client_card_shows_tier_entitlements(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    diamond = next(
        f.client for f in bot_world.crm.follow_ups(actor="RM001", horizon_days=366) if f.client.tier == "钻石"
    )
    async with running(bot_world.build()):
        [card] = await send(fake, RM, f"/client {diamond.client_id}")
        text = card.visible_text or ""
        assert diamond.name in text and "钻石客户权益" in text


async def test_log_one_line_and_guided_write_contact_records(bot_world: BotWorld) -> None:
    fake, crm = bot_world.fake, bot_world.crm
    async with running(bot_world.build()):
        follow_up = (date.today() + timedelta(days=30)).isoformat()
        [saved] = await send(fake, RM, f"/log 张伟 电话 客户关注海外配置 下次:{follow_up}")
        assert "已记录" in (saved.visible_text or "")
        # ambiguous pinyin → pick (the guided flow's reply keyboard) → saved
        [pick] = await send(fake, RM, "/log zhangwei 微信 发送了季度报告")
        options = [b["text"] for row in (pick.reply_markup or {}).get("keyboard", []) for b in row]
        assert len(options) >= 2 and all("(" in o for o in options)
        [saved2] = await send(fake, RM, options[1])
        assert "已记录" in (saved2.visible_text or "")
        # guided flow
        [prompt] = await send(fake, RM, "/log")
        assert "客户" in (prompt.visible_text or "")
        [ch] = await send(fake, RM, "C0001")
        assert "渠道" in (ch.visible_text or "") and ch.reply_markup is not None
        [summary] = await send(fake, RM, "见面")
        assert "摘要" in (summary.visible_text or "")
        [follow] = await send(fake, RM, "客户想了解家族信托 & <保险金信托>")
        assert "跟进" in (follow.visible_text or "")
        [confirm] = await send(fake, RM, "下周一")
        assert "请确认" in (confirm.visible_text or "") and "<保险金信托>" in (confirm.visible_text or "")
        [done] = await send(fake, RM, "确认")
        assert "已记录" in (done.visible_text or "")
    summaries = [r.summary for r in crm.list_contacts(actor="RM001", limit=1000)]
    assert "客户关注海外配置" in summaries
    assert "发送了季度报告" in summaries
    assert "客户想了解家族信托 & <保险金信托>" in summaries
    records = [r for r in crm.list_contacts(actor="RM001", limit=1000) if r.source == "telegram"]
    assert len(records) == 3
    assert all(r.idempotency_key and r.idempotency_key.startswith("telegram:") for r in records)


async def test_redelivered_update_is_ignored(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build()):
        mark = fake.mark()
        question = fake.push_message(RM, "客户投诉应该怎么处理？")
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        mark = fake.mark()
        log_update = fake.push_command(RM, "log", "张伟 电话 重复投递测试")
        await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        mark = fake.mark()
        fake.push_raw(fake.update(question))
        fake.push_raw(fake.update(log_update))
        await settle(fake)
        assert [c.visible_text for c in fake.messages_to(RM, since=mark)][:-1] == []  # only the /help reply
    assert bot_world.log.stats().questions == 1
    repeated = [
        r for r in bot_world.crm.list_contacts(actor="RM001", limit=1000) if r.summary == "重复投递测试"
    ]
    assert len(repeated) == 1


class LongAnswerKB:
    """The real knowledge base, except one question gets an answer far over Telegram's 4096 characters."""

    def __init__(self, kb: Any) -> None:
        self._kb = kb

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kb, name)

    def ask(self, question: str, *, client: Any = None) -> Answer:
        if not question.startswith("长答案"):
            return self._kb.ask(question, client=client)
        paragraph = "钻石客户可享受机场贵宾厅、全程导医与高端体检等服务 <详见手册> & 附表[1]。"
        return Answer(
            question=question,
            lead=tuple(f"第{i}条：{paragraph * 3}\n\n" for i in range(60)),
            citations=(Citation(n=1, source="bundled:03.md", title="增值服务权益", text="…"),),
            grounded=True,
        )


async def test_long_answer_is_split_and_hostile_html_is_escaped(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build(kb=LongAnswerKB(bot_world.kb))):
        mark = fake.mark()
        fake.push_message(RM, "长答案：请列出全部权益")
        await fake.wait_for_async(
            lambda c: c.method == "sendMessage" and bool(c.buttons), since=mark, timeout=30
        )
        parts = fake.messages_to(RM, since=mark)
        assert len(parts) >= 3
        assert all(len((p.visible_text or "").encode("utf-16-le")) // 2 <= 4096 for p in parts)
        assert all(not p.buttons for p in parts[:-1]) and parts[-1].buttons  # buttons on the last part
        assert "<详见手册>" in (parts[0].visible_text or "")
        # hostile HTML in a question: answered (the fake rejects bad HTML), shown escaped to the trainer
        hostile = '<script>alert("x")</script> </b> & 量子计算机怎么造?'
        [reply] = await send(fake, RM, hostile)
        assert reply.ok
        [unanswered] = await send(fake, TRN, "/unanswered")
        assert hostile in (unanswered.visible_text or "")


async def test_supervisor_review_stats_and_roles(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build()):
        await send(fake, RM, "钻石客户有哪些增值服务？")
        await send(fake, RM2, "量子计算机怎么造？")  # no evidence → flagged
        await send(fake, RM, "/log 张伟 电话 建议客户拆分转账")  # compliance warning
        [review] = await send(fake, SUP, "/review")
        text = review.visible_text or ""
        assert "团队复盘" in text and "🚩" in text
        assert text.index("量子计算机") < text.index("钻石客户有哪些增值服务")  # flagged first
        assert "规避反洗钱" in text
        [only] = await send(fake, SUP, "/review RM001 7天")
        assert "量子计算机" not in (only.visible_text or "")
        [stats] = await send(fake, SUP, "/stats")
        assert "提问 2 次" in (stats.visible_text or "")
        [refused] = await send(fake, RM, "/review")
        assert "主管" in (refused.visible_text or "") and "团队复盘" not in (refused.visible_text or "")


async def test_trainer_upload_is_ingested_and_rm_refused(bot_world: BotWorld) -> None:
    fake, kb = bot_world.fake, bot_world.kb
    content = (
        "# 新产品培训\n\n## 星辰稳健理财\n\n星辰稳健理财是一款面向白金客户的中低风险产品，起购金额100万元。\n"
    )
    source = None
    try:
        async with running(bot_world.build()):
            mark = fake.mark()
            fake.push_document(RM, "星辰.md", content.encode(), "text/markdown")
            [refused] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
            assert "仅供培训师" in (refused.visible_text or "")
            mark = fake.mark()
            fake.push_document(TRN, "星辰.md", content.encode(), "text/markdown")
            [submitted] = await fake.wait_for_messages_async(TRN, 1, since=mark, timeout=30)
            assert "已提交知识库变更 K1" in (submitted.visible_text or "")  # four eyes: not served yet
            [own] = await send(fake, TRN, "/approve K1")
            assert "四眼原则" in (own.visible_text or "")
            mark = fake.mark()
            # the approver's chat: the decision, then one status message edited up to the final report
            [full] = await send(fake, TRN2, "/changes K1")  # approvers read the whole document first
            assert "星辰稳健理财是一款面向白金客户" in (full.visible_text or "") and full.button("批准 K1")
            decision, status = await send(fake, TRN2, "/approve K1", 2)
            assert "已批准并发布" in (decision.visible_text or "")
            [told] = await fake.wait_for_messages_async(TRN, 1, since=mark, timeout=30)
            assert "已由" in (told.visible_text or "")  # the submitter hears the outcome
            await fake.wait_for_async(
                lambda c: c.method == "editMessageText" and "已加入知识库" in (c.visible_text or ""),
                timeout=120,
                since=mark,
            )
            shown = fake.message(TRN2, status.message_id or 0)
            assert shown is not None and "已加入知识库" in shown["text"]
            [hits] = await send(fake, TRN, "/kb 星辰稳健理财 起购金额")
            assert "星辰" in (hits.visible_text or "") and "得分" in (hits.visible_text or "")
        source = next(s.source for s in kb.sources() if s.source.endswith("星辰.md"))
    finally:
        for s in kb.sources():
            if s.source.endswith("星辰.md"):
                kb.remove(s.source)
    assert source is not None


async def test_retry_after_is_survived(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build()):
        fake.inject_error("sendMessage", 429, retry_after=1, times=1)
        [reply] = await send(fake, RM, "客户生日怎么关怀？")
        assert reply.ok
        assert fake.calls("sendMessage", ok=False)[0].error_code == 429


async def test_log_state_survives_restart(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build()):
        await send(fake, RM, "/log")
        [channel_prompt] = await send(fake, RM, "C0001")
        assert "渠道" in (channel_prompt.visible_text or "")
    # a new Application on the same data dir continues the conversation where it was
    async with running(bot_world.build()):
        [summary] = await send(fake, RM, "电话")
        assert "摘要" in (summary.visible_text or "")
        await send(fake, RM, "重启后继续记录")
        await send(fake, RM, "跳过")
        [done] = await send(fake, RM, "确认")
        assert "已记录" in (done.visible_text or "")
    assert any(r.summary == "重启后继续记录" for r in bot_world.crm.list_contacts(actor="RM001", limit=1000))


async def test_morning_digest_is_scheduled_and_sent_to_each_rm(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    app = bot_world.build()
    async with running(app):
        [job] = app.job_queue.get_jobs_by_name("morning_digest")
        trigger = job.job.trigger
        at = bot_world.settings.rm_digest_time  # 08:30 by default; tests move it away from the clock
        assert (trigger.fields[5].expressions[0].first, trigger.fields[6].expressions[0].first) == (
            at.hour,
            at.minute,
        )
        assert str(trigger.timezone) == "Asia/Shanghai"
        mark = fake.mark()
        await job.run(app)
        [digest] = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=30)
        await fake.wait_for_messages_async(RM2, 1, since=mark, timeout=30)
        assert "早上好，王敏" in (digest.visible_text or "")
        assert fake.messages_to(SUP, since=mark) == []  # RMs only


async def test_webhook_mode_with_secret_path_and_token(bot_world: BotWorld) -> None:
    from bot.telegram.app import webhook_options
    from tests.bot.fake_bot_api import post_update_to_async

    fake = bot_world.fake
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = bot_world.settings.model_copy(
        update={
            "telegram_webhook_url": f"http://127.0.0.1:{port}",
            "telegram_webhook_listen": "127.0.0.1",
            "telegram_webhook_port": port,
        }
    )
    options = webhook_options(settings)
    app = build_application(settings, bot_world.kb, bot_world.crm, bot_world.log)
    assert app.updater is not None and app.post_init is not None and app.post_shutdown is not None
    await app.initialize()
    await app.post_init(app)
    try:
        await app.start()
        await app.updater.start_webhook(**options)
        assert fake.webhook_url == options["webhook_url"] and fake.token not in options["webhook_url"]
        [reply] = await send(fake, RM, "客户投诉应该怎么处理？")
        assert "参考依据" in (reply.visible_text or "")
        forged = {"update_id": 99999, "message": fake.update(1)["message"]}
        assert await post_update_to_async(options["webhook_url"], forged, secret_token="wrong") == 403
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)
