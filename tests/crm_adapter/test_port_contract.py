"""The `CRMAdapter` port's documented guarantees, checked against every implementation we ship or test
with: `SqlCRM` on SQLite and on PostgreSQL, and the bot tests' `FakeCRM` (so the fake cannot drift).

Only what the Protocol promises and a fake can honour: scopes per role, `UnknownStaff` for unknown and
removed actors, idempotent `create_contact`, masked contact summaries, the error classes, staff removal.
Ranking, access-log rows and date arithmetic are the real adapter's own tests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crm_adapter.errors import AccessDenied, CRMError, InvalidInput, NotFound, UnknownStaff
from crm_adapter.models import BenefitUse, Channel, ContactRecord, NewBenefitUse, NewContact, Role, Staff
from crm_adapter.port import CRMAdapter
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import ADMIN, TODAY, at, make_client, make_contact, make_staff, seed_org
from tests.fakes.crm import FakeCRM

ALL = {"C0001", "C0002", "C0003", "C0004"}
#: seed_org: C0001/C0002 → RM001, C0003 → RM002 (team A), C0004 → RM003 (team B).
VISIBLE: dict[str, set[str]] = {
    "RM001": {"C0001", "C0002"},
    "RM002": {"C0003"},
    "RM003": {"C0004"},
    "SUP01": {"C0001", "C0002", "C0003"},
    "SUP02": {"C0004"},
    "TRN01": set(),
    "ADM01": ALL,
}
#: RMs write on their own clients, the admin on any; supervisors and trainers never.
WRITERS: dict[str, set[str]] = {
    **{actor: set() for actor in VISIBLE},
    "RM001": {"C0001", "C0002"},
    "RM002": {"C0003"},
    "RM003": {"C0004"},
    "ADM01": ALL,
}
OWNER = {"C0001": "RM001", "C0002": "RM001", "C0003": "RM002", "C0004": "RM003"}
NAMES = {"C0001": "张伟", "C0002": "章伟", "C0003": "李娜", "C0004": "王芳"}
YESTERDAY = TODAY - timedelta(days=1)
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(params=["sqlite", "postgres", "fake"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CRMAdapter]:
    """An adapter holding the standard organisation of `factories.seed_org`."""
    adapter: CRMAdapter
    if request.param == "fake":
        adapter = FakeCRM(staff=(), clients=(), timezone="Asia/Shanghai")
    elif request.param == "sqlite":
        adapter = SqlCRM(f"sqlite:///{tmp_path / 'crm.db'}", timezone="Asia/Shanghai")
    else:
        adapter = SqlCRM(str(request.getfixturevalue("postgres_url")), timezone="Asia/Shanghai")
    try:
        seed_org(adapter)
        yield adapter
    finally:
        adapter.close()


def _contact(client_id: str, *, summary: str = "电话回访", key: str | None = None) -> NewContact:
    return NewContact(client_id=client_id, channel=Channel.PHONE, summary=summary, idempotency_key=key)


def _seed_contacts(crm: CRMAdapter) -> None:
    for client_id, owner in OWNER.items():
        make_contact(crm, actor=owner, client_id=client_id, key=f"seed-{client_id}")


def test_is_the_port(crm: CRMAdapter) -> None:
    assert isinstance(crm, CRMAdapter)


def test_single_client_reads_follow_the_scope(crm: CRMAdapter) -> None:
    reads: list[Callable[[str, str], Any]] = [
        lambda actor, cid: crm.get_client(actor=actor, client_id=cid),
        lambda actor, cid: crm.client_card(actor=actor, client_id=cid, today=TODAY),
        lambda actor, cid: crm.list_contacts(actor=actor, client_id=cid),
    ]
    for actor, visible in VISIBLE.items():
        for client_id in sorted(ALL):
            for read in reads:
                if client_id in visible:
                    read(actor, client_id)
                else:
                    with pytest.raises(AccessDenied):
                        read(actor, client_id)
    assert crm.get_client(actor="SUP01", client_id="c0003").client_id == "C0003"  # ids are normalised


def test_collections_are_filtered_never_denied(crm: CRMAdapter) -> None:
    _seed_contacts(crm)
    for actor, visible in VISIBLE.items():
        found = {c.client_id for name in NAMES.values() for c in crm.search_clients(actor=actor, query=name)}
        assert found == visible, actor
        assert {r.client_id for r in crm.list_contacts(actor=actor)} == visible, actor
        follow_ups = crm.follow_ups(actor=actor, today=TODAY, horizon_days=366)
        assert {f.client.client_id for f in follow_ups} <= visible, actor
        birthdays = crm.upcoming_birthdays(actor=actor, days=366, today=TODAY)
        assert {b.client.client_id for b in birthdays} <= visible, actor
        if not visible:  # the trainer: no client data at all, but no error either
            assert follow_ups == [] and birthdays == []


def test_writes_follow_the_write_scope_and_denials_write_nothing(crm: CRMAdapter) -> None:
    for actor, writable in WRITERS.items():
        for client_id in sorted(ALL):
            if client_id in writable:
                assert crm.create_contact(actor=actor, contact=_contact(client_id)).rm_code == actor
            else:
                with pytest.raises(AccessDenied):
                    crm.create_contact(actor=actor, contact=_contact(client_id))
    written = {(r.rm_code, r.client_id) for r in crm.list_contacts(actor=ADMIN)}
    assert written == {(actor, cid) for actor, cids in WRITERS.items() for cid in cids}


def test_explicit_rm_target_outside_the_scope_is_denied(crm: CRMAdapter) -> None:
    _seed_contacts(crm)
    for actor in VISIBLE:
        if actor in ("RM001", "SUP01", "ADM01"):
            assert {r.client_id for r in crm.list_contacts(actor=actor, rm_code="RM001")} == {
                "C0001",
                "C0002",
            }
        else:
            with pytest.raises(AccessDenied):
                crm.list_contacts(actor=actor, rm_code="RM001")


def test_team_members_and_import_rights(crm: CRMAdapter) -> None:
    teams = {
        actor: [s.code for s in crm.team_members(actor=actor)]
        for actor in ("RM001", "SUP01", "SUP02", "TRN01", "ADM01")
    }
    assert teams == {
        "RM001": ["RM001"],
        "SUP01": ["RM001", "RM002"],
        "SUP02": ["RM003"],
        "TRN01": [],
        "ADM01": ["RM001", "RM002", "RM003"],
    }
    row = {
        "name": "新客户",
        "birthday": "",
        "phone": "",
        "aum": "100",
        "risk_level": "C1",
        "rm_code": "RM001",
    }
    for actor in ("RM001", "SUP01", "TRN01"):
        with pytest.raises(AccessDenied):
            crm.import_clients(actor=actor, rows=[row])
    assert crm.import_clients(actor=ADMIN, rows=[row]).created == 1


def test_unknown_malformed_and_removed_actors_are_unknown_staff(crm: CRMAdapter) -> None:
    make_staff(crm, "RM009", team="A")
    crm.search_clients(actor="RM009", query="张伟")  # registered: fine
    crm.remove_staff(code="RM009")
    calls: list[Callable[[str], Any]] = [
        lambda actor: crm.get_client(actor=actor, client_id="C0001"),
        lambda actor: crm.search_clients(actor=actor, query="张伟"),
        lambda actor: crm.client_card(actor=actor, client_id="C0001"),
        lambda actor: crm.create_contact(actor=actor, contact=_contact("C0001")),
        lambda actor: crm.list_contacts(actor=actor),
        lambda actor: crm.follow_ups(actor=actor),
        lambda actor: crm.upcoming_birthdays(actor=actor),
        lambda actor: crm.team_members(actor=actor),
        lambda actor: crm.import_clients(actor=actor, rows=[]),
    ]
    for actor in ("NOPE", "RM009", "", "'; DROP TABLE crm_clients; --"):
        for call in calls:
            with pytest.raises(UnknownStaff):
                call(actor)


def test_create_contact_is_idempotent(crm: CRMAdapter) -> None:
    first = make_contact(crm, actor="RM001", client_id="C0001", key="update-42")
    again = make_contact(crm, actor="RM001", client_id="C0001", key="update-42")
    assert not first.duplicate and again.duplicate  # the caller can tell a redelivery
    assert again.model_copy(update={"duplicate": False}) == first
    results: list[ContactRecord] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:  # the same Telegram update delivered four times at once
        barrier.wait()
        results.append(make_contact(crm, actor="RM002", client_id="C0003", key="update-43"))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.id for r in results}) == 1 and len(results) == 4
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert [r.idempotency_key for r in crm.list_contacts(actor=ADMIN)] == ["update-43", "update-42"]
    with pytest.raises(InvalidInput):  # the key names a record of another client
        make_contact(crm, actor="RM002", client_id="C0003", key="update-42")
    with pytest.raises(AccessDenied):  # the scope is checked before the key can reveal anything
        make_contact(crm, actor="RM002", client_id="C0001", key="update-42")


def test_the_same_contact_on_the_same_day_is_one_record(crm: CRMAdapter) -> None:
    """Logical idempotency: same RM, client, channel, summary (masked, whitespace collapsed) and
    follow-up on one local day (the adapter's time zone) is one record, whatever the keys."""
    day = TODAY - timedelta(days=1)
    first = make_contact(
        crm, summary="客户手机13812345678，关注 海外配置", key="tg:1:10", occurred_at=at(day)
    )
    resends = [
        make_contact(
            crm, summary="客户手机13812345678，关注 海外配置", key="tg:1:11", occurred_at=at(day, 12)
        ),
        make_contact(crm, summary=" 客户手机138****5678，关注\u3000 海外配置 ", occurred_at=at(day, 2)),
    ]
    assert not first.duplicate and all(r.duplicate for r in resends)
    for resent in resends:  # the earlier record itself: its id, time and key, not the resend's
        assert resent.model_copy(update={"duplicate": False}) == first
    assert [r.id for r in crm.list_contacts(actor=ADMIN)] == [first.id]


def test_another_day_or_other_content_is_another_record(crm: CRMAdapter) -> None:
    day = TODAY - timedelta(days=1)
    base = make_contact(crm, summary="电话回访", occurred_at=at(day))
    others = [
        make_contact(crm, summary="电话回访", occurred_at=at(day - timedelta(days=1))),  # another day
        make_contact(crm, summary="电话回访：客户同意面谈", occurred_at=at(day)),  # another summary
        make_contact(crm, summary="电话回访", occurred_at=at(day), channel=Channel.WECHAT),
        make_contact(crm, summary="电话回访", occurred_at=at(day), next_follow_up=TODAY),
        make_contact(crm, summary="电话回访", occurred_at=at(day), client_id="C0002"),
        make_contact(crm, actor=ADMIN, summary="电话回访", occurred_at=at(day)),  # another author
    ]
    assert not any(r.duplicate for r in others)
    assert len({base.id, *(r.id for r in others)}) == 7 == len(crm.list_contacts(actor=ADMIN))


def test_the_day_is_the_local_day_of_the_adapter_time_zone(crm: CRMAdapter) -> None:
    # Asia/Shanghai is UTC+8: 15:30 UTC is 23:30 on the 13th, 16:30 UTC is 00:30 on the 14th.
    late = make_contact(crm, occurred_at=datetime(2026, 6, 13, 15, 30, tzinfo=UTC))
    after_midnight = make_contact(crm, occurred_at=datetime(2026, 6, 13, 16, 30, tzinfo=UTC))
    next_evening = make_contact(crm, occurred_at=datetime(2026, 6, 14, 12, 0, tzinfo=UTC))
    assert late.id != after_midnight.id and not after_midnight.duplicate
    assert next_evening.duplicate and next_evening.id == after_midnight.id
    assert len(crm.list_contacts(actor=ADMIN)) == 2


def test_concurrent_writers_of_the_same_contact_store_one_record(crm: CRMAdapter) -> None:
    results: list[ContactRecord] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def resend(n: int) -> None:  # six different updates (keys) carrying the same contact at once
        barrier.wait()
        try:
            results.append(make_contact(crm, actor="RM002", client_id="C0003", key=f"race-{n}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=resend, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 6
    assert len({r.id for r in results}) == 1
    assert sorted(r.duplicate for r in results) == [False] + [True] * 5
    assert len(crm.list_contacts(actor=ADMIN)) == 1


def test_contact_summaries_are_stored_masked_and_stay_idempotent(crm: CRMAdapter) -> None:
    raw = "客户手机13812345678，身份证110101-19900307-4518，卡号6222 0212 3456 7890 123，约5000万到期"
    masked = "客户手机138****5678，身份证110101********4518，卡号6222***********0123，约5000万到期"
    record = crm.create_contact(actor="RM001", contact=_contact("C0001", summary=raw, key="masked-1"))
    assert record.summary == masked  # the caller compares with what it sent to tell the RM
    resent = crm.create_contact(actor="RM001", contact=_contact("C0001", summary=raw, key="masked-1"))
    assert resent.id == record.id and resent.summary == masked
    [stored] = crm.list_contacts(actor="RM001", client_id="C0001")
    assert stored.summary == masked
    card = crm.client_card(actor="RM001", client_id="C0001", today=TODAY)
    assert card.last_contact is None or card.last_contact.summary == masked
    plain = crm.create_contact(actor="RM001", contact=_contact("C0002", summary="电话沟通理财到期事宜"))
    assert plain.summary == "电话沟通理财到期事宜"


def test_errors_are_crm_errors_with_a_chinese_message(crm: CRMAdapter) -> None:
    calls: list[tuple[type[CRMError], Callable[[], Any]]] = [
        (NotFound, lambda: crm.get_client(actor=ADMIN, client_id="C9999")),
        (NotFound, lambda: crm.create_contact(actor="RM001", contact=_contact("C9999"))),
        (NotFound, lambda: crm.get_staff(code="NOPE")),
        (NotFound, lambda: crm.remove_staff(code="NOPE")),
        (InvalidInput, lambda: crm.create_contact(actor="RM001", contact=_contact("C0001", summary="  "))),
        (InvalidInput, lambda: crm.search_clients(actor="RM001", query="   ")),
        (InvalidInput, lambda: crm.search_clients(actor="RM001", query="张伟", limit=0)),
        (
            InvalidInput,
            lambda: crm.list_contacts(actor="RM001", since=TODAY, until=TODAY - timedelta(days=1)),
        ),
        (InvalidInput, lambda: crm.add_staff(staff=Staff(code="SUP09", name="陈静", role=Role.SUPERVISOR))),
        (InvalidInput, lambda: make_staff(crm, "RM008", telegram_id=1001)),  # RM001's Telegram id
        (AccessDenied, lambda: crm.get_client(actor="TRN01", client_id="C0001")),
        (UnknownStaff, lambda: crm.list_contacts(actor="NOPE")),
    ]
    for error, call in calls:
        with pytest.raises(CRMError) as excinfo:
            call()
        assert type(excinfo.value) is error, (error, excinfo.value)
        assert _CJK.search(str(excinfo.value)), excinfo.value


def test_staff_removal_deactivates_and_refuses_owners(crm: CRMAdapter) -> None:
    record = make_contact(crm, actor="RM001", client_id="C0001", key="by-rm001")
    with pytest.raises(InvalidInput, match="2 位客户"):  # RM001 still owns C0001 and C0002
        crm.remove_staff(code="RM001")
    assert crm.get_staff(code="RM001").telegram_id == 1001  # refused: nothing changed
    for client_id in ("C0001", "C0002"):  # the admin transfers the clients, then removal succeeds
        make_client(crm, client_id=client_id, name=NAMES[client_id], rm_code="RM002")
    crm.remove_staff(code="rm001")
    with pytest.raises(NotFound):
        crm.get_staff(code="RM001")
    with pytest.raises(NotFound):
        crm.remove_staff(code="RM001")
    assert "RM001" not in {s.code for s in crm.list_staff()}
    assert crm.get_staff_by_telegram_id(telegram_id=1001) is None
    with pytest.raises(UnknownStaff):
        crm.list_contacts(actor="RM001")
    # Soft delete: the contact record keeps its author.
    kept = [r for r in crm.list_contacts(actor=ADMIN) if r.id == record.id]
    assert [r.rm_code for r in kept] == ["RM001"]
    make_staff(crm, "RM007", telegram_id=1001)  # the Telegram id is free again
    make_staff(crm, "RM001", name="王敏", team="A")  # re-adding reactivates
    assert crm.get_staff(code="RM001").name == "王敏"
    assert crm.list_contacts(actor="RM001") == []  # its former clients now belong to RM002


def test_return_values_are_frozen_models_with_aware_datetimes(crm: CRMAdapter) -> None:
    record = make_contact(crm, actor="RM001", client_id="C0001")
    assert isinstance(record, ContactRecord)
    assert record.occurred_at.tzinfo is not None and record.created_at.tzinfo is not None
    [listed] = crm.list_contacts(actor="RM001")
    assert listed.occurred_at.tzinfo is not None and listed.id == record.id
    with pytest.raises(Exception, match="frozen"):
        record.summary = "改"


def test_client_names_lists_every_client_for_redaction(crm: CRMAdapter) -> None:
    """System level: every client's name whoever owns it (trainers' texts are redacted with them)."""
    assert crm.client_names() == frozenset(NAMES.values())
    make_client(crm, client_id="C0005", name="欧阳明", rm_code="RM003")
    assert "欧阳明" in crm.client_names()


# --- product catalogue and KYC reviews (issue #12) ------------------------------------------------
PRODUCT_ROWS: list[dict[str, str | None]] = [
    {"code": "sm0001", "name": "鑫享1号私募证券投资基金", "type": "私募基金", "risk_level": "R5"},
    {"code": "GS0090", "name": "稳享固收90天持有期理财", "type": "固收理财", "risk_level": "中低风险"},
    {"code": "XJ0001", "name": "天天利现金管理1号", "type": "现金管理", "risk_level": "r1", "status": "停售"},
]


def test_product_import_is_admin_only_validated_and_upserts_by_code(crm: CRMAdapter) -> None:
    for actor in ("RM001", "SUP01", "TRN01"):
        with pytest.raises(AccessDenied):
            crm.import_products(actor=actor, rows=PRODUCT_ROWS)
    assert crm.list_products() == []  # a denied import writes nothing
    bad = [
        {"code": "", "name": "无代码", "type": "基金", "risk_level": "R2"},
        {"code": "BAD1", "name": "风险等级错", "type": "基金", "risk_level": "R6"},
        {"code": "GS0090", "name": "重复代码", "type": "基金", "risk_level": "R2"},
    ]
    report = crm.import_products(actor=ADMIN, rows=[*PRODUCT_ROWS, *bad])
    assert (report.created, report.updated) == (3, 0)
    assert [line for line, _ in report.errors] == [5, 6, 7]
    assert all(_CJK.search(reason) and "\n" not in reason for _, reason in report.errors)
    assert "R1–R5" in report.errors[1][1] and "第 3 行" in report.errors[2][1]
    again = crm.import_products(actor=ADMIN, rows=[{**PRODUCT_ROWS[0], "name": "鑫享1号私募基金"}])
    assert (again.created, again.updated, again.errors) == (0, 1, ())
    listed = crm.list_products()
    assert [(p.code, p.risk_level) for p in listed] == [("XJ0001", "R1"), ("GS0090", "R2"), ("SM0001", "R5")]
    assert listed[2].name == "鑫享1号私募基金" and listed[2].status == "在售" and listed[0].status == "停售"
    assert [p.code for p in crm.list_products(status="停售")] == ["XJ0001"]


def test_products_are_found_by_code_name_pinyin_and_initials(crm: CRMAdapter) -> None:
    crm.import_products(actor=ADMIN, rows=PRODUCT_ROWS)

    def codes(query: str) -> list[str]:
        return [p.code for p in crm.search_products(query=query)]

    assert codes("SM0001") == ["SM0001"] and codes("sm00") == ["SM0001"]
    assert codes("私募") == ["SM0001"] and codes("xinxiang") == ["SM0001"] and codes("xx1h") == ["SM0001"]
    assert codes("simu") == ["SM0001"]  # a pinyin substring
    assert codes("1号") == ["SM0001", "XJ0001"]
    assert codes("火星") == []
    with pytest.raises(InvalidInput):
        crm.search_products(query="  ")


def test_kyc_reviews_due_follow_the_scope(crm: CRMAdapter) -> None:
    due = {"C0001": TODAY - timedelta(days=3), "C0002": TODAY + timedelta(days=30), "C0003": TODAY}
    for cid, day in due.items():
        make_client(crm, client_id=cid, name=NAMES[cid], rm_code=OWNER[cid], kyc_review_due=day.isoformat())
    make_client(crm, client_id="C0004", name="王芳", rm_code="RM003", kyc_review_due="2026-08-01")
    for actor, visible in VISIBLE.items():
        found = crm.kyc_reviews_due(actor=actor, today=TODAY, horizon_days=30)
        assert {k.client.client_id for k in found} == visible & set(due), actor
    [late, today_, soon] = crm.kyc_reviews_due(actor="ADM01", today=TODAY)
    assert (late.client.client_id, late.overdue, late.days) == ("C0001", True, -3)
    assert (today_.days, today_.overdue) == (0, False) and soon.days == 30
    assert [k.client.client_id for k in crm.kyc_reviews_due(actor="ADM01", today=TODAY, horizon_days=0)] == [
        "C0001",
        "C0003",
    ]
    with pytest.raises(UnknownStaff):
        crm.kyc_reviews_due(actor="NOBODY", today=TODAY)


def test_risk_assessments_due_follow_the_scope(crm: CRMAdapter) -> None:
    assessed = {"C0001": "", "C0002": "2025-06-10", "C0003": "2025-07-15", "C0004": "2025-07-16"}
    for cid, day in assessed.items():
        make_client(crm, client_id=cid, name=NAMES[cid], rm_code=OWNER[cid], risk_assessed_on=day)
    due = {"C0001", "C0002", "C0003"}  # never, expired 5 days ago, expires in 30 days; C0004 in 31
    for actor, visible in VISIBLE.items():
        found = crm.risk_assessments_due(actor=actor, today=TODAY, horizon_days=30, validity_months=12)
        assert {a.client.client_id for a in found} == visible & due, actor
    [never, expired, soon] = crm.risk_assessments_due(actor="ADM01", today=TODAY, validity_months=12)
    assert (never.client.client_id, never.expires, never.days) == ("C0001", None, None)
    assert (expired.client.client_id, expired.expires, expired.days) == ("C0002", date(2026, 6, 10), -5)
    assert (soon.client.client_id, soon.days) == ("C0003", 30)
    strict = crm.risk_assessments_due(actor="ADM01", today=TODAY, horizon_days=0, validity_months=12)
    assert [a.client.client_id for a in strict] == ["C0001", "C0002"]
    longer = crm.risk_assessments_due(actor="ADM01", today=TODAY, horizon_days=0, validity_months=13)
    assert [a.client.client_id for a in longer] == ["C0001"]
    with pytest.raises(InvalidInput):
        crm.risk_assessments_due(actor="ADM01", today=TODAY, validity_months=0)
    with pytest.raises(UnknownStaff):
        crm.risk_assessments_due(actor="NOBODY", today=TODAY, validity_months=12)


def test_risk_assessment_date_is_imported_and_returned(crm: CRMAdapter) -> None:
    client = make_client(crm, client_id="C0001", name="张伟", risk_assessed_on="2026-01-05")
    assert client.risk_assessed_on is not None and client.risk_assessed_on.isoformat() == "2026-01-05"
    assert (
        crm.client_card(actor="RM001", client_id="C0001").client.risk_assessed_on == client.risk_assessed_on
    )
    kept = make_client(crm, client_id="C0001", name="张伟")  # a file without the column leaves it
    assert kept.risk_assessed_on == client.risk_assessed_on
    cleared = make_client(crm, client_id="C0001", name="张伟", risk_assessed_on="")
    assert cleared.risk_assessed_on is None


# --- benefit ledger (issue #21) -------------------------------------------------------------------
def _use(
    client_id: str, *, day: date = date(2025, 3, 1), key: str | None = None, note: str = ""
) -> NewBenefitUse:
    return NewBenefitUse(
        client_id=client_id, benefit="专家挂号预约", used_on=day, note=note, idempotency_key=key
    )


def test_benefit_uses_follow_the_write_and_read_scopes(crm: CRMAdapter) -> None:
    for actor, writable in WRITERS.items():
        for client_id in sorted(ALL):
            use = _use(client_id, note=f"by {actor}")
            if client_id in writable:
                assert crm.record_benefit_use(actor=actor, use=use).recorded_by == actor
            else:
                with pytest.raises(AccessDenied):
                    crm.record_benefit_use(actor=actor, use=use)
    year = (date(2025, 1, 1), date(2025, 12, 31))
    for actor, visible in VISIBLE.items():
        for client_id in sorted(ALL):
            if client_id in visible:
                uses = crm.benefit_uses(actor=actor, client_id=client_id)
                assert {u.recorded_by for u in uses} == {OWNER[client_id], ADMIN}
                [tally] = crm.benefit_tallies(actor=actor, client_id=client_id, since=year[0], until=year[1])
                assert (tally.benefit, tally.used, tally.last_used_on) == (
                    "专家挂号预约",
                    2,
                    date(2025, 3, 1),
                )
            else:
                with pytest.raises(AccessDenied):
                    crm.benefit_uses(actor=actor, client_id=client_id)
                with pytest.raises(AccessDenied):
                    crm.benefit_tallies(actor=actor, client_id=client_id, since=year[0], until=year[1])


def test_a_benefit_use_is_recorded_once(crm: CRMAdapter) -> None:
    first = crm.record_benefit_use(actor="RM001", use=_use("C0001", key="telegram:1:77"))
    again = crm.record_benefit_use(actor="RM001", use=_use("C0001", key="telegram:1:77"))  # redelivered
    resent = crm.record_benefit_use(actor="RM001", use=_use("C0001", key="telegram:1:78"))  # sent again
    assert not first.duplicate and again.duplicate and resent.duplicate
    assert again.id == resent.id == first.id
    with pytest.raises(InvalidInput):  # a key used for another client's use
        crm.record_benefit_use(actor="RM001", use=_use("C0002", key="telegram:1:77"))
    other_day = crm.record_benefit_use(actor="RM001", use=_use("C0001", day=date(2025, 3, 2)))
    assert not other_day.duplicate
    results: list[BenefitUse] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        results.append(crm.record_benefit_use(actor="RM002", use=_use("C0003", key="telegram:2:9")))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.id for r in results}) == 1 and sum(not r.duplicate for r in results) == 1
    assert len(crm.benefit_uses(actor=ADMIN, client_id="C0001")) == 2
    assert len(crm.benefit_uses(actor=ADMIN, client_id="C0003")) == 1


def test_on_insert_runs_for_a_new_benefit_use_only_and_its_failure_stores_nothing(crm: CRMAdapter) -> None:
    seen: list[BenefitUse] = []
    first = crm.record_benefit_use(
        actor="RM001", use=_use("C0001", key="k-1"), on_insert=lambda _tx, u: seen.append(u)
    )
    again = crm.record_benefit_use(  # a duplicate: no second run
        actor="RM001", use=_use("C0001", key="k-2"), on_insert=lambda _tx, u: seen.append(u)
    )
    assert seen == [first] and again.duplicate and again.id == first.id

    def refuse(_tx: Any, _use: BenefitUse) -> None:
        raise RuntimeError("audit append failed")

    with pytest.raises(RuntimeError, match="audit append failed"):
        crm.record_benefit_use(actor="RM001", use=_use("C0002", key="k-3"), on_insert=refuse)
    assert crm.benefit_uses(actor=ADMIN, client_id="C0002") == []
    stored = crm.record_benefit_use(actor="RM001", use=_use("C0002", key="k-3"))  # the retry is new
    assert not stored.duplicate and crm.benefit_uses(actor=ADMIN, client_id="C0002") == [stored]


def test_benefit_use_input_is_validated(crm: CRMAdapter) -> None:
    contact = make_contact(crm, actor="RM001", client_id="C0001", key="c-1")
    linked = crm.record_benefit_use(
        actor="RM001", use=_use("C0001", note="陪同", key="k-1").model_copy(update={"contact_id": contact.id})
    )
    assert linked.contact_id == contact.id
    bad = [
        _use("C0002").model_copy(update={"contact_id": contact.id}),  # another client's record
        _use("C0001").model_copy(update={"benefit": " "}),
        _use("C0001", day=date(2999, 1, 1)),
        _use("C0001").model_copy(update={"source": "fax"}),
    ]
    for use in bad:
        with pytest.raises(InvalidInput):
            crm.record_benefit_use(actor="RM001", use=use)
    with pytest.raises(NotFound):
        crm.record_benefit_use(actor=ADMIN, use=_use("C9999"))
    with pytest.raises(UnknownStaff):
        crm.record_benefit_use(actor="NOPE", use=_use("C0001"))


def test_import_of_past_benefit_uses(crm: CRMAdapter) -> None:
    rows: list[dict[str, str | None]] = [
        {"client_id": "C0001", "benefit": "专家挂号预约", "used_on": "2025-02-01", "note": ""},
        {"client_id": "C0001", "benefit": "专家挂号预约", "used_on": "2025-02-01", "note": ""},  # same use
        {"client_id": "C9999", "benefit": "专家挂号预约", "used_on": "2025-02-01"},
        {"client_id": "C0003", "benefit": "全程导医", "used_on": "昨天"},
        {"client_id": "C0003", "benefit": "", "used_on": "2025-02-01"},
        {"client_id": "C0003", "benefit": "全程导医", "used_on": "2025/02/03"},
    ]
    for actor in ("RM001", "SUP01", "TRN01"):
        with pytest.raises(AccessDenied):
            crm.import_benefit_uses(actor=actor, rows=rows)
    report = crm.import_benefit_uses(actor=ADMIN, rows=rows)
    assert (report.created, report.duplicates) == (2, 1)
    assert [line for line, _ in report.errors] == [4, 5, 6]
    again = crm.import_benefit_uses(actor=ADMIN, rows=rows)
    assert (again.created, again.duplicates) == (0, 3)
    assert [u.used_on for u in crm.benefit_uses(actor="SUP01", client_id="C0003")] == [date(2025, 2, 3)]


def test_on_insert_runs_for_each_imported_use_and_its_failure_imports_nothing(crm: CRMAdapter) -> None:
    rows: list[dict[str, str | None]] = [
        {"client_id": "C0001", "benefit": "专家挂号预约", "used_on": "2025-02-01"},
        {"client_id": "C0001", "benefit": "专家挂号预约", "used_on": "2025-02-01"},  # same use
        {"client_id": "C0003", "benefit": "全程导医", "used_on": "2025-02-03"},
    ]

    def refuse(_tx: Any, use: BenefitUse) -> None:
        if use.client_id == "C0003":
            raise RuntimeError("audit append failed")

    with pytest.raises(RuntimeError, match="audit append failed"):
        crm.import_benefit_uses(actor=ADMIN, rows=rows, on_insert=refuse)
    assert crm.benefit_uses(actor=ADMIN, client_id="C0001") == []
    seen: list[BenefitUse] = []
    report = crm.import_benefit_uses(actor=ADMIN, rows=rows, on_insert=lambda _tx, u: seen.append(u))
    assert (report.created, report.duplicates) == (2, 1)
    stored = [
        *crm.benefit_uses(actor=ADMIN, client_id="C0001"),
        *crm.benefit_uses(actor=ADMIN, client_id="C0003"),
    ]
    assert sorted(seen, key=lambda u: u.id) == sorted(stored, key=lambda u: u.id)
    assert crm.import_benefit_uses(actor=ADMIN, rows=rows, on_insert=refuse).created == 0  # no new use


def test_client_brief_follows_the_read_scope(crm: CRMAdapter) -> None:
    _seed_contacts(crm)
    crm.record_benefit_use(actor="RM001", use=_use("C0001"))
    year = (date(2025, 1, 1), date(2025, 12, 31))
    for actor, visible in VISIBLE.items():
        for client_id in sorted(ALL):
            if client_id in visible:
                brief = crm.client_brief(actor=actor, client_id=client_id, since=year[0], until=year[1])
                assert brief.card.client.client_id == client_id and len(brief.contacts) == 1
                assert [t.used for t in brief.tallies] == ([1] if client_id == "C0001" else [])
            else:
                with pytest.raises(AccessDenied):
                    crm.client_brief(actor=actor, client_id=client_id, since=year[0], until=year[1])
