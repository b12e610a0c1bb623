"""bot.features.today: follow-ups and birthdays, `/today` and the digest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.composition import Services
from bot.core import ServiceError
from bot.features import today
from tests.bot.app_fixtures import TODAY, req
from tests.bot.fakes import FakeCRM


def test_today_view_and_digest(services: Services, crm: FakeCRM) -> None:
    view = services.today.view(crm.get_staff(code="RM001"))
    assert view.today == TODAY
    assert view.follow_ups[0].overdue and view.birthdays[0].days_until == 2
    assert "已逾期回访（1）" in today.today(services.today, req(crm, "RM001")).text
    assert today.render_digest(view).startswith("早上好，王敏！")


def test_kyc_reviews_due_within_30_days_and_overdue(services: Services, crm: FakeCRM) -> None:
    """RMs see their own clients' reviews; a supervisor the team's, each with its RM."""
    dates = {"C0001": TODAY - timedelta(days=2), "C0002": TODAY + timedelta(days=30), "C0003": TODAY}
    dates |= {"C0009": TODAY + timedelta(days=5)}  # RM002's client
    for cid, due in dates.items():
        crm.clients[cid] = crm.clients[cid].model_copy(update={"kyc_review_due": due})
    text = today.today(services.today, req(crm, "RM001")).text
    assert "KYC 复核已逾期（1）" in text and "30 天内 KYC 复核（2）" in text
    ranked = text.split("今日待办")[1]
    overdue, soon = (
        ranked.index("张伟（钻石，C0001）KYC 复核逾期 2 天"),
        ranked.index("刘洋（白金，C0003）KYC 复核今天到期"),
    )
    assert overdue < soon < ranked.index("张薇（黄金，C0002）KYC 复核 30 天后到期")
    assert "孙丽" not in text and "RM001" not in text  # own clients, no owner shown
    sup = today.today(services.today, req(crm, "SUP01")).text
    assert "30 天内 KYC 复核（3）" in sup and "孙丽" in sup and "· RM002" in sup
    digest = today.render_digest(services.today.view(crm.get_staff(code="RM001")))
    assert "KYC 复核已逾期（1）" in digest
    later = {"kyc_review_due": TODAY + timedelta(days=31)}
    crm.clients["C0002"] = crm.clients["C0002"].model_copy(update=later)
    assert "30 天内 KYC 复核（1）" in today.today(services.today, req(crm, "RM001")).text


def test_the_day_is_ranked_with_reasons_and_items_are_marked(services: Services, crm: FakeCRM) -> None:
    """Overdue follow-up first, then an expired risk assessment and a KYC review due, the birthday last;
    each with its reason. /done and /skip (with its reason) mark items; the supervisor sees completion."""
    crm.clients["C0001"] = crm.clients["C0001"].model_copy(
        update={"risk_assessed_on": TODAY - timedelta(days=400), "kyc_review_due": TODAY + timedelta(days=10)}
    )
    view = services.today.view(crm.get_staff(code="RM001"))
    assert [(i.kind, i.title) for i in view.items] == [
        ("followup", "回访逾期 3 天"),
        ("assessment", "风险测评已过期"),
        ("kyc", "KYC 复核 10 天后到期"),
        ("birthday", "2 天后生日（11-30）"),
        ("benefit", "机场贵宾厅、高端体检今年未使用"),  # 33 days before the year ends
    ]
    assert all(i.reason for i in view.items) and "第十二条" in view.items[1].reason
    assert "权益使用台账 2026 年尚无记录" in view.items[4].reason
    text = today.today(services.today, req(crm, "RM001")).text
    assert "1. 张伟（钻石，C0001）回访逾期 3 天 — <i>按钻石客户14天节奏</i>" in text
    with pytest.raises(ServiceError, match="须写明原因"):
        today.skip(services.today, req(crm, "RM001", "2"))
    assert "已完成" in today.done(services.today, req(crm, "RM001", "1 已电话回访")).text
    assert "已跳过" in today.skip(services.today, req(crm, "RM001", "4 客户出差")).text
    with pytest.raises(ServiceError, match="没有第 9 项"):
        today.done(services.today, req(crm, "RM001", "9"))
    text = today.today(services.today, req(crm, "RM001")).text
    assert "1. ✅ 张伟" in text and "（已电话回访）" in text and "4. ⏭ 张伟" in text
    assert today.render_digest(services.today.view(crm.get_staff(code="RM001"))).count("✅") == 1
    sup = today.today(services.today, req(crm, "SUP01")).text
    assert "完成情况" in sup and "• RM001：2/5" in sup
