"""bot.features.contact_log: parsing, the shared /log flow and saving exactly once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.composition import Services
from bot.core import ServiceError
from bot.features import contact_log
from bot.features.contact_log import CHANNEL, CLIENT, CONFIRM, FOLLOW_UP, SUMMARY, LogDraft
from bot.features.contact_log.parsing import parse_channel, parse_follow_up, parse_log_line
from crm_adapter import Channel
from tests.bot.app_fixtures import TODAY, req
from tests.bot.fakes import FakeCRM


def test_parse_log_line() -> None:
    line = parse_log_line("刘洋 见面 客户关注海外配置 下次:2026-12-15", TODAY)
    assert (line.client_query, line.channel, line.summary) == ("刘洋", Channel.MEETING, "客户关注海外配置")
    assert line.next_follow_up == date(2026, 12, 15)
    assert parse_log_line("张伟 微信 发了资料 下次：明天", TODAY).next_follow_up == TODAY + timedelta(days=1)
    with pytest.raises(ServiceError, match="渠道"):
        parse_log_line("张伟 飞鸽 传书", TODAY)
    with pytest.raises(ServiceError, match="格式"):
        parse_log_line("张伟 电话", TODAY)


def test_parse_follow_up_forms() -> None:
    assert parse_follow_up("12-15", TODAY) == date(2026, 12, 15)
    assert parse_follow_up("1-5", TODAY) == date(2027, 1, 5)  # past this year → next year
    assert parse_follow_up("12月20日", TODAY) == date(2026, 12, 20)
    assert parse_follow_up("后天", TODAY) == date(2026, 11, 30)
    assert parse_follow_up("下周一", TODAY) == date(2026, 11, 30)
    assert parse_follow_up("周三", TODAY) == date(2026, 12, 2)
    assert parse_follow_up("3天后", TODAY) == date(2026, 12, 1)
    for skip in ("跳过", "不设置", "", "skip"):  # one set of skip words for every front end
        assert parse_follow_up(skip, TODAY) is None
    with pytest.raises(ServiceError):
        parse_follow_up("2026-02-30", TODAY)
    with pytest.raises(ServiceError, match="早于"):
        parse_follow_up("2026-11-01", TODAY)
    with pytest.raises(ServiceError):
        parse_follow_up("某天", TODAY)


def test_parse_channel() -> None:
    assert parse_channel("见面") == Channel.MEETING
    assert parse_channel("WeChat") == Channel.WECHAT
    assert parse_channel("飞鸽") is None


def test_one_line_form_saves_once_with_compliance(services: Services, crm: FakeCRM) -> None:
    request = req(
        crm, "RM001", "刘洋 电话 承诺保本收益 下次:12-15", frontend="telegram", chat_id=1, update_id=2
    )
    first = contact_log.start(services.contacts, request)
    second = contact_log.start(services.contacts, request)  # the same update redelivered
    assert first.state is None and second.state is None
    assert len(crm.contacts) == 1 and crm.contacts[0].idempotency_key == "telegram:1:2"
    assert "✅ 已记录" in first.replies[0].text and "承诺收益" in first.replies[0].text


def test_one_line_form_ambiguous_then_pick(services: Services, crm: FakeCRM) -> None:
    step = contact_log.start(
        services.contacts, req(crm, "RM001", "zhangwei 电话 聊了聊", frontend="telegram", update_id=7)
    )
    assert step.state == CLIENT and step.replies[0].options == ("张伟 (C0001)", "张薇 (C0002)")
    done = contact_log.step(
        services.contacts, req(crm, "RM001", "张薇 (C0002)", update_id=8), CLIENT, step.draft
    )
    assert done.state is None and crm.contacts[-1].client_id == "C0002"
    assert crm.contacts[-1].idempotency_key == "telegram:0:7"  # the key of the /log message itself


def test_guided_flow_end_to_end(services: Services, crm: FakeCRM) -> None:
    step = contact_log.start(services.contacts, req(crm, "RM001"))
    assert step.state == CLIENT
    answers = [("刘洋", CHANNEL), ("面谈", SUMMARY), ("客户关注海外配置", FOLLOW_UP), ("下周一", CONFIRM)]
    for text, expected in answers:
        step = contact_log.step(services.contacts, req(crm, "RM001", text), step.state or 0, step.draft)
        assert step.state == expected, text
    assert "请确认联系记录" in step.replies[0].text and step.replies[0].options == ("确认", "取消")
    step = contact_log.step(services.contacts, req(crm, "RM001", "确认", update_id=11), CONFIRM, step.draft)
    assert step.state is None and crm.contacts[-1].summary == "客户关注海外配置"
    assert crm.contacts[-1].next_follow_up == date(2026, 11, 30)


def test_guided_flow_reprompts_bad_answers(services: Services, crm: FakeCRM) -> None:
    draft = {"client_id": "C0003"}
    step = contact_log.step(services.contacts, req(crm, "RM001", "飞鸽"), CHANNEL, draft)
    assert step.state == CHANNEL and len(step.replies[0].options) == len(Channel)
    step = contact_log.step(
        services.contacts, req(crm, "RM001", "某天"), FOLLOW_UP, {**draft, "channel": "电话"}
    )
    assert step.state == FOLLOW_UP and "无法识别日期" in step.replies[0].text
    step = contact_log.step(
        services.contacts, req(crm, "RM001", "算了"), CONFIRM, {**draft, "channel": "电话"}
    )
    assert step.state is None and step.replies[0].text == "已取消。" and not crm.contacts


def test_save_refuses_incomplete_and_read_only(services: Services, crm: FakeCRM) -> None:
    rm = crm.get_staff(code="RM001")
    with pytest.raises(ServiceError, match="不完整"):
        services.contacts.save(rm, LogDraft(), source="console", idempotency_key=None)
    draft = services.contacts.draft_from_state(
        rm, {"client_id": "C0003", "channel": "电话", "summary": "问候"}
    )
    # supervisors are read-only in the CRM: the error comes back in Chinese
    with pytest.raises(ServiceError):
        services.contacts.save(crm.get_staff(code="SUP01"), draft, source="console", idempotency_key=None)
