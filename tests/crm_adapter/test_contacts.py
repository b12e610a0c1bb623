"""Contact records: creation, idempotency, validation, listing; nothing half-written."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from crm_adapter.errors import AccessDenied, InvalidInput, NotFound
from crm_adapter.models import Channel, NewContact
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import at, make_contact


def test_create_and_read_back(org: SqlCRM) -> None:
    when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    record = org.create_contact(
        actor="RM001",
        contact=NewContact(
            client_id="c0001",
            channel=Channel.MEETING,
            summary="  面谈：讨论家族信托  ",
            occurred_at=when,
            topics=("家族信托", "家族信托", " 税务筹划 "),
            next_follow_up=date(2026, 5, 20),
            source="telegram",
            idempotency_key="tg:1:42",
        ),
    )
    assert record.client_id == "C0001" and record.rm_code == "RM001"
    assert record.summary == "面谈：讨论家族信托"
    assert record.topics == ("家族信托", "税务筹划")
    assert record.occurred_at == when and record.occurred_at.tzinfo is not None
    listed = org.list_contacts(actor="RM001", client_id="C0001")
    assert listed == [record]


def test_idempotent_by_key(org: SqlCRM) -> None:
    first = make_contact(org, key="tg:update:1")
    second = make_contact(org, key="tg:update:1", summary="重复投递")
    assert second.duplicate and second.model_copy(update={"duplicate": False}) == first
    assert len(org.list_contacts(actor="ADM01")) == 1


def test_concurrent_same_key_gives_one_record(org: SqlCRM) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(make_contact(org, key="race-key").id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1
    assert len(org.list_contacts(actor="ADM01")) == 1


@pytest.mark.parametrize(
    "contact",
    [
        NewContact(client_id="C0001", channel=Channel.PHONE, summary=""),
        NewContact(client_id="C0001", channel=Channel.PHONE, summary="   "),
        NewContact(client_id="C0001", channel=Channel.PHONE, summary="长" * 2001),
        NewContact(client_id="C0001", channel=Channel.PHONE, summary="ok", source="fax"),
        NewContact(
            client_id="C0001", channel=Channel.PHONE, summary="ok", topics=tuple(f"t{i}" for i in range(11))
        ),
        NewContact(client_id="C0001", channel=Channel.PHONE, summary="ok", topics=("长" * 31,)),
        NewContact(client_id="C0001", channel=Channel.PHONE, summary="ok", idempotency_key="k" * 129),
        NewContact(
            client_id="C0001",
            channel=Channel.PHONE,
            summary="ok",
            occurred_at=datetime.now(UTC) + timedelta(days=1),
        ),
        NewContact(
            client_id="C0001",
            channel=Channel.PHONE,
            summary="ok",
            occurred_at=datetime(2026, 5, 10, tzinfo=UTC),
            next_follow_up=date(2026, 5, 1),
        ),
        NewContact(client_id="", channel=Channel.PHONE, summary="ok"),
        NewContact(client_id="C'0001", channel=Channel.PHONE, summary="ok"),
        NewContact(client_id="C0001", channel=Channel.PHONE, summary="含控制字符\x00"),
    ],
)
def test_invalid_contacts_write_nothing(org: SqlCRM, contact: NewContact) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        org.create_contact(actor="RM001", contact=contact)
    assert str(excinfo.value)  # a Chinese one-liner
    assert org.list_contacts(actor="ADM01") == []


def test_unknown_client(org: SqlCRM) -> None:
    with pytest.raises(NotFound, match="未找到客户 C9999"):
        make_contact(org, client_id="C9999")
    with pytest.raises(NotFound):
        org.list_contacts(actor="RM001", client_id="C9999")


def test_summary_with_quotes_emoji_and_sql_is_stored_verbatim(org: SqlCRM) -> None:
    text = "客户说：\"别'再'打了\" 😀; DROP TABLE crm_contacts; -- 100% _ok_ \\"
    record = make_contact(org, summary=text)
    assert org.list_contacts(actor="RM001", client_id="C0001")[0].summary == text == record.summary


def test_summary_numbers_are_masked_in_the_stored_row(org: SqlCRM) -> None:
    """Masked at write time: the database row itself never holds the identifiers, and a redelivery of
    the same raw text (same key) returns that one masked record."""
    from sqlalchemy import select

    from crm_adapter.orm import ContactRow

    raw = "客户新手机１３９ ００００ １１１１，身份证11010519491231002X，5000万下月到期"
    record = make_contact(org, summary=raw, key="tg:mask:1")
    again = make_contact(org, summary=raw, key="tg:mask:1")
    assert again.duplicate and again.id == record.id and again.summary == record.summary
    assert record.summary == "客户新手机139****1111，身份证110105********002X，5000万下月到期"
    with org.engine.connect() as conn:
        assert conn.execute(select(ContactRow.summary)).scalars().all() == [record.summary]


def test_naive_datetime_is_read_in_the_adapter_timezone(org: SqlCRM) -> None:
    record = make_contact(org, occurred_at=datetime(2026, 5, 1, 8, 0))  # 08:00 Asia/Shanghai
    assert record.occurred_at == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


def test_list_filters_and_order(org: SqlCRM) -> None:
    make_contact(org, client_id="C0001", occurred_at=at(date(2026, 5, 1)))
    make_contact(org, client_id="C0002", occurred_at=at(date(2026, 5, 10)))
    make_contact(org, actor="RM002", client_id="C0003", occurred_at=at(date(2026, 5, 5)))
    make_contact(org, client_id="C0001", occurred_at=at(date(2026, 5, 20)))
    all_days = [c.occurred_at.date() for c in org.list_contacts(actor="ADM01")]
    assert all_days == sorted(all_days, reverse=True)
    in_range = org.list_contacts(actor="ADM01", since=date(2026, 5, 5), until=date(2026, 5, 10))
    assert [c.client_id for c in in_range] == ["C0002", "C0003"]
    assert [c.client_id for c in org.list_contacts(actor="SUP01", rm_code="RM002")] == ["C0003"]
    assert len(org.list_contacts(actor="ADM01", limit=2)) == 2
    with pytest.raises(InvalidInput):
        org.list_contacts(actor="ADM01", since=date(2026, 6, 1), until=date(2026, 5, 1))
    with pytest.raises(InvalidInput):
        org.list_contacts(actor="ADM01", limit=0)


def test_until_is_inclusive_in_local_time(org: SqlCRM) -> None:
    # 2026-05-10 23:30 in Shanghai is 15:30 UTC on the same day.
    make_contact(org, occurred_at=datetime(2026, 5, 10, 15, 30, tzinfo=UTC))
    assert len(org.list_contacts(actor="RM001", until=date(2026, 5, 10))) == 1
    assert len(org.list_contacts(actor="RM001", since=date(2026, 5, 11))) == 0


def test_every_write_commits_durably_on_postgres(postgres_url: str) -> None:
    """Inside the very transaction that writes: business writes AND the access-log rows of reads (audit
    evidence) run with synchronous_commit ON, so their commit waits for the WAL flush."""
    from sqlalchemy import event

    from tests.crm_adapter.factories import make_client, make_staff, seed_org

    crm = SqlCRM(postgres_url, timezone="Asia/Shanghai")
    seen: list[tuple[str, str]] = []  # (table written, synchronous_commit in that transaction)

    def record(conn: Any, cursor: Any, statement: str, *args: object) -> None:
        words = statement.split()
        if words[0] in ("INSERT", "UPDATE", "DELETE"):
            table = words[1] if words[0] == "UPDATE" else words[2]
            seen.append((table, cursor.connection.execute("SHOW synchronous_commit").fetchone()[0]))

    event.listen(crm.engine, "after_cursor_execute", record)
    try:
        seed_org(crm)  # staff (add_staff) and clients (import_clients)
        make_staff(crm, "RM009", team="A")
        crm.remove_staff(code="RM009")
        make_contact(crm)
        crm.search_clients(actor="RM001", query="张伟")
        make_client(crm, client_id="C0001", name="张伟")  # import (write), then get_client (read)
        with pytest.raises(AccessDenied):  # a denial is logged too
            crm.get_client(actor="RM002", client_id="C0001")
        tables = {table for table, _ in seen}
        assert tables >= {"crm_staff", "crm_clients", "crm_contacts", "crm_access_log"}
        assert {setting for _, setting in seen} == {"on"}
        with crm.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    finally:
        event.remove(crm.engine, "after_cursor_execute", record)
        crm.close()


def test_create_contact_is_one_select_and_one_insert(org: SqlCRM) -> None:
    """The write transaction reads the actor and the client's owner in one statement (fewer round trips
    per durable insert); no per-transaction SET."""
    from sqlalchemy import event

    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split()[0])

    event.listen(org.engine, "before_cursor_execute", record)
    try:
        make_contact(org, key="one-round-trip")
    finally:
        event.remove(org.engine, "before_cursor_execute", record)
    begin = ["BEGIN"] if org.dialect == "sqlite" else []  # SQLite: BEGIN IMMEDIATE, emitted by us
    assert statements == [*begin, "SELECT", "INSERT"]
