"""Staff management: upsert, Telegram ids, removal rules, validation."""

from __future__ import annotations

import pytest

from crm_adapter.errors import InvalidInput, NotFound
from crm_adapter.models import Role, Staff
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import make_client, make_staff


def test_add_get_list_upsert(crm: SqlCRM) -> None:
    make_staff(crm, "rm001", name="王敏", telegram_id=42)
    assert crm.get_staff(code="RM001") == Staff(
        code="RM001", name="王敏", role=Role.RM, team="A", telegram_id=42
    )
    assert crm.get_staff_by_telegram_id(telegram_id=42) is not None
    assert crm.get_staff_by_telegram_id(telegram_id=43) is None
    make_staff(crm, "RM001", name="王敏敏", team="B")  # upsert by code
    assert [(s.code, s.name, s.team, s.telegram_id) for s in crm.list_staff()] == [
        ("RM001", "王敏敏", "B", None)
    ]


def test_duplicate_telegram_id(crm: SqlCRM) -> None:
    make_staff(crm, "RM001", telegram_id=42)
    with pytest.raises(InvalidInput, match="RM001"):
        make_staff(crm, "RM002", telegram_id=42)
    assert [s.code for s in crm.list_staff()] == ["RM001"]


@pytest.mark.parametrize(
    "staff",
    [
        Staff(code="", name="王敏", role=Role.RM),
        Staff(code="RM 001", name="王敏", role=Role.RM),
        Staff(code="R" * 33, name="王敏", role=Role.RM),
        Staff(code="RM001", name="", role=Role.RM),
        Staff(code="RM001", name="王敏😀", role=Role.RM),
        Staff(code="RM001", name="王" * 51, role=Role.RM),
        Staff(code="SUP01", name="陈静", role=Role.SUPERVISOR, team=None),
        Staff(code="RM001", name="王敏", role=Role.RM, telegram_id=-5),
    ],
)
def test_invalid_staff(crm: SqlCRM, staff: Staff) -> None:
    with pytest.raises(InvalidInput):
        crm.add_staff(staff=staff)
    assert crm.list_staff() == []


def test_remove_rules(crm: SqlCRM) -> None:
    make_staff(crm, "RM001", telegram_id=42)
    make_staff(crm, "RM002")
    make_client(crm, client_id="C0001", rm_code="RM002")
    with pytest.raises(InvalidInput, match="1 位客户"):
        crm.remove_staff(code="RM002")
    with pytest.raises(InvalidInput, match="客户"):  # an RM with clients cannot silently change role
        make_staff(crm, "RM002", role=Role.TRAINER)
    crm.remove_staff(code="rm001")
    with pytest.raises(NotFound):
        crm.get_staff(code="RM001")
    with pytest.raises(NotFound):
        crm.remove_staff(code="RM001")
    assert crm.get_staff_by_telegram_id(telegram_id=42) is None
    make_staff(crm, "RM003", telegram_id=42)  # the Telegram id is free again
    make_staff(crm, "RM001")  # re-adding reactivates
    assert crm.get_staff(code="RM001").code == "RM001"
