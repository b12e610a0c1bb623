"""End to end through the fake Bot API: the suitability warning an RM sees and the supervisor's review."""

from __future__ import annotations

import pytest

from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.test_telegram_e2e import send

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, SUP = TELEGRAM_IDS["RM001"], TELEGRAM_IDS["SUP01"]


async def test_r5_pitch_to_a_lower_risk_client_is_warned_and_flagged(bot_world: BotWorld) -> None:
    fake, crm = bot_world.fake, bot_world.crm
    client = next(
        f.client
        for f in crm.follow_ups(actor="RM001", horizon_days=366)
        if f.client.risk_level < "C5" and len(crm.search_clients(actor="RM001", query=f.client.name)) == 1
    )
    before = len(crm.list_contacts(actor="RM001", client_id=client.client_id, limit=1000))
    async with running(bot_world.build()):
        [warned] = await send(fake, RM, f"/log {client.client_id} 面谈 向客户推荐了R5私募产品")
        text = warned.visible_text or ""
        assert "适当性提示" in text and "第十二条" in text and f"客户{client.risk_level}" in text
        assert len(crm.list_contacts(actor="RM001", client_id=client.client_id, limit=1000)) == before
        [saved] = await send(fake, RM, "确认")
        assert "已记录" in (saved.visible_text or "") and "主管复核" in (saved.visible_text or "")
        [review] = await send(fake, SUP, "/review")
        lines = (review.visible_text or "").split("联系记录")[1].splitlines()
        first = next(line for line in lines if "→" in line)
        assert client.client_id in first and "适当性" in first and first.startswith("🚩")
    records = crm.list_contacts(actor="RM001", client_id=client.client_id, limit=1000)
    assert len(records) == before + 1
