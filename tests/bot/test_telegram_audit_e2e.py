"""The audit anchor end to end: the daily job posts the chain's head to the compliance officers (and
nobody else) and appends it to RM_AUDIT_ANCHOR_FILE; an answer's audit row names the knowledge base's
real snapshot (the real Application, the fake Bot API, the bundled knowledge base)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.telegram.app import build_application
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.test_telegram_e2e import send

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, SUP, CMP = (TELEGRAM_IDS[c] for c in ("RM001", "SUP01", "CMP01"))


async def test_the_audit_anchor_is_posted_daily_and_kept_in_the_file(
    bot_world: BotWorld, tmp_path: Path
) -> None:
    fake = bot_world.fake
    anchor_file = tmp_path / "anchors" / "audit.txt"
    settings = bot_world.settings.model_copy(update={"rm_audit_anchor_file": anchor_file})
    app = build_application(settings, bot_world.kb, bot_world.crm, bot_world.log)
    async with running(app):
        await send(fake, RM, "钻石客户有哪些增值服务？")
        services = app.bot_data.services
        assert services.audit is not None and app.job_queue is not None
        [exchange] = services.log.list_exchanges(limit=5)
        [event] = services.audit.find(kind="answer", ref=str(exchange.id))
        snapshot = event.payload["knowledge_snapshot"]
        assert snapshot == bot_world.kb.snapshot_id() and len(snapshot) == 16  # not null any more
        [job] = app.job_queue.get_jobs_by_name("audit_anchor")
        trigger = job.job.trigger
        at = settings.rm_audit_anchor_time  # 23:59 by default; tests move it away from the clock
        assert (trigger.fields[5].expressions[0].first, trigger.fields[6].expressions[0].first) == (
            at.hour,
            at.minute,
        )
        mark = fake.mark()
        await job.run(app)
        [posted] = await fake.wait_for_messages_async(CMP, 1, since=mark, timeout=30)
        anchor = services.audit.anchor()
        assert anchor.rows >= 1 and str(anchor) in (posted.visible_text or "")
        assert fake.messages_to(RM, since=mark) == [] and fake.messages_to(SUP, since=mark) == []
    [line] = anchor_file.read_text(encoding="utf-8").splitlines()
    assert line.endswith(f" {anchor}")
