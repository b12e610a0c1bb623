"""Wiring of the Application (no network): endpoints, polling vs webhook, handler registration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import Application, ConversationHandler

import bot.composition
from bot.features import contact_log
from bot.settings import Settings
from bot.telegram import app as telegram_app
from tests.bot.fakes import FakeCRM, FakeKB


def _settings(settings: Settings, **kw: Any) -> Settings:
    return settings.model_copy(update={"telegram_bot_token": SecretStr("123:ABC"), **kw})


def test_build_application_points_at_the_configured_api(settings: Settings) -> None:
    custom = _settings(
        settings,
        telegram_api_base_url="http://127.0.0.1:9/bot",
        telegram_api_base_file_url="http://127.0.0.1:9/file/bot",
    )
    app = telegram_app.build_application(custom, FakeKB(), FakeCRM())
    assert app.bot.base_url == "http://127.0.0.1:9/bot123:ABC"
    assert app.bot.base_file_url == "http://127.0.0.1:9/file/bot123:ABC"
    assert app.persistence is not None and app.bot.rate_limiter is not None
    [conversation] = [h for h in app.handlers[0] if isinstance(h, ConversationHandler)]
    assert conversation.name == "log" and conversation.persistent
    assert sorted(conversation.states, key=str) == [
        contact_log.CLIENT,
        contact_log.CHANNEL,
        contact_log.SUMMARY,
        contact_log.FOLLOW_UP,
        contact_log.CONFIRM,
    ]
    assert len(app.handlers[-1]) == 1  # the access gate


def test_build_application_requires_a_token(settings: Settings) -> None:
    with pytest.raises(ValueError):
        telegram_app.build_application(settings, FakeKB(), FakeCRM())


@pytest.mark.parametrize("webhook", [None, "https://bot.example.com/hook"])
def test_run_bot_polls_or_serves_a_webhook(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, webhook: str | None
) -> None:
    calls: dict[str, Any] = {}
    monkeypatch.setattr(bot.composition, "open_knowledge_base", lambda _s, **_kw: FakeKB())
    monkeypatch.setattr(bot.composition, "open_crm", lambda _s: FakeCRM())
    monkeypatch.setattr(Application, "run_polling", lambda self, **kw: calls.update(polling=kw))
    monkeypatch.setattr(Application, "run_webhook", lambda self, **kw: calls.update(webhook=kw))
    telegram_app.run_bot(_settings(settings, telegram_webhook_url=webhook))
    if webhook is None:
        assert calls["polling"]["drop_pending_updates"] is False
        assert "webhook" not in calls
    else:
        kw = calls["webhook"]
        path = telegram_app.webhook_path("123:ABC")
        assert kw["url_path"] == path and "123" not in path
        assert kw["webhook_url"] == f"{webhook}/{path}"
        assert kw["secret_token"] and kw["port"] == settings.telegram_webhook_port


@pytest.mark.anyio
async def test_per_chat_processor_serialises_a_chat_but_not_different_chats() -> None:
    import asyncio

    from telegram import Chat, Message, Update

    def update(update_id: int, chat_id: int) -> Update:
        chat = Chat(id=chat_id, type="private")
        return Update(update_id, message=Message(update_id, datetime.now(UTC), chat, text="x"))

    events: list[str] = []

    async def work(name: str) -> None:
        events.append(f"{name} start")
        await asyncio.sleep(0.05)
        events.append(f"{name} end")

    processor = telegram_app.PerChatUpdateProcessor(8)
    await asyncio.gather(
        processor.process_update(update(1, 10), work("a1")),
        processor.process_update(update(2, 10), work("a2")),
        processor.process_update(update(3, 20), work("b1")),
    )
    assert events.index("a1 end") < events.index("a2 start")  # same chat: one after the other
    assert events.index("b1 start") < events.index("a1 end")  # another chat: concurrently
