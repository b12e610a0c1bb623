"""Demo data: deterministic, realistic, idempotent."""

from __future__ import annotations

from datetime import date

from crm_adapter.demo import seed_demo
from crm_adapter.models import tier_for_aum
from crm_adapter.sql import SqlCRM

TODAY = date(2026, 6, 15)


def test_seed_demo_twice(crm: SqlCRM) -> None:
    first = seed_demo(crm, clients=30, today=TODAY)
    contacts = crm.list_contacts(actor="ADM01", limit=1000)
    second = seed_demo(crm, clients=30, today=TODAY)
    assert first.clients_created == 30 and second.clients_created == 0 and second.clients_updated == 30
    assert crm.list_contacts(actor="ADM01", limit=1000) == contacts
    assert first.contacts == len(contacts) > 30
    codes = {s.code: s for s in crm.list_staff()}
    assert {"RM001", "RM002", "RM003", "SUP01", "SUP02", "TRN01", "ADM01"} <= set(codes)
    assert (codes["RM001"].name, codes["SUP01"].name, codes["TRN01"].name) == ("王敏", "陈静", "赵琳")

    clients = crm.follow_ups(actor="ADM01", today=TODAY, horizon_days=366)
    assert len(clients) == 30
    assert all(f.client.tier is tier_for_aum(f.client.aum) for f in clients)
    assert {f.client.name for f in clients} >= {"张伟", "章伟"}
    assert any(f.overdue for f in clients) and any(f.reason == "尚无联系记录" for f in clients)
    assert crm.upcoming_birthdays(actor="ADM01", days=7, today=TODAY)
    assert {c.client_id for c in crm.search_clients(actor="RM001", query="zhangwei")} == {"C0001", "C0002"}
    assert crm.search_clients(actor="TRN01", query="zhangwei") == []


def test_seed_demo_is_deterministic(tmp_path: object) -> None:
    results = []
    for n in range(2):
        crm = SqlCRM(f"sqlite:///{tmp_path}/demo{n}.db")
        seed_demo(crm, clients=20, today=TODAY)
        results.append(
            [
                (c.client_id, c.name, c.aum, c.birthday)
                for c in crm.search_clients(actor="ADM01", query="C0", limit=20)
            ]
        )
        crm.close()
    assert results[0] == results[1]
