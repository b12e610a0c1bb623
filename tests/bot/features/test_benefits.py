"""bot.features.benefits: the ledger in chat (/used, its confirmation, the /log offer), answers that count
and /brief, on the fake CRM and the fake knowledge base (钻石: 机场贵宾厅 每年12次, 高端体检 每年1次 with
an asset condition)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from bot.commands import run_callback, run_command
from bot.composition import Services
from bot.core import ServiceError
from bot.features import ask, benefits
from bot.features.benefits import entitlements as ent
from bot.features.benefits.chat import parse_day
from tests.bot.app_fixtures import TODAY, req
from tests.bot.fakes import FakeCRM, FakeKB


def _used(
    services: Services, crm: FakeCRM, args: str, *, code: str = "RM001", update: int | None = None
) -> str:
    return run_command(services, "used", req(crm, code, args, update_id=update, chat_id=1)).text


def test_allowance_and_names_come_from_the_table(kb: FakeKB) -> None:
    rows = kb.entitlements("钻石")
    assert [ent.yearly_allowance(e) for e in rows] == [12, 1]
    assert ent.exact(rows, "贵 宾厅")[0].benefit == "机场贵宾厅"  # an alias of the table, spaces ignored
    assert ent.mentioned(rows, "张伟今年还能用几次贵宾厅")[0].benefit == "机场贵宾厅"
    assert parse_day("11-03", TODAY) == date(2026, 11, 3) and parse_day("12-25", TODAY) == date(2025, 12, 25)
    assert parse_day("昨天", TODAY) == date(2026, 11, 27) and parse_day("陪同", TODAY) is None


def test_used_records_counts_and_warns_beyond_the_allowance(services: Services, crm: FakeCRM) -> None:
    first = _used(services, crm, "张伟 高端体检 11-03", update=10)
    assert "已登记" in first and "高端体检 2026-11-03" in first and "还剩 0 次" in first
    warned = run_command(services, "used", req(crm, "RM001", "C0001 高端体检 今天", update_id=11, chat_id=1))
    assert "超出权益次数" in warned.text and "第 2 次" in warned.text and "每年1次" in warned.text
    assert len(crm.benefit_ledger) == 1  # nothing saved before the RM decides
    assert warned.keyboard is not None
    no = warned.keyboard[0][1].data
    assert "已取消" in run_callback(services, no, req(crm, "RM001")).text
    assert len(crm.benefit_ledger) == 1
    older = run_command(
        services, "used", req(crm, "RM001", "C0001 高端体检 今天 复查", update_id=12, chat_id=1)
    )
    newer = run_command(
        services, "used", req(crm, "RM001", "C0001 高端体检 今天 再查", update_id=13, chat_id=1)
    )
    assert older.keyboard is not None and newer.keyboard is not None
    with pytest.raises(ServiceError, match="没有待确认"):  # an older warning's button decides nothing
        run_callback(services, older.keyboard[0][0].data, req(crm, "RM001"))
    saved = run_callback(services, newer.keyboard[0][0].data, req(crm, "RM001")).text
    assert "已超出 1 次" in saved and [u.note for u in crm.benefit_ledger] == ["", "再查"]
    with pytest.raises(ServiceError, match="没有待确认"):
        run_callback(services, newer.keyboard[0][0].data, req(crm, "RM001"))  # pressed twice: nothing more


def test_a_use_is_counted_once(services: Services, crm: FakeCRM) -> None:
    _used(services, crm, "张伟 贵宾厅 11-03", update=20)
    _used(services, crm, "张伟 贵宾厅 11-03", update=20)  # the same update redelivered
    resent = _used(services, crm, "张伟 机场贵宾厅 2026-11-03", update=21)  # sent again
    assert "未重复计数" in resent
    assert len(crm.benefit_ledger) == 1
    assert services.audit is not None and len(services.audit.find(kind="benefit_use", ref="1")) == 1


def test_a_crm_elsewhere_fails_the_use_when_the_append_fails(
    services: Services, crm: FakeCRM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake CRM cannot join the trail's transaction: the use is stored first, a failed append still
    fails the request with the one line, and the RM's resend audits it once (counted once)."""
    from bot.audit.records import RECORD_HASH, benefit_use_fields, record_digest

    assert services.audit is not None
    append = services.audit.append

    def refuse(*, kind: str, **kw: Any) -> object:
        if kind == "benefit_use":  # the client look-up before it is audited as usual
            raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))
        return append(kind=kind, **kw)

    monkeypatch.setattr(services.audit, "append", refuse)
    with pytest.raises(ServiceError) as refused:
        _used(services, crm, "张伟 贵宾厅 11-03", update=40)
    assert refused.value.message == benefits.service.USE_NOT_SAVED
    monkeypatch.undo()
    [use] = crm.benefit_ledger
    assert services.audit.find(kind="benefit_use", ref=str(use.id)) == []
    assert "未重复计数" in _used(services, crm, "张伟 贵宾厅 11-03", update=41)  # the resend
    [event] = services.audit.find(kind="benefit_use", ref=str(use.id))
    assert event.payload[RECORD_HASH] == record_digest(benefit_use_fields(use))
    assert len(crm.benefit_ledger) == 1


def test_what_the_table_does_not_give_is_refused_with_the_reason(services: Services, crm: FakeCRM) -> None:
    with pytest.raises(ServiceError, match="白金客户"):
        _used(services, crm, "刘洋 贵宾厅")  # the table gives it to 钻石 only
    with pytest.raises(ServiceError, match="权益表中没有"):
        _used(services, crm, "张伟 火星旅行")
    with pytest.raises(ServiceError, match="主管不能代客户经理登记"):
        _used(services, crm, "C0001 贵宾厅", code="SUP01")
    with pytest.raises(ServiceError, match="仅供"):
        _used(services, crm, "C0001 贵宾厅", code="TRN01")
    with pytest.raises(ServiceError, match="不能晚于今天"):
        _used(services, crm, "C0001 贵宾厅 2026-12-30")
    assert crm.benefit_ledger == []
    sheet = _used(services, crm, "张伟", code="SUP01")  # supervisors read the balances
    assert "机场贵宾厅：每年12次，已用 0 次，剩 12 次" in sheet and "CRM 权益使用台账" in sheet


def test_a_question_about_what_is_left_is_counted_from_the_ledger(
    services: Services, crm: FakeCRM, kb: FakeKB
) -> None:
    for day in ("10-01", "11-03"):
        _used(services, crm, f"张伟 贵宾厅 {day}")
    reply = ask.ask(services.ask, req(crm, "RM001", "张伟今年还能用几次贵宾厅？"))
    assert "钻石客户每年12次，今年已用2次（最近 11-03），还剩10次" in reply.text
    assert (
        "增值服务权益" in reply.text
        and "CRM 权益使用台账" in reply.text
        and "2026-10-01、2026-11-03" in reply.text
    )
    assert kb.asked == []  # not the general rule: the ledger answered
    other_tier = ask.ask(services.ask, req(crm, "RM001", "刘洋今年还能用几次贵宾厅？"))  # a 白金 client
    assert "机场贵宾厅适用于钻石客户，白金客户不享有" in other_tier.text and "已用" not in other_tier.text
    rule = ask.ask(services.ask, req(crm, "RM001", "张伟能用几次贵宾厅？"))  # no count asked: the rule
    assert kb.asked == ["张伟能用几次贵宾厅？"] and "已用" not in rule.text


def test_log_confirmation_offers_to_record_the_benefit_it_arranged(services: Services, crm: FakeCRM) -> None:
    """A /log whose summary arranged a counted benefit asks first: save only, or save and count the use
    (linked to the record, counted once however often the answer arrives)."""
    from bot.features.contact_log import CONFIRM, CONFIRM_WITH_USE, start, step

    line = "张伟 电话 帮客户约了机场贵宾厅"
    draft = start(services.contacts, req(crm, "RM001", line, update_id=30, chat_id=1))
    [ask] = draft.replies
    assert draft.state == CONFIRM and draft.record is None and crm.contacts == []  # nothing saved yet
    assert "摘要提到已安排「机场贵宾厅」（钻石客户每年12次）" in ask.text
    assert ask.options == ("确认", CONFIRM_WITH_USE, "取消")
    answer = req(crm, "RM001", CONFIRM_WITH_USE, update_id=31, chat_id=1)
    done = step(services.contacts, answer, CONFIRM, draft.draft)
    assert done.record is not None and done.state is None
    saved, used = done.replies
    assert "已记录" in saved.text and "已登记" in used.text and f"关联联系记录 C{done.record.id}" in used.text
    again = step(services.contacts, answer, CONFIRM, draft.draft)  # the same answer delivered again
    assert again.record is not None and again.record.id == done.record.id and again.record.duplicate
    assert "已用 1 次" in again.replies[1].text  # the same answer again: the same use, counted once
    [use] = crm.benefit_ledger
    assert use.contact_id == done.record.id and use.benefit == "机场贵宾厅" and len(crm.contacts) == 1
    other = start(services.contacts, req(crm, "RM001", line + "（返程）", update_id=32, chat_id=1))
    only = step(services.contacts, req(crm, "RM001", "确认", update_id=33, chat_id=1), CONFIRM, other.draft)
    assert len(only.replies) == 1 and len(crm.contacts) == 2 and len(crm.benefit_ledger) == 1  # record only
    quiet = start(
        services.contacts, req(crm, "RM001", "张伟 电话 客户询问贵宾厅怎么用", update_id=34, chat_id=1)
    )
    assert quiet.state is None and quiet.record is not None and quiet.replies[0].options == ()  # no offer


def test_a_failed_use_keeps_the_confirmed_record(services: Services, crm: FakeCRM) -> None:
    """The ledger refusing the use (here: the client's tier changed meanwhile) leaves the record saved
    and says the use was not recorded."""
    from bot.features.contact_log import CONFIRM, CONFIRM_WITH_USE, start, step

    draft = start(
        services.contacts, req(crm, "RM001", "张伟 电话 帮客户约了机场贵宾厅", update_id=40, chat_id=1)
    )
    crm.clients["C0001"] = crm.clients["C0001"].model_copy(update={"tier": "白金"})
    done = step(
        services.contacts, req(crm, "RM001", CONFIRM_WITH_USE, update_id=41, chat_id=1), CONFIRM, draft.draft
    )
    saved, failed = done.replies
    assert "已记录" in saved.text and "权益使用未登记" in failed.text
    assert len(crm.contacts) == 1 and crm.benefit_ledger == []


def test_brief_shows_records_and_reasoned_talking_points(services: Services, crm: FakeCRM) -> None:
    _used(services, crm, "张伟 贵宾厅 11-03")
    text = run_command(services, "brief", req(crm, "RM001", "张伟")).text
    assert "会前简报：张伟" in text and "机场贵宾厅：每年12次，已用 1 次，最近 11-03，剩 11 次" in text
    assert (
        "高端体检今年未使用" in text and "依据：《增值服务权益》：每年1次；权益使用台账 2026 年 0 次" in text
    )
    assert "合规：" in text and "PEP：否" in text and "测评于 2026-06-01，有效至 2027-06-01" in text
    assert text.count("\n1. ") == 1 and "\n4. " not in text
    with pytest.raises(ServiceError, match="没有找到"):  # another RM's client: not even found
        run_command(services, "brief", req(crm, "RM001", "C0009"))
    with pytest.raises(ServiceError, match="无权"):
        services.brief.view(crm.get_staff(code="RM001"), "C0009")


def test_brief_is_not_shown_when_it_cannot_be_audited(
    services: Services, crm: FakeCRM, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_a: object, **_kw: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))

    assert services.audit is not None
    monkeypatch.setattr(services.audit, "append", refuse)
    with pytest.raises(sa.exc.OperationalError):
        run_command(services, "brief", req(crm, "RM001", "张伟"))
    with pytest.raises(sa.exc.OperationalError):
        _used(services, crm, "张伟")


def test_commands_rows(services: Services) -> None:
    from bot.commands import command

    for name in ("used", "brief"):
        row = command(name)
        assert row.private_only and {r.value for r in row.roles} == {"rm", "supervisor", "admin"}
    assert benefits.LEDGER == "ledger"
