"""Fixtures for the bot package tests.

Async tests: there is no pytest-asyncio here; we use the anyio pytest plugin (installed with httpx). Mark a
test (or a module, ``pytestmark = pytest.mark.anyio``) and write ``async def test_...``; async fixtures work
in anyio-marked tests too. ``anyio_backend`` below pins the backend to asyncio (PTB is asyncio-only).

End-to-end tests drive the REAL python-telegram-bot Application against ``FakeBotAPI``
(``tests/bot/fake_bot_api.py``): a loopback HTTP server speaking the Bot API. While PTB runs on the test's
event loop, never call the blocking ``fake.wait_for*`` helpers from async code; use the ``*_async`` ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from tests.bot.fake_bot_api import FakeBotAPI

# ---------------------------------------------------------------------------------------------------------
# Fake Telegram Bot API (owned by the fake-server helper; keep this section self-contained)
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only."""
    return "asyncio"


@pytest.fixture
def fake_bot_api() -> Iterator[FakeBotAPI]:
    """A fresh fake Bot API server on 127.0.0.1 (free port) for one test, stopped afterwards.

    Point PTB at it with ``fake_bot_api.application_builder()`` or, for ``bot.settings``,
    ``for k, v in fake_bot_api.env().items(): monkeypatch.setenv(k, v)``.
    """
    with FakeBotAPI() as fake:
        yield fake


# ---------------------------------------------------------------------------------------------------------
# (bot helper fixtures go below)
# ---------------------------------------------------------------------------------------------------------

import contextlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:
    from bot.convlog import ConversationLog
    from bot.settings import Settings
    from crm_adapter.sql import SqlCRM
    from knowledge import KnowledgeBase

#: Telegram user ids given to the demo staff in the end-to-end tests.
TELEGRAM_IDS = {
    "RM001": 1001, "RM002": 1002, "SUP01": 2001, "TRN01": 3001, "TRN02": 3002, "ADM01": 4001, "CMP01": 5001,
}  # fmt: skip


@pytest.fixture(scope="session")
def session_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The bundled corpus indexed once per test session (embedding it takes about a minute)."""
    from knowledge import KnowledgeBase

    data_dir = tmp_path_factory.mktemp("session_kb")
    cache = os.environ.get("BOT_TEST_KB_CACHE")  # developer shortcut: a data dir with the corpus indexed
    if cache and Path(cache).is_dir():
        shutil.copytree(cache, data_dir, dirs_exist_ok=True)
    kb = KnowledgeBase(data_dir=data_dir)
    report = kb.sync_bundled()
    assert report.ok, report.failed
    yield kb
    kb.close()


@dataclass
class BotWorld:
    """Everything an end-to-end test needs: the fake API, settings, real CRM, KB and conversation log."""

    fake: FakeBotAPI
    settings: Settings
    crm: SqlCRM
    kb: Any
    log: ConversationLog

    def build(self, kb: Any = None) -> Any:
        from bot.telegram.app import build_application

        return build_application(self.settings, kb if kb is not None else self.kb, self.crm, self.log)


def demo_crm(settings: Settings) -> SqlCRM:
    """A real SqlCRM on the settings' database with the demo data and Telegram ids for the demo staff."""
    from bot.composition import open_crm
    from crm_adapter.demo import seed_demo

    crm = open_crm(settings)
    seed_demo(crm, clients=30)
    for code, telegram_id in TELEGRAM_IDS.items():
        crm.add_staff(staff=crm.get_staff(code=code).model_copy(update={"telegram_id": telegram_id}))
    return crm


@pytest.fixture
def bot_world(fake_bot_api: FakeBotAPI, tmp_path: Path, session_kb: KnowledgeBase) -> Iterator[BotWorld]:
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
        yield BotWorld(fake=fake_bot_api, settings=settings, crm=crm, kb=session_kb, log=log)
    finally:
        log.close()
        crm.close()


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[Any]:
    """Run an Application with long polling in `run_polling` order (post_init … post_shutdown)."""
    from telegram import Update

    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    try:
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
        await app.start()
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
