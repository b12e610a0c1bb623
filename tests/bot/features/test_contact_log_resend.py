"""The /log flow on logical idempotency (a resend) and on edited draft answers, on the console path."""

from __future__ import annotations

from bot.composition import Services
from bot.features import contact_log
from bot.features.contact_log import CHANNEL, CONFIRM, FOLLOW_UP, SUMMARY
from tests.bot.app_fixtures import req
from tests.bot.fakes import FakeCRM


def test_a_resend_is_answered_with_the_time_of_the_stored_record(services: Services, crm: FakeCRM) -> None:
    first = contact_log.start(services.contacts, req(crm, "RM001", "刘洋 电话 例行回访", update_id=1))
    redelivered = contact_log.start(services.contacts, req(crm, "RM001", "刘洋 电话 例行回访", update_id=1))
    resent = contact_log.start(services.contacts, req(crm, "RM001", "刘洋  电话 例行回访 ", update_id=2))
    assert len(crm.contacts) == 1
    [record] = crm.contacts
    at = contact_log.logged_at(record.created_at, services.contacts.clock)
    assert "✅ 已记录" in first.replies[0].text
    assert "✅ 已记录" in redelivered.replies[0].text  # the same update again: its reply again
    assert resent.replies[0].text.startswith(f"ℹ️ 该联系记录已于 {at} 登记")
    assert "已记录" not in resent.replies[0].text
    assert first.record is not None and resent.record is not None and resent.record.id == first.record.id
    assert resent.record.duplicate and not first.record.duplicate
    no_key = contact_log.start(services.contacts, req(crm, "RM001", "刘洋 电话 例行回访"))
    assert no_key.replies[0].text.startswith("ℹ️ 该联系记录已于")  # without a key it is a resend too


def test_revise_updates_the_draft_and_asks_the_current_question_again(
    services: Services, crm: FakeCRM
) -> None:
    draft = {"client_id": "C0003", "channel": "电话", "summary": "原摘要"}
    svc = services.contacts
    step = contact_log.revise(svc, req(crm, "RM001", " 改后的  摘要 "), FOLLOW_UP, draft, SUMMARY)
    assert step.state == FOLLOW_UP and step.draft["summary"] == "改后的 摘要"
    assert step.replies[0].text == "✏️ 已按您修改的消息更新草稿。" and "跟进" in step.replies[1].text
    step = contact_log.revise(svc, req(crm, "RM001", "微信"), CONFIRM, draft, CHANNEL)
    assert step.state == CONFIRM and step.draft["channel"] == "微信" and "渠道：微信" in step.replies[1].text
    bad = contact_log.revise(svc, req(crm, "RM001", "飞鸽"), SUMMARY, draft, CHANNEL)
    assert bad.draft == draft and "草稿未改" in bad.replies[0].text and bad.state == SUMMARY
    assert crm.contacts == []  # nothing is saved before the RM confirms
