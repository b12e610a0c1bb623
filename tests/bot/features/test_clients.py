"""bot.features.clients: search, resolution and the card, within the CRM's scopes."""

from __future__ import annotations

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
    assert [h.chunk_id for h in view.entitlements] == ["1"]  # only hits mentioning 钻石
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
