"""bot.features.today: follow-ups and birthdays, `/today` and the digest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.composition import Services
from bot.core import ServiceError
from bot.features import today
from crm_adapter import Tier
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


def test_assessments_due_come_from_every_client_in_scope(services: Services, crm: FakeCRM) -> None:
    """A client with no follow-up, birthday or KYC item today is listed for an expired or missing
    assessment, with its reason; the read is in the audit's list of clients; a supervisor sees the team's."""
    crm.clients["C0002"] = crm.clients["C0002"].model_copy(
        update={"risk_assessed_on": TODAY - timedelta(days=400)}
    )
    crm.clients["C0009"] = crm.clients["C0009"].model_copy(update={"risk_assessed_on": None})  # RM002's
    view = services.today.view(crm.get_staff(code="RM001"))
    assert "C0002" not in {f.client.client_id for f in view.follow_ups} | {
        b.client.client_id for b in view.birthdays
    }
    [item] = [i for i in view.items if i.kind == "assessment"]
    assert (item.client.client_id, item.title) == ("C0002", "风险测评已过期")
    assert "测评于 2025-10-24，有效期 12 个月" in item.reason and "第十二条" in item.reason
    text = today.today(services.today, req(crm, "RM001")).text
    assert "张薇（黄金，C0002）风险测评已过期" in text and "孙丽" not in text
    assert services.audit is not None
    listed = services.audit.find(kind="client_list", ref="today")
    assert "C0002" in listed[-1].payload["clients"]
    sup = services.today.view(crm.get_staff(code="SUP01"))
    assert {(i.client.client_id, i.title) for i in sup.items if i.kind == "assessment"} == {
        ("C0002", "风险测评已过期"),
        ("C0009", "无风险测评记录"),
    }


def test_unused_entitlements_are_looked_up_beyond_the_days_lists(
    services: Services, crm: FakeCRM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Near the year's end, a client in scope with nothing else today still gets its unused-entitlement
    hint; the capped hints go to the highest tiers (most entitlements), then the sooner follow-up."""
    crm.clients["C0003"] = crm.clients["C0003"].model_copy(update={"tier": Tier.DIAMOND})
    view = services.today.view(crm.get_staff(code="RM001"))
    others = {i.client.client_id for i in view.items if i.kind != "benefit"}
    hinted = [i for i in view.items if i.kind == "benefit"]
    assert "C0003" not in others and {i.client.client_id for i in hinted} == {"C0001", "C0003"}
    assert all("距年底 33 天" in i.reason for i in hinted)
    monkeypatch.setattr(today, "BENEFIT_HINT_CLIENTS", 1)
    capped = services.today.view(crm.get_staff(code="RM001")).items
    assert [i.client.client_id for i in capped if i.kind == "benefit"] == ["C0001"]  # diamond, due first
