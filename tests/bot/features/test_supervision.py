"""bot.features.supervision: review flagged first, unanswered questions, stats, date ranges."""

from __future__ import annotations

from datetime import date

import pytest

from bot.composition import Services
from bot.core import ServiceError
from bot.features import contact_log
from bot.features.supervision import parse_date_range
from tests.bot.app_fixtures import TODAY, req
from tests.bot.fakes import FakeCRM


def test_supervisor_review_flagged_first(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    s.ask.ask(staff_code="RM001", question="钻石客户权益", channel="console")
    s.ask.ask(staff_code="RM002", question="火星上的理财产品？", channel="console")  # ungrounded → flagged
    contact_log.start(s.contacts, req(crm, "RM001", "刘洋 电话 例行问候"))
    contact_log.start(s.contacts, req(crm, "RM001", "张伟 电话 建议客户拆分转账"))
    sup = crm.get_staff(code="SUP01")
    view = s.supervision.review(sup, [])
    assert set(view.staff_codes) == {"RM001", "RM002"}
    assert view.exchanges[0].flagged and view.exchanges[0].staff_code == "RM002"
    assert view.contacts[0].flags == ("规避反洗钱",)
    only = s.supervision.review(sup, ["RM001", "7天"])
    assert only.staff_codes == ("RM001",)
    assert all(e.staff_code == "RM001" for e in only.exchanges)
    with pytest.raises(ServiceError, match="不在您的团队"):
        s.supervision.review(sup, ["TRN01"])
    unanswered = s.supervision.unanswered(crm.get_staff(code="TRN01"))
    assert [u.question for u in unanswered.items] == ["火星上的理财产品？"]
    stats = s.supervision.stats(sup, [])
    assert stats.stats.questions == 2 and stats.stats.unanswered == 1
    assert stats.contacts == 2


def test_parse_date_range() -> None:
    assert parse_date_range("2026-11-01~2026-11-28", TODAY) == (date(2026, 11, 1), TODAY)
    assert parse_date_range("2026-11-20", TODAY) == (date(2026, 11, 20), date(2026, 11, 20))
    assert parse_date_range("7天", TODAY) == (date(2026, 11, 22), TODAY)
    assert parse_date_range("本月", TODAY) == (date(2026, 11, 1), TODAY)
    assert parse_date_range("RM001", TODAY) is None
