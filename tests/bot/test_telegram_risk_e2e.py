"""End to end through the fake Bot API (issue #12 items 1–3, #13 item 6): a catalogue product pitched
above a client's risk level, the client risk view and entitlements on the card, KYC reviews in /today."""

from __future__ import annotations

import pytest

from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.test_telegram_e2e import send

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, SUP = TELEGRAM_IDS["RM001"], TELEGRAM_IDS["SUP01"]


async def test_catalogue_product_above_the_clients_level_is_warned_and_flagged(bot_world: BotWorld) -> None:
    fake, crm = bot_world.fake, bot_world.crm
    [product] = crm.search_products(query="鑫享1号私募")  # R5, from the demo catalogue
    assert product.risk_level == "R5"
    client = next(
        f.client for f in crm.follow_ups(actor="RM001", horizon_days=366) if f.client.risk_level == "C3"
    )
    async with running(bot_world.build()):
        [warned] = await send(fake, RM, f"/log {client.client_id} 面谈 向客户推荐了{product.name}")
        text = warned.visible_text or ""
        assert "适当性提示" in text and "第十二条" in text
        assert f"{product.code}(R5)超出客户C3承受能力" in text
        assert f"{product.name}（{product.code}，R5）" in text
        [saved] = await send(fake, RM, "确认")
        assert "已记录" in (saved.visible_text or "") and "主管复核" in (saved.visible_text or "")
        [review] = await send(fake, SUP, "/review")
        lines = (review.visible_text or "").split("联系记录")[1].splitlines()
        first = next(line for line in lines if "→" in line)
        assert first.startswith("🚩") and client.client_id in first and product.code in first
    [record] = crm.list_contacts(actor="RM001", client_id=client.client_id, limit=1)
    assert f"适当性:{product.code}(R5)超出客户C3承受能力" in record.topics


async def test_a_product_picked_in_the_guided_log_is_checked_and_stored(bot_world: BotWorld) -> None:
    """The guided /log: the summary names no product; at the confirmation the RM sends the product's code,
    which joins the record and its suitability check; a text that names no product still cancels."""
    fake, crm = bot_world.fake, bot_world.crm
    [product] = crm.search_products(query="鑫享1号私募")  # R5
    client = next(
        f.client for f in crm.follow_ups(actor="RM001", horizon_days=366) if f.client.risk_level == "C3"
    )
    async with running(bot_world.build()):
        for text in ("/log", client.client_id, "面谈", "介绍了一款私募基金", "跳过"):
            [confirm] = await send(fake, RM, text)
        assert "请确认" in (confirm.visible_text or "") and "适当性提示" not in (confirm.visible_text or "")
        assert "产品名称或代码" in (confirm.visible_text or "")
        [picked] = await send(fake, RM, product.code.lower())
        shown = picked.visible_text or ""
        assert f"涉及产品：{product.name}，{product.code}" in shown and "第十二条" in shown
        [saved] = await send(fake, RM, "确认")
        assert "已记录" in (saved.visible_text or "")
        for text in ("/log", client.client_id, "电话", "例行问候客户", "跳过"):
            await send(fake, RM, text)
        [cancelled] = await send(fake, RM, "算了不记了")
        assert "已取消" in (cancelled.visible_text or "")
    records = crm.list_contacts(actor="RM001", client_id=client.client_id, limit=5)
    [record] = [r for r in records if "介绍了一款私募基金" in r.summary]
    assert record.summary.endswith(f"（涉及产品：{product.name}，{product.code}）")
    assert f"适当性:{product.code}(R5)超出客户C3承受能力" in record.topics
    assert not [r for r in records if "例行问候客户" in r.summary]


async def test_card_shows_risk_view_and_one_line_per_benefit(bot_world: BotWorld) -> None:
    fake, crm = bot_world.fake, bot_world.crm
    diamond = next(
        f.client for f in crm.follow_ups(actor="RM001", horizon_days=366) if f.client.tier == "钻石"
    )
    async with running(bot_world.build()):
        [card] = await send(fake, RM, f"/client {diamond.client_id}")
    text = card.visible_text or ""
    assert f"风险等级：{diamond.risk_level}" in text and "反洗钱风险：" in text and "PEP" in text
    assert "KYC 复核到期：" in text
    assessed = diamond.risk_assessed_on
    assert ("无风险测评记录" in text) if assessed is None else (f"测评于 {assessed:%Y-%m-%d}" in text)
    benefits = text.split("钻石客户权益")[1]
    assert "• 专家挂号预约：每年5次" in benefits and "• 全程导医：每年5次" in benefits
    assert "• 洗车折扣：六折（持本行私人银行卡到完美汽车行）" in benefits
    assert "|" not in benefits and "---" not in benefits  # no table text


async def test_today_lists_kyc_reviews_for_the_rm_and_the_supervisors_team(bot_world: BotWorld) -> None:
    fake, crm = bot_world.fake, bot_world.crm
    own = crm.kyc_reviews_due(actor="RM001")
    team = crm.kyc_reviews_due(actor="SUP01")
    assert own and len(team) > len(own)  # the demo data has reviews falling due in both scopes
    async with running(bot_world.build()):
        [rm_day] = await send(fake, RM, "/today")
        [sup_day] = await send(fake, SUP, "/today")
    rm_text, sup_text = rm_day.visible_text or "", sup_day.visible_text or ""
    assert all(k.client.name in rm_text for k in own)
    assert all(k.client.name in sup_text for k in team)
    assert all(k.client.client_id not in rm_text for k in team if k.client.rm_code != "RM001")
    overdue = [k for k in team if k.overdue]
    if overdue:
        assert f"KYC 复核已逾期（{len(overdue)}）" in sup_text
    assert f"30 天内 KYC 复核（{len(team) - len(overdue)}）" in sup_text
