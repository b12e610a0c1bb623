"""Client card, follow-ups by tier cadence, birthdays (Feb 29, year wrap)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm_adapter.errors import InvalidInput
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import TODAY, at, make_client, make_contact


def test_card_without_contacts(org: SqlCRM) -> None:
    card = org.client_card(actor="RM001", client_id="C0001", today=TODAY)
    assert card.client.name == "张伟" and card.client.tier.value == "钻石"
    assert card.last_contact is None and card.days_since_contact is None
    assert card.next_follow_up == TODAY and not card.follow_up_overdue  # never contacted: due now
    assert card.upcoming_birthday == date(2027, 5, 20)  # 1980-05-20, already passed this year
    assert card.days_to_birthday == (date(2027, 5, 20) - TODAY).days


def test_card_with_cadence_and_agreed_date(org: SqlCRM) -> None:
    make_contact(org, client_id="C0001", occurred_at=at(TODAY - timedelta(days=20)))  # 钻石: 14 days
    card = org.client_card(actor="RM001", client_id="C0001", today=TODAY)
    assert card.days_since_contact == 20
    assert card.next_follow_up == TODAY - timedelta(days=6) and card.follow_up_overdue
    make_contact(
        org,
        client_id="C0001",
        occurred_at=at(TODAY - timedelta(days=2)),
        next_follow_up=TODAY + timedelta(days=3),
    )
    card = org.client_card(actor="SUP01", client_id="C0001", today=TODAY)
    assert card.last_contact is not None and card.days_since_contact == 2
    assert card.next_follow_up == TODAY + timedelta(days=3) and not card.follow_up_overdue


def test_follow_ups_reasons_and_order(org: SqlCRM) -> None:
    make_contact(
        org, client_id="C0001", occurred_at=at(TODAY - timedelta(days=20))
    )  # 钻石 14 → overdue 6 days
    make_contact(
        org,
        client_id="C0002",
        occurred_at=at(TODAY - timedelta(days=3)),
        next_follow_up=TODAY + timedelta(days=2),
    )
    due = org.follow_ups(actor="RM001", today=TODAY)
    assert [(f.client.client_id, f.overdue, f.reason) for f in due] == [("C0001", True, "按钻石客户14天节奏")]
    soon = org.follow_ups(actor="RM001", today=TODAY, horizon_days=2)
    assert [(f.client.client_id, f.reason) for f in soon] == [
        ("C0001", "按钻石客户14天节奏"),
        ("C0002", "约定回访"),
    ]
    never = org.follow_ups(actor="RM002", today=TODAY)
    assert [(f.client.client_id, f.due, f.overdue, f.reason) for f in never] == [
        ("C0003", TODAY, False, "尚无联系记录")
    ]


def test_latest_contact_wins_even_if_logged_late(org: SqlCRM) -> None:
    make_contact(org, client_id="C0002", occurred_at=at(TODAY - timedelta(days=1)))  # 白金: 30 days
    make_contact(
        org,
        client_id="C0002",
        occurred_at=at(TODAY - timedelta(days=40)),
        next_follow_up=TODAY - timedelta(days=35),
    )
    assert org.follow_ups(actor="RM001", today=TODAY, horizon_days=28) == [] or all(
        f.client.client_id != "C0002" for f in org.follow_ups(actor="RM001", today=TODAY, horizon_days=28)
    )
    card = org.client_card(actor="RM001", client_id="C0002", today=TODAY)
    assert card.next_follow_up == TODAY + timedelta(days=29)


def test_custom_cadence(db_url: str) -> None:
    from tests.crm_adapter.factories import seed_org

    crm = SqlCRM(db_url, follow_up_cadence={"钻石": 7, "GOLD": 20}, timezone="Asia/Shanghai")
    try:
        seed_org(crm)
        make_contact(crm, client_id="C0001", occurred_at=at(TODAY - timedelta(days=8)))
        [follow_up] = [f for f in crm.follow_ups(actor="RM001", today=TODAY) if f.client.client_id == "C0001"]
        assert follow_up.reason == "按钻石客户7天节奏" and follow_up.overdue
    finally:
        crm.close()


@pytest.mark.parametrize("cadence", [{"钻石": 0}, {"铜牌": 10}, {"钻石": "14"}])
def test_bad_cadence(tmp_path: object, cadence: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        SqlCRM("sqlite://", follow_up_cadence=cadence)  # type: ignore[arg-type]


def test_birthdays_window_wrap_and_feb29(org: SqlCRM) -> None:
    make_client(org, client_id="C0100", name="林一", rm_code="RM001", birthday=date(1990, 1, 2))
    make_client(org, client_id="C0101", name="林二", rm_code="RM001", birthday=date(1988, 2, 29))
    make_client(org, client_id="C0102", name="林三", rm_code="RM001", birthday=date(1975, 12, 30))
    make_client(org, client_id="C0103", name="林四", rm_code="RM001", birthday=None)
    new_year = org.upcoming_birthdays(actor="RM001", days=7, today=date(2026, 12, 28))
    assert [(b.client.client_id, b.birthday, b.days_until) for b in new_year] == [
        ("C0102", date(2026, 12, 30), 2),
        ("C0100", date(2027, 1, 2), 5),
    ]
    common_year = org.upcoming_birthdays(actor="RM001", days=3, today=date(2027, 2, 26))
    assert [(b.client.client_id, b.birthday) for b in common_year] == [("C0101", date(2027, 2, 28))]
    leap_year = org.upcoming_birthdays(actor="RM001", days=3, today=date(2028, 2, 27))
    assert [(b.client.client_id, b.birthday) for b in leap_year] == [("C0101", date(2028, 2, 29))]
    today_only = org.upcoming_birthdays(actor="RM001", days=0, today=date(2026, 12, 30))
    assert [b.client.client_id for b in today_only] == ["C0102"]
    with pytest.raises(InvalidInput):
        org.upcoming_birthdays(actor="RM001", days=-1)
    with pytest.raises(InvalidInput):
        org.follow_ups(actor="RM001", horizon_days=400)


def test_card_last_contact_day_is_the_banks_day(org: SqlCRM) -> None:
    """A contact at 07:00 in Shanghai is 23:00 UTC the day before: the card shows Shanghai's day."""
    make_contact(org, client_id="C0001", occurred_at=at(TODAY - timedelta(days=3), hour=23))
    card = org.client_card(actor="RM001", client_id="C0001", today=TODAY)
    assert card.last_contact is not None and card.last_contact.occurred_at.date() == TODAY - timedelta(days=3)
    assert card.last_contact_day == TODAY - timedelta(days=2) and card.days_since_contact == 2
