"""Fixtures of the feature and command-table tests: the composition root's services on a fake KB and
CRM and a real SQLite conversation log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.composition import Services, open_services
from bot.convlog import ConversationLog
from bot.core import Clock, Request
from bot.settings import Settings
from tests.bot.fakes import FakeCRM, FakeKB

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Saturday
TODAY = date(2026, 11, 28)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[ConversationLog]:
    store = ConversationLog(f"sqlite:///{tmp_path / 'log.db'}")
    yield store
    store.close()


@pytest.fixture
def crm() -> FakeCRM:
    return FakeCRM()


@pytest.fixture
def kb() -> FakeKB:
    return FakeKB()


def make_services(
    settings: Settings, kb: FakeKB, crm: FakeCRM, log: ConversationLog, clock: Clock
) -> Services:
    return open_services(settings, kb=kb, crm=crm, log=log, clock=clock)


@pytest.fixture
def services(settings: Settings, kb: FakeKB, crm: FakeCRM, log: ConversationLog) -> Iterator[Services]:
    """Services on a fixed clock (NOW)."""
    with make_services(settings, kb, crm, log, Clock("Asia/Shanghai", now=lambda: NOW)) as s:
        yield s


@pytest.fixture
def live_services(settings: Settings, kb: FakeKB, crm: FakeCRM, log: ConversationLog) -> Iterator[Services]:
    """Services on the real clock (the log stamps rows with it, so review windows must use it too)."""
    with make_services(settings, kb, crm, log, Clock("Asia/Shanghai")) as s:
        yield s


def req(crm: FakeCRM, code: str, args: str = "", *, frontend: str = "console", **kw: object) -> Request:
    return Request(staff=crm.get_staff(code=code), args=args, frontend=frontend, **kw)  # type: ignore[arg-type]
