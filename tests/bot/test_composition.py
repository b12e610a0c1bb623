"""The composition root: opens each part once, closes what it opened in reverse, borrows the rest."""

from __future__ import annotations

from typing import Any

import pytest

import bot.composition
from bot.composition import NotOpened, open_services
from bot.features.contact_log.parsing import CONFIRM_WORDS, SKIP_WORDS, is_confirmation
from bot.settings import Settings
from tests.bot.fakes import FakeCRM, FakeKB


class Part:
    def __init__(self, name: str, closed: list[str], inner: Any) -> None:
        self._name, self._closed, self._inner = name, closed, inner

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)

    def close(self) -> None:
        self._closed.append(self._name)


def test_opens_in_order_and_closes_in_reverse(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []
    monkeypatch.setattr(bot.composition, "open_crm", lambda _s: Part("crm", closed, FakeCRM()))
    monkeypatch.setattr(
        bot.composition, "open_knowledge_base", lambda _s, **_kw: Part("kb", closed, FakeKB())
    )
    with open_services(settings) as services:
        assert services.crm is services.crm and services.ask is services.ask  # each built once
        assert services.contacts.clients is services.clients  # the features share one instance
    assert closed == ["kb", "crm"]  # the conversation log (real) closed first, then the rest in reverse


def test_borrowed_parts_stay_open_and_missing_parts_say_so(settings: Settings) -> None:
    closed: list[str] = []
    kb = Part("kb", closed, FakeKB())
    with open_services(settings, kb=kb, with_crm=False, with_log=False) as services:
        assert services.kb is kb
        with pytest.raises(NotOpened):
            _ = services.crm
    assert closed == []


def test_a_failure_while_opening_closes_what_was_opened(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    monkeypatch.setattr(bot.composition, "open_crm", lambda _s: Part("crm", closed, FakeCRM()))

    def broken(_s: Settings, **_kw: Any) -> Any:
        raise RuntimeError("index unreadable")

    monkeypatch.setattr(bot.composition, "open_knowledge_base", broken)
    with pytest.raises(RuntimeError):
        open_services(settings)
    assert closed == ["crm"]


def test_one_set_of_confirm_and_skip_words() -> None:
    """Telegram, the console and the one-line form used to accept different words."""
    for word in ("确认", "y", "YES", "好", "保存"):
        assert is_confirmation(word)
    assert not is_confirmation("取消")
    assert "跳过" in SKIP_WORDS and "" in SKIP_WORDS and "确认" in CONFIRM_WORDS
