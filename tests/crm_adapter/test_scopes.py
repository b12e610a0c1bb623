"""Every public client-data method × every role: the scope rules cannot be bypassed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm_adapter.errors import AccessDenied, InvalidInput, UnknownStaff
from crm_adapter.models import Channel, NewContact, Role
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import TODAY, make_contact, make_staff

ALL = {"C0001", "C0002", "C0003", "C0004"}
#: Which clients each actor may read (C0001/C0002 → RM001, C0003 → RM002 (team A), C0004 → RM003 (team B)).
VISIBLE: dict[str, set[str]] = {
    "RM001": {"C0001", "C0002"},
    "RM002": {"C0003"},
    "RM003": {"C0004"},
    "SUP01": {"C0001", "C0002", "C0003"},
    "SUP02": {"C0004"},
    "TRN01": set(),
    "ADM01": ALL,
}
#: Who may log a contact on a client: its own RM and the admin; never supervisors or trainers.
WRITERS: dict[str, set[str]] = {**{k: set() for k in VISIBLE}, "RM001": {"C0001", "C0002"}}
WRITERS.update(RM002={"C0003"}, RM003={"C0004"}, ADM01=ALL)
ACTORS = sorted(VISIBLE)


def _with_contacts(crm: SqlCRM) -> SqlCRM:
    for client_id, owner in (("C0001", "RM001"), ("C0002", "RM001"), ("C0003", "RM002"), ("C0004", "RM003")):
        make_contact(crm, actor=owner, client_id=client_id, key=f"seed-{client_id}")
    return crm


@pytest.mark.parametrize("actor", ACTORS)
def test_single_client_reads_follow_scope(org: SqlCRM, actor: str) -> None:
    reads: list[tuple[str, Callable[[str], Any]]] = [
        (client_id, read)
        for client_id in sorted(ALL)
        for read in (
            lambda cid: org.get_client(actor=actor, client_id=cid),
            lambda cid: org.client_card(actor=actor, client_id=cid, today=TODAY),
            lambda cid: org.list_contacts(actor=actor, client_id=cid),
        )
    ]
    for client_id, read in reads:
        if client_id in VISIBLE[actor]:
            read(client_id)
        else:
            with pytest.raises(AccessDenied) as excinfo:
                read(client_id)
            assert "无权" in str(excinfo.value) or "培训师" in str(excinfo.value)


@pytest.mark.parametrize("actor", ACTORS)
def test_create_contact_follows_write_scope(org: SqlCRM, actor: str) -> None:
    for client_id in sorted(ALL):
        contact = NewContact(client_id=client_id, channel=Channel.PHONE, summary="电话回访")
        if client_id in WRITERS[actor]:
            record = org.create_contact(actor=actor, contact=contact)
            assert record.rm_code == actor
        else:
            with pytest.raises(AccessDenied):
                org.create_contact(actor=actor, contact=contact)
    # Nothing was written by a denied call.
    contacts = org.list_contacts(actor="ADM01")
    assert {c.client_id for c in contacts if c.rm_code == actor} == WRITERS[actor]


@pytest.mark.parametrize("actor", ACTORS)
def test_collections_are_filtered_not_denied(org: SqlCRM, actor: str) -> None:
    _with_contacts(org)
    visible = VISIBLE[actor]
    found = {
        c.client_id
        for q in ("伟", "李娜", "王芳", "zw", "C000")
        for c in org.search_clients(actor=actor, query=q)
    }
    assert found == visible
    assert {f.client.client_id for f in org.follow_ups(actor=actor, today=TODAY, horizon_days=366)} == visible
    birthdays = org.upcoming_birthdays(actor=actor, days=366, today=TODAY)
    assert {b.client.client_id for b in birthdays} == visible
    assert {c.client_id for c in org.list_contacts(actor=actor)} == visible


@pytest.mark.parametrize("actor", ACTORS)
def test_rm_filter_of_list_contacts(org: SqlCRM, actor: str) -> None:
    _with_contacts(org)
    allowed = actor in ("RM001", "SUP01", "ADM01")
    if allowed:
        assert {c.client_id for c in org.list_contacts(actor=actor, rm_code="RM001")} == {"C0001", "C0002"}
    else:
        with pytest.raises(AccessDenied):
            org.list_contacts(actor=actor, rm_code="RM001")


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("RM001", ["RM001"]),
        ("RM002", ["RM002"]),
        ("SUP01", ["RM001", "RM002"]),
        ("SUP02", ["RM003"]),
        ("TRN01", []),
        ("ADM01", ["RM001", "RM002", "RM003"]),
    ],
)
def test_team_members(org: SqlCRM, actor: str, expected: list[str]) -> None:
    assert [s.code for s in org.team_members(actor=actor)] == expected


@pytest.mark.parametrize("actor", ACTORS)
def test_only_admins_import(org: SqlCRM, actor: str) -> None:
    row = {
        "name": "新客户",
        "birthday": "",
        "phone": "",
        "aum": "100",
        "risk_level": "C1",
        "rm_code": "RM001",
    }
    if actor == "ADM01":
        assert org.import_clients(actor=actor, rows=[row]).created == 1
    else:
        with pytest.raises(AccessDenied):
            org.import_clients(actor=actor, rows=[row])
        assert not org.search_clients(actor="ADM01", query="新客户")


def test_unknown_actor_is_rejected_everywhere(org: SqlCRM) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: org.get_client(actor="NOPE", client_id="C0001"),
        lambda: org.search_clients(actor="NOPE", query="张伟"),
        lambda: org.client_card(actor="NOPE", client_id="C0001"),
        lambda: make_contact(org, actor="NOPE"),
        lambda: org.list_contacts(actor="NOPE"),
        lambda: org.follow_ups(actor="NOPE"),
        lambda: org.upcoming_birthdays(actor="NOPE"),
        lambda: org.team_members(actor="NOPE"),
        lambda: org.import_clients(actor="NOPE", rows=[]),
        lambda: org.search_clients(actor="'; DROP TABLE crm_clients; --", query="张伟"),
        lambda: org.search_clients(actor="", query="张伟"),
    ]
    for call in calls:
        with pytest.raises(UnknownStaff):
            call()


def test_removed_staff_lose_access_immediately(org: SqlCRM) -> None:
    make_staff(org, "RM009", team="A")
    org.search_clients(actor="RM009", query="张伟")
    org.remove_staff(code="RM009")
    with pytest.raises(UnknownStaff):
        org.search_clients(actor="RM009", query="张伟")


def test_role_change_applies_to_the_next_call(org: SqlCRM) -> None:
    assert org.search_clients(actor="TRN01", query="张伟") == []
    make_staff(org, "TRN01", role=Role.ADMIN, name="赵琳")
    assert [c.client_id for c in org.search_clients(actor="TRN01", query="张伟")] == ["C0001"]


def test_supervisor_sees_new_team_member_clients(org: SqlCRM) -> None:
    assert org.follow_ups(actor="SUP02", today=TODAY, horizon_days=366)[0].client.client_id == "C0004"
    make_staff(org, "RM003", name="刘洋", team="A")  # moved to team A
    visible = {f.client.client_id for f in org.follow_ups(actor="SUP02", today=TODAY, horizon_days=366)}
    assert visible == set()


def test_idempotency_key_cannot_leak_another_clients_record(org: SqlCRM) -> None:
    make_contact(org, actor="RM001", client_id="C0001", key="shared-key", summary="机密内容")
    with pytest.raises(InvalidInput):
        make_contact(org, actor="RM002", client_id="C0003", key="shared-key")
    with pytest.raises(AccessDenied):  # the scope check comes before the key lookup
        make_contact(org, actor="RM002", client_id="C0001", key="shared-key")


def test_denial_message_is_user_facing_chinese(org: SqlCRM) -> None:
    with pytest.raises(AccessDenied, match=r"^无权查看该客户（客户 C0003 不属于您）$"):
        org.get_client(actor="RM001", client_id="C0003")
    with pytest.raises(AccessDenied, match="培训师无权访问客户数据"):
        org.get_client(actor="TRN01", client_id="C0003")
