"""Issue #18, item 13: the low-severity attacks, each refused with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import commands
from bot.composition import Services
from bot.convlog import ConversationLog
from bot.core import MAX_RECORD_ID, Request, ServiceError, clean_text, parse_record_id
from bot.settings import Settings
from tests.bot.app_fixtures import req
from tests.bot.fakes import FakeCRM


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        ("１２", 12),  # full-width digits, as phones type them
        (str(MAX_RECORD_ID), MAX_RECORD_ID),
        (str(MAX_RECORD_ID + 1), None),
        ("999999999999999999999", None),
        ("²", None),  # a digit int() refuses
        ("0", None),
        ("-3", None),
        ("", None),
    ],
)
def test_parse_record_id_bounds(raw: str, expected: int | None) -> None:
    assert parse_record_id(raw) == expected


@pytest.mark.parametrize(
    "data",
    ["fb:down:999999999999999999999", "fb:up:²", "fb:down:0", "fb:sideways:3"],
)
def test_forged_feedback_button_is_one_line(services: Services, crm: FakeCRM, data: str) -> None:
    with pytest.raises(ServiceError, match="无效的反馈"):
        commands.run_callback(services, data, req(crm, "RM001"))


@pytest.mark.parametrize(
    "data",
    ["rv:zzzzzzzzzzzzzzzzzzzzzz:1:20261101:30:", "rv:1:1:20261101:99999999999999999:"],
)
def test_forged_review_page_button_is_one_line(services: Services, crm: FakeCRM, data: str) -> None:
    with pytest.raises(ServiceError):
        commands.run_callback(services, data, req(crm, "SUP01"))


@pytest.mark.parametrize("ref", ["K999999999999999999999", "A999999999999999999999", "Q99999999999"])
def test_huge_references_are_refused_not_crashed(services: Services, crm: FakeCRM, ref: str) -> None:
    name = "reviewed" if ref.startswith("Q") else "approve"
    code = "SUP01" if ref.startswith("Q") else "CMP01"
    with pytest.raises(ServiceError):
        commands.run_command(services, name, req(crm, code, ref))


def test_control_characters_are_removed_from_every_request() -> None:
    assert clean_text("保险\x00能\x07买吗\n第二行\t") == "保险能买吗\n第二行\t"
    staff = FakeCRM().get_staff(code="RM001")
    assert Request(staff=staff, args="a\x00b").args == "ab"


@pytest.fixture(params=["sqlite", "postgres"])
def any_log(request: pytest.FixtureRequest, tmp_path: Path) -> ConversationLog:
    url = (
        f"sqlite:///{tmp_path / 'nul.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    store = ConversationLog(url)
    request.addfinalizer(store.close)
    return store


def test_nul_byte_in_a_question_is_answered_and_logged(
    settings: Settings, any_log: ConversationLog, crm: FakeCRM
) -> None:
    from bot.core import Clock
    from tests.bot.app_fixtures import make_services
    from tests.bot.fakes import FakeKB

    with make_services(settings, FakeKB(), crm, any_log, Clock("Asia/Shanghai")) as services:
        result = services.ask.ask(staff_code="RM001", question="钻石客户\x00有哪些权益", channel="cli")
    assert result.exchange_id is not None
    stored = any_log.get(exchange_id=result.exchange_id)
    assert stored is not None and stored.question == "钻石客户有哪些权益"


def test_token_in_the_api_host_is_refused() -> None:
    with pytest.raises(ValueError, match="only in its path"):
        Settings(telegram_api_base_url="https://{token}.example.test/bot")
    ok = Settings(telegram_api_base_url="http://127.0.0.1:8081/bot{token}/")
    assert ok.telegram_api_base_url.endswith("{token}/")


def test_the_secret_half_of_the_token_is_redacted() -> None:
    settings = Settings(telegram_bot_token=SecretStr("123456:ABCdefGHIjklMNOpqr"))
    assert "ABCdefGHIjklMNOpqr" in settings.secret_values()


def test_emoji_joined_with_zwj_is_accepted_in_a_summary() -> None:
    from crm_adapter.validation import free_text

    family = "客户带家人来访👨\u200d👩\u200d👧，很开心"
    assert free_text(family, what="摘要") == family
    with pytest.raises(Exception, match="控制字符"):
        free_text("摘要\u202e反向", what="摘要")  # a bidi override still is refused
