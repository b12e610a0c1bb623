"""Every read of client data lands in the access log (who, which client, what, when), denials too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from crm_adapter.errors import AccessDenied
from crm_adapter.orm import AccessLogRow
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import TODAY, make_contact


def _log(crm: SqlCRM) -> list[tuple[str, str | None, str, bool]]:
    with crm.engine.connect() as conn:
        rows = conn.execute(
            select(
                AccessLogRow.actor, AccessLogRow.client_id, AccessLogRow.action, AccessLogRow.allowed
            ).order_by(AccessLogRow.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.fixture
def clean(org: SqlCRM) -> SqlCRM:
    make_contact(org, client_id="C0001", key="k1")
    with org.engine.begin() as conn:
        conn.execute(delete(AccessLogRow))
    return org


def test_each_read_is_logged(clean: SqlCRM) -> None:
    crm = clean
    crm.get_client(actor="RM001", client_id="C0001")
    crm.search_clients(actor="SUP01", query="zw")
    crm.client_card(actor="RM001", client_id="C0002", today=TODAY)
    crm.list_contacts(actor="ADM01", client_id="C0001")
    crm.follow_ups(actor="RM002", today=TODAY)
    crm.upcoming_birthdays(actor="RM001", days=366, today=TODAY)
    assert _log(crm) == [
        ("RM001", "C0001", "get", True),
        ("SUP01", "C0001", "search", True),
        ("SUP01", "C0002", "search", True),
        ("RM001", "C0002", "card", True),
        ("ADM01", "C0001", "contacts", True),
        ("RM002", "C0003", "follow_ups", True),
        ("RM001", "C0001", "birthdays", True),
        ("RM001", "C0002", "birthdays", True),
    ]


def test_denials_are_logged_and_empty_results_are_not(clean: SqlCRM) -> None:
    crm = clean
    with pytest.raises(AccessDenied):
        crm.get_client(actor="RM002", client_id="C0001")
    with pytest.raises(AccessDenied):
        crm.client_card(actor="TRN01", client_id="C0001")
    with pytest.raises(AccessDenied):
        make_contact(crm, actor="SUP01", client_id="C0001")
    crm.search_clients(actor="TRN01", query="张伟")  # filtered to nothing: no client data was read
    assert _log(crm) == [
        ("RM002", "C0001", "get", False),
        ("TRN01", "C0001", "card", False),
        ("SUP01", "C0001", "create_contact", False),
    ]


def test_log_has_timestamps(clean: SqlCRM) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    clean.get_client(actor="RM001", client_id="C0001")
    with clean.engine.connect() as conn:
        [when] = conn.execute(select(AccessLogRow.at)).scalars().all()
    assert when.tzinfo is not None and before <= when <= datetime.now(UTC) + timedelta(seconds=5)
