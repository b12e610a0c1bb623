"""End to end through the fake Bot API (issue #20): an RM checks a message before sending it to a client.

The real Application, the real CRM (demo data) and conversation log; a scripted knowledge base (the check
does not read it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.features.message_check import CheckStore
from bot.features.message_check.store import StoredCheck
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, demo_crm, running
from tests.bot.fake_bot_api import FakeBotAPI
from tests.bot.test_telegram_e2e import send
from tests.fakes.knowledge import FakeKB

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, SUP, TRN = TELEGRAM_IDS["RM001"], TELEGRAM_IDS["SUP01"], TELEGRAM_IDS["TRN01"]
PROMISE = "这款理财保本保收益，年化6%稳稳的"


@pytest.fixture
def world(fake_bot_api: FakeBotAPI, tmp_path: Path) -> Iterator[BotWorld]:
    from bot.convlog import ConversationLog
    from bot.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        rm_data_dir=tmp_path / "data",
        telegram_bot_token=SecretStr(fake_bot_api.token),
        telegram_api_base_url=fake_bot_api.base_url,
        telegram_api_base_file_url=fake_bot_api.base_file_url,
    )
    crm = demo_crm(settings)
    log = ConversationLog(settings.effective_database_url)
    try:
        yield BotWorld(fake=fake_bot_api, settings=settings, crm=crm, kb=FakeKB(), log=log)
    finally:
        log.close()
        crm.close()


def _stored(world: BotWorld) -> list[StoredCheck]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return CheckStore(world.log.engine).between(
        staff_codes=None, since=now - timedelta(days=1), until=now + timedelta(days=1)
    )


async def test_a_promise_gets_revise_with_the_article_and_a_rewrite_that_passes(world: BotWorld) -> None:
    fake = world.fake
    async with running(world.build()):
        [reply] = await send(fake, RM, f"/check {PROMISE}")
        text = reply.visible_text or ""
        assert "建议修改后再发送" in text
        assert "《金融机构产品适当性管理办法》第十三条" in text and "违规承诺保本保收益" in text
        assert "“保本保收益”" in text
        assert "合规改写（✅ 改写已复查通过）" in text
        rewrite = text.split("合规改写（✅ 改写已复查通过）：")[1].strip()
        assert "理财非存款，产品有风险，投资须谨慎" in rewrite and "保本保收益" not in rewrite
        # The rewrite, sent back through /check, passes.
        [again] = await send(fake, RM, f"/check {rewrite}")
        assert "可以发送" in (again.visible_text or "")
        # A compliant service message after a bare /check (the next message is the draft).
        [prompt] = await send(fake, RM, "/check")
        assert "请发送要检查的客户消息" in (prompt.visible_text or "")
        [ok] = await send(fake, RM, "您好，您预约的专家号已确认，明天上午9点，请带好身份证。")
        assert "✅" in (ok.visible_text or "") and "可以发送" in (ok.visible_text or "")
        # A bare /check followed by another command no longer waits: the next text is a question again.
        await send(fake, RM, "/check")
        await send(fake, RM, "/help")
        [question] = await send(fake, RM, "钻石客户有哪些增值服务？")
        assert "机场贵宾厅" in (question.visible_text or "")
        # The answer side uses the same table: the same promise asked as a question is warned about.
        [answer] = await send(fake, RM, "客户问这款理财是不是保本保收益的")
        assert "合规提示" in (answer.visible_text or "") and "承诺收益" in (answer.visible_text or "")
    stored = _stored(world)
    assert [c.verdict for c in sorted(stored, key=lambda c: c.id)] == ["revise", "ok", "ok"]
    assert all(c.staff_code == "RM001" and c.channel == "telegram" for c in stored)


async def test_named_client_suitability_privacy_and_the_supervisors_view(world: BotWorld) -> None:
    fake, crm = world.fake, world.crm
    [zhang] = [c for c in crm.search_clients(actor="RM001", query="张伟") if c.name == "张伟"]
    assert zhang.risk_level == "C1"
    async with running(world.build()):
        [reply] = await send(fake, RM, "/check 张伟 推荐这款R4产品，王建国上周刚买了200万，电话13812345678")
        text = reply.visible_text or ""
        assert "客户：张伟（C1）" in text
        assert "产品R4超出客户C1承受能力" in text and "第十三条" in text
        assert "泄露其他客户信息" in text and "“王建国”" in text
        assert "13812345678" not in text or "完整证件号" in text
        stats = await send(fake, SUP, "/stats", count=2)  # the figures and their chart
        assert any("消息检查 1 次（建议修改 1）" in (m.visible_text or "") for m in stats)
        [review] = await send(fake, SUP, "/review")
        listing = review.visible_text or ""
        assert "消息检查：建议修改 1 条" in listing
        ref = next(w for w in listing.split() if w.startswith("M") and w[1:].isdigit())
        [opened] = await send(fake, SUP, f"/review {ref}")
        assert "适当性" in (opened.visible_text or "") and "138****5678" in (opened.visible_text or "")
        [refused] = await send(fake, TRN, "/check 这款产品保本")
        assert "仅供" in (refused.visible_text or "")
    [stored] = _stored(world)
    assert stored.client_id == zhang.client_id and "13812345678" not in stored.text
    assert "138****5678" in stored.text
    events = world.log.engine
    from bot.audit import AuditTrail

    trail = AuditTrail(events, migrate=False)
    [event] = trail.find(kind="message_check", ref=str(stored.id))
    assert event.payload["verdict"] == "revise" and "13812345678" not in str(event.payload)
