"""End to end through the fake Bot API: two trainers send files of the same name at the same moment (the
attack of issue #18). Each change must hold the bytes its own submitter sent, and none may be lost; on
SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.convlog import ConversationLog
from bot.features.approvals import ChangeStore
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, demo_crm, running

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TRN, TRN2 = TELEGRAM_IDS["TRN01"], TELEGRAM_IDS["TRN02"]
PAIRS = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, bot_world: BotWorld) -> Iterator[BotWorld]:
    if request.param == "sqlite":
        yield bot_world
        return
    url = request.getfixturevalue("postgres_url")
    settings = bot_world.settings.model_copy(update={"database_url": url})
    crm, log = demo_crm(settings), ConversationLog(url)
    try:
        yield BotWorld(fake=bot_world.fake, settings=settings, crm=crm, kb=bot_world.kb, log=log)
    finally:
        log.close()
        crm.close()


async def test_same_name_uploads_at_once_each_keep_their_submitters_bytes(world: BotWorld) -> None:
    fake = world.fake
    sent: dict[bytes, str] = {}
    async with running(world.build()):
        mark = fake.mark()
        for i in range(PAIRS):
            for user, code in ((TRN, "TRN01"), (TRN2, "TRN02")):
                body = f"# 通知\n\n{code} 第 {i} 版：钻石客户每年可预约高尔夫练习场 {i + 1} 次。\n".encode()
                sent[body] = code
                fake.push_document(user, "通知.md", body, "text/markdown")
        for user in (TRN, TRN2):  # their own confirmations and the other's notices
            got = await fake.wait_for_messages_async(user, 2 * PAIRS, since=mark, timeout=60)
            assert sum("已提交知识库变更" in (m.visible_text or "") for m in got) == PAIRS
    changes = ChangeStore(world.log).list(limit=100)
    assert len(changes) == 2 * PAIRS  # none lost
    held = {}
    for c in changes:
        data = Path(c.stored_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == c.sha256
        held[data] = c.submitted_by
    assert held == sent  # each change holds the bytes its own submitter sent
    uploads = world.settings.rm_data_dir / "uploads"
    assert not any(uploads.iterdir())  # no upload left behind
