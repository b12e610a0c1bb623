"""bot.services.Assistant with fake knowledge/CRM and a real conversation log (SQLite in tmp)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.convlog import ConversationLog
from bot.services import Assistant, LogDraft, ServiceError, parse_channel, parse_date_range
from crm_adapter import Channel, Staff
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


@pytest.fixture
def assistant(kb: FakeKB, crm: FakeCRM, log: ConversationLog) -> Assistant:
    return Assistant(kb=kb, crm=crm, log=log, timezone="Asia/Shanghai", now=lambda: NOW)


def staff(crm: FakeCRM, code: str) -> Staff:
    return crm.get_staff(code=code)


def test_identity(assistant: Assistant) -> None:
    assert assistant.staff_for_telegram(1001).code == "RM001"  # type: ignore[union-attr]
    assert assistant.staff_for_telegram(999) is None
    assert assistant.staff_by_code("rm002").name == "李强"
    with pytest.raises(ServiceError, match="没有工号"):
        assistant.staff_by_code("NOPE")
    assert [s.code for s in assistant.digest_recipients()] == ["RM001", "RM002"]


def test_ask_records_masked_exchange_with_flags(
    assistant: Assistant, crm: FakeCRM, log: ConversationLog
) -> None:
    rm = staff(crm, "RM001")
    result = assistant.ask(
        rm,
        "客户 13812345678 想要保本的产品，钻石客户有什么权益？",
        channel="telegram",
        chat_id=5,
        update_id=9,
    )
    assert result.answer.grounded
    assert result.flags == ("承诺收益",)
    stored = log.get(exchange_id=result.exchange_id)  # type: ignore[arg-type]
    assert stored is not None and "13812345678" not in stored.question
    assert stored.flags == ("承诺收益",)
    # the same update again: no second exchange
    again = assistant.ask(
        rm,
        "客户 13812345678 想要保本的产品，钻石客户有什么权益？",
        channel="telegram",
        chat_id=5,
        update_id=9,
    )
    assert again.exchange_id == result.exchange_id
    assert log.stats().questions == 1


def test_ask_rejects_empty_and_too_long(assistant: Assistant, crm: FakeCRM) -> None:
    rm = staff(crm, "RM001")
    with pytest.raises(ServiceError):
        assistant.ask(rm, "   ", channel="console")
    with pytest.raises(ServiceError, match="太长"):
        assistant.ask(rm, "问" * 2000, channel="console")


def test_feedback_only_by_the_asker(assistant: Assistant, crm: FakeCRM) -> None:
    result = assistant.ask(staff(crm, "RM001"), "钻石客户权益", channel="console")
    assert result.exchange_id is not None
    assert assistant.feedback(staff(crm, "RM001"), result.exchange_id, "down").feedback == "down"
    with pytest.raises(ServiceError, match="自己"):
        assistant.feedback(staff(crm, "RM002"), result.exchange_id, "up")
    with pytest.raises(ServiceError):
        assistant.feedback(staff(crm, "RM001"), 99999, "up")


def test_clients_and_card_with_entitlements(assistant: Assistant, crm: FakeCRM) -> None:
    rm = staff(crm, "RM001")
    assert [c.client_id for c in assistant.find_clients(rm, "zhangwei")] == ["C0001", "C0002"]
    view = assistant.client_view(rm, "C0001")
    assert view.card.client.name == "张伟"
    assert [h.chunk_id for h in view.entitlements] == ["1"]  # only hits mentioning 钻石
    with pytest.raises(ServiceError, match="无权"):
        assistant.client_view(rm, "C0009")  # another RM's client
    with pytest.raises(ServiceError):
        assistant.find_clients(rm, "  ")


def test_parse_log_line(assistant: Assistant, crm: FakeCRM) -> None:
    rm = staff(crm, "RM001")
    draft = assistant.parse_log_line(rm, "刘洋 见面 客户关注海外配置 下次:2026-12-15")
    assert draft.client is not None and draft.client.client_id == "C0003"
    assert draft.channel == Channel.MEETING
    assert draft.summary == "客户关注海外配置"
    assert draft.next_follow_up == date(2026, 12, 15)
    # ambiguous by pinyin → candidates, exact name → one
    ambiguous = assistant.parse_log_line(rm, "zhangwei 电话 聊了聊")
    assert ambiguous.client is None and len(ambiguous.candidates) == 2
    exact = assistant.parse_log_line(rm, "张伟 微信 发了资料 下次：明天")
    assert exact.client is not None and exact.client.client_id == "C0001"
    assert exact.next_follow_up == TODAY + timedelta(days=1)
    with pytest.raises(ServiceError, match="渠道"):
        assistant.parse_log_line(rm, "张伟 飞鸽 传书")
    with pytest.raises(ServiceError, match="格式"):
        assistant.parse_log_line(rm, "张伟 电话")
    with pytest.raises(ServiceError, match="没有找到"):
        assistant.parse_log_line(rm, "孙丽 电话 不是我的客户")


def test_parse_follow_up_forms(assistant: Assistant) -> None:
    assert assistant.parse_follow_up("12-15") == date(2026, 12, 15)
    assert assistant.parse_follow_up("1-5") == date(2027, 1, 5)  # past this year → next year
    assert assistant.parse_follow_up("12月20日") == date(2026, 12, 20)
    assert assistant.parse_follow_up("后天") == date(2026, 11, 30)
    assert assistant.parse_follow_up("下周一") == date(2026, 11, 30)
    assert assistant.parse_follow_up("周三") == date(2026, 12, 2)
    assert assistant.parse_follow_up("3天后") == date(2026, 12, 1)
    assert assistant.parse_follow_up("跳过") is None
    with pytest.raises(ServiceError):
        assistant.parse_follow_up("2026-02-30")
    with pytest.raises(ServiceError, match="早于"):
        assistant.parse_follow_up("2026-11-01")
    with pytest.raises(ServiceError):
        assistant.parse_follow_up("某天")


def test_log_contact_idempotent_with_compliance(assistant: Assistant, crm: FakeCRM) -> None:
    rm = staff(crm, "RM001")
    draft = assistant.parse_log_line(rm, "刘洋 电话 承诺保本收益 下次:12-15")
    first = assistant.log_contact(rm, draft, source="telegram", idempotency_key="telegram:1:2")
    second = assistant.log_contact(rm, draft, source="telegram", idempotency_key="telegram:1:2")
    assert first.record.id == second.record.id and len(crm.contacts) == 1
    assert first.flags == ("承诺收益",)
    with pytest.raises(ServiceError, match="不完整"):
        assistant.log_contact(rm, LogDraft(), source="console", idempotency_key=None)
    # supervisors are read-only in the CRM: the error comes back in Chinese
    with pytest.raises(ServiceError):
        assistant.log_contact(staff(crm, "SUP01"), draft, source="console", idempotency_key=None)


def test_draft_state_round_trip(assistant: Assistant, crm: FakeCRM) -> None:
    rm = staff(crm, "RM001")
    draft = assistant.parse_log_line(rm, "刘洋 邮件 发送季度报告 下次:12-15")
    again = assistant.draft_from_state(rm, draft.to_state())
    assert again == draft


def test_today_view(assistant: Assistant, crm: FakeCRM) -> None:
    view = assistant.today_view(staff(crm, "RM001"))
    assert view.today == TODAY
    assert view.follow_ups[0].overdue and view.birthdays[0].days_until == 2


def test_supervisor_review_flagged_first_and_roles(kb: FakeKB, crm: FakeCRM, log: ConversationLog) -> None:
    # The log stamps rows with the real clock, so the review window must use it too.
    assistant = Assistant(kb=kb, crm=crm, log=log, timezone="Asia/Shanghai")
    rm1, rm2, sup = staff(crm, "RM001"), staff(crm, "RM002"), staff(crm, "SUP01")
    assistant.ask(rm1, "钻石客户权益", channel="console")
    assistant.ask(rm2, "火星上的理财产品？", channel="console")  # ungrounded → flagged
    assistant.log_contact(
        rm1, assistant.parse_log_line(rm1, "刘洋 电话 例行问候"), source="console", idempotency_key=None
    )
    assistant.log_contact(
        rm1,
        assistant.parse_log_line(rm1, "张伟 电话 建议客户拆分转账"),
        source="console",
        idempotency_key=None,
    )
    view = assistant.review(sup, [])
    assert set(view.staff_codes) == {"RM001", "RM002"}
    assert view.exchanges[0].flagged and view.exchanges[0].staff_code == "RM002"
    assert view.contacts[0].flags == ("规避反洗钱",)
    only = assistant.review(sup, ["RM001", "7天"])
    assert only.staff_codes == ("RM001",)
    assert all(e.staff_code == "RM001" for e in only.exchanges)
    with pytest.raises(ServiceError, match="不在您的团队"):
        assistant.review(sup, ["TRN01"])
    with pytest.raises(ServiceError, match="主管"):
        assistant.review(rm1, [])
    unanswered = assistant.unanswered(staff(crm, "TRN01"))
    assert [u.question for u in unanswered.items] == ["火星上的理财产品？"]
    with pytest.raises(ServiceError):
        assistant.unanswered(rm1)
    stats = assistant.stats(sup, [])
    assert stats.stats.questions == 2 and stats.stats.unanswered == 1
    assert stats.contacts == 2


def test_trainer_kb_and_ingest(assistant: Assistant, crm: FakeCRM, kb: FakeKB, tmp_path: Path) -> None:
    trainer, rm = staff(crm, "TRN01"), staff(crm, "RM001")
    assert assistant.kb_search(trainer, "钻石 权益")[0].score == 2.0
    with pytest.raises(ServiceError, match="培训师"):
        assistant.kb_search(rm, "钻石")
    doc = tmp_path / "新产品.md"
    doc.write_text("# 新产品\n内容", encoding="utf-8")
    assert assistant.ingest_document(trainer, doc).chunks_added == 3
    with pytest.raises(ServiceError, match="培训师"):
        assistant.ingest_document(rm, doc)
    with pytest.raises(ServiceError, match="格式"):
        assistant.check_ingest(trainer, "virus.exe")
    assert kb.ingested == [doc]


def test_parsers() -> None:
    assert parse_channel("见面") == Channel.MEETING
    assert parse_channel("WeChat") == Channel.WECHAT
    assert parse_channel("飞鸽") is None
    assert parse_date_range("2026-11-01~2026-11-28", TODAY) == (date(2026, 11, 1), TODAY)
    assert parse_date_range("2026-11-20", TODAY) == (date(2026, 11, 20), date(2026, 11, 20))
    assert parse_date_range("7天", TODAY) == (date(2026, 11, 22), TODAY)
    assert parse_date_range("本月", TODAY) == (date(2026, 11, 1), TODAY)
    assert parse_date_range("RM001", TODAY) is None
