"""bot.features.today: follow-ups and birthdays, `/today` and the digest."""

from __future__ import annotations

from datetime import timedelta

from bot.composition import Services
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
    overdue, soon = text.split("KYC 复核已逾期（1）")[1].split("30 天内 KYC 复核（2）")
    assert "张伟" in overdue and "逾期 2 天" in overdue
    assert soon.index("刘洋") < soon.index("张薇") and "今天到期" in soon and "30 天后到期" in soon
    assert "孙丽" not in text and "RM001" not in text  # own clients, no owner shown
    sup = today.today(services.today, req(crm, "SUP01")).text
    assert "30 天内 KYC 复核（3）" in sup and "孙丽" in sup and "· RM002" in sup
    digest = today.render_digest(services.today.view(crm.get_staff(code="RM001")))
    assert "KYC 复核已逾期（1）" in digest
    later = {"kyc_review_due": TODAY + timedelta(days=31)}
    crm.clients["C0002"] = crm.clients["C0002"].model_copy(update=later)
    assert "30 天内 KYC 复核（1）" in today.today(services.today, req(crm, "RM001")).text
