"""bot.features.contact_log.details: follow-up dates, amounts, products and life events out of a /log
summary, shown on the draft and stored with the record."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.composition import Services
from bot.features import contact_log
from bot.features.contact_log import CONFIRM
from bot.features.contact_log.details import extract
from tests.bot.app_fixtures import req
from tests.bot.fakes import FakeCRM

TODAY = date(2026, 12, 8)  # a Tuesday


def test_fields_out_of_free_text() -> None:
    d = extract("客户女儿明年去英国读硕士，想了解500万家族信托，下周三再约", TODAY)
    assert d.follow_ups == (date(2026, 12, 16),) and d.amounts == (Decimal(5_000_000),)
    assert d.products == ("信托",) and d.events == ("子女留学",)
    assert d.topics() == ("跟进:2026-12-16", "金额:500万元", "产品:信托", "事件:子女留学")
    matured = extract("理财12月15日到期，客户12月25日生日，12-20回访", TODAY)
    assert matured.follow_ups == (date(2026, 12, 20),) and matured.events == (
        "生日",
    )  # dates of other things
    assert extract("客户询问黄金客户有哪些权益", TODAY).products == ()  # a tier, not gold
    assert not extract("电话问候，客户近期身体不错", TODAY)


def test_the_draft_shows_the_fields_and_the_record_keeps_them(services: Services, crm: FakeCRM) -> None:
    steps = [
        ("/log", None),
        ("张伟", None),
        ("面谈", None),
        ("客户刚退休，想把300万转入理财，明天再约", None),
    ]
    step = contact_log.start(services.contacts, req(crm, "RM001", ""))
    state, draft = step.state, step.draft
    for text, _ in steps[1:]:
        step = contact_log.step(services.contacts, req(crm, "RM001", text), state or 0, draft)
        state, draft = step.state, step.draft
    step = contact_log.step(services.contacts, req(crm, "RM001", "跳过"), state or 0, draft)
    assert step.state == CONFIRM
    shown = step.replies[0].text
    assert "识别要点：跟进 2026-11-29；金额 300万元；产品 理财；事件 退休（确认后随记录保存）" in shown
    done = contact_log.step(services.contacts, req(crm, "RM001", "确认", update_id=5), CONFIRM, step.draft)
    assert "识别要点" in done.replies[0].text
    [record] = crm.contacts
    assert record.topics == ("跟进:2026-11-29", "金额:300万元", "产品:理财", "事件:退休")
