"""bot.features.clients: search, resolution and the card, within the CRM's scopes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.composition import Services
from bot.core import ServiceError
from bot.features import clients
from tests.bot.app_fixtures import req
from tests.bot.fakes import FakeCRM


def test_clients_and_card_with_entitlements(services: Services, crm: FakeCRM) -> None:
    rm = crm.get_staff(code="RM001")
    assert [c.client_id for c in services.clients.find(rm, "zhangwei")] == ["C0001", "C0002"]
    view = services.clients.view(rm, "C0001")
    assert view.card.client.name == "张伟"
    assert [e.benefit for e in view.entitlements] == ["机场贵宾厅", "高端体检"]  # the KB's rows for 钻石
    with pytest.raises(ServiceError, match="无权"):
        services.clients.view(rm, "C0009")  # another RM's client
    with pytest.raises(ServiceError):
        services.clients.find(rm, "  ")


def test_resolve_exact_ambiguous_and_picked(services: Services, crm: FakeCRM) -> None:
    rm = crm.get_staff(code="RM001")
    assert services.clients.resolve(rm, "张伟").client is not None
    ambiguous = services.clients.resolve(rm, "zhangwei")
    assert ambiguous.client is None and len(ambiguous.candidates) == 2
    picked = services.clients.resolve(rm, "张薇 (C0002)")
    assert picked.client is not None and picked.client.client_id == "C0002"
    with pytest.raises(ServiceError, match="没有找到"):
        services.clients.resolve(rm, "孙丽")


def test_client_command_pick_list_then_card(services: Services, crm: FakeCRM) -> None:
    reply = clients.client(services.clients, req(crm, "RM001", "zhangwei"))
    assert reply.choose and reply.keyboard is not None
    assert [row[0].data for row in reply.keyboard] == ["client:C0001", "client:C0002"]
    card = clients.client_pick(services.clients, req(crm, "RM001", "C0002"))
    assert "张薇" in card.text and "黄金" in card.text


def test_mentioned_client_only_in_scope(services: Services, crm: FakeCRM) -> None:
    rm = crm.get_staff(code="RM001")
    [client] = services.clients.mentioned_clients(rm, "刘洋能免费洗车吗")
    assert client.tier == "白金"
    assert services.clients.mentioned_clients(rm, "钻石客户能免费洗车吗") == ()
    assert services.clients.mentioned_clients(rm, "孙丽能免费洗车吗") == ()  # another RM's client


def test_card_shows_aml_risk_and_pep(services: Services, crm: FakeCRM) -> None:
    crm.clients["C0003"] = crm.clients["C0003"].model_copy(update={"pep": True, "aml_risk": "高"})
    text = clients.client_pick(services.clients, req(crm, "RM001", "C0003")).text
    assert "反洗钱风险：高" in text and "政治公众人物" in text
    assert "政治公众人物" not in clients.client_pick(services.clients, req(crm, "RM001", "C0001")).text


def test_card_risk_view_assessment_and_kyc_dates(services: Services, crm: FakeCRM) -> None:
    """TODAY is 2026-11-28: an assessment of 2026-06-01 is valid, one of 2025-10-01 is not."""
    crm.clients["C0001"] = crm.clients["C0001"].model_copy(update={"kyc_review_due": date(2026, 12, 10)})
    text = clients.client_pick(services.clients, req(crm, "RM001", "C0001")).text
    assert "风险等级：C3 平衡型（测评于 2026-06-01）" in text and "PEP：否" in text
    assert "KYC 复核到期：2026-12-10（周四），还有 12 天 ⏰" in text
    stale = {"risk_assessed_on": date(2025, 10, 1), "kyc_review_due": date(2026, 11, 20), "pep": True}
    crm.clients["C0002"] = crm.clients["C0002"].model_copy(update=stale)
    text = clients.client_pick(services.clients, req(crm, "RM001", "C0002")).text
    assert "测评于 2025-10-01，已超过有效期，须重新测评" in text
    assert "已逾期 8 天" in text and "政治公众人物（PEP）：是" in text
    crm.clients["C0003"] = crm.clients["C0003"].model_copy(update={"risk_assessed_on": None})
    text = clients.client_pick(services.clients, req(crm, "RM001", "C0003")).text
    assert "无风险测评记录" in text and "KYC 复核到期：未设定" in text


def test_card_lists_one_line_per_benefit_of_the_tier(services: Services, crm: FakeCRM) -> None:
    text = clients.client_pick(services.clients, req(crm, "RM001", "C0001")).text
    assert "钻石客户权益</b>（《增值服务权益》）" in text
    assert "• 机场贵宾厅：每年12次（持本行私人银行卡）\n" in text
    assert "• 高端体检：每年1次（日均金融资产3000万元以上）" in text  # 6000万: met, not marked
    assert "|" not in text and "未达资产条件" not in text
    poorer = crm.clients["C0001"].model_copy(update={"aum": Decimal("20000000")})
    crm.clients["C0001"] = poorer  # still shown as a 钻石 card in the fake: the condition decides
    text = clients.client_pick(services.clients, req(crm, "RM001", "C0001")).text
    assert "• 高端体检：每年1次（日均金融资产3000万元以上） — 未达资产条件" in text
    assert "客户权益" not in clients.client_pick(services.clients, req(crm, "RM001", "C0002")).text
