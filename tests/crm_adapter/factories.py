"""Test data factories for the CRM adapter. Everything goes through public adapter methods."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from crm_adapter.errors import NotFound
from crm_adapter.models import Channel, Client, ContactRecord, NewContact, Role, Staff
from crm_adapter.port import CRMAdapter

#: A fixed "today" for date logic (birthdays, follow-ups) so tests never depend on the wall clock.
TODAY = date(2026, 6, 15)
ADMIN = "ADM01"


def make_staff(
    crm: CRMAdapter,
    code: str,
    *,
    role: Role | str = Role.RM,
    name: str = "测试员工",
    team: str | None = "A",
    telegram_id: int | None = None,
) -> Staff:
    role = Role(role)
    if role in (Role.TRAINER, Role.ADMIN) and team == "A":
        team = None
    return crm.add_staff(staff=Staff(code=code, name=name, role=role, team=team, telegram_id=telegram_id))


def _ensure_admin(crm: CRMAdapter) -> None:
    try:
        crm.get_staff(code=ADMIN)
    except NotFound:
        make_staff(crm, ADMIN, role=Role.ADMIN, name="管理员")


def make_client(
    crm: CRMAdapter,
    *,
    rm_code: str = "RM001",
    name: str = "张伟",
    client_id: str | None = None,
    aum: Decimal | int | str = 12_000_000,
    birthday: date | None = date(1980, 5, 20),
    phone: str | None = "13812345678",
    risk_level: str = "C3",
    **extra: str,
) -> Client:
    """Create (or update) one client via the admin import and return it as the admin sees it."""
    _ensure_admin(crm)
    row: dict[str, str | None] = {
        "name": name,
        "birthday": birthday.isoformat() if birthday else "",
        "phone": phone or "",
        "aum": str(aum),
        "risk_level": risk_level,
        "rm_code": rm_code,
        **extra,
    }
    if client_id:
        row["client_id"] = client_id
    report = crm.import_clients(actor=ADMIN, rows=[row])
    assert not report.errors, report.errors
    if client_id is None:
        matches = crm.search_clients(actor=ADMIN, query=name, limit=100)
        return max((c for c in matches if c.name == name), key=lambda c: c.client_id)
    return crm.get_client(actor=ADMIN, client_id=client_id)


def make_contact(
    crm: CRMAdapter,
    *,
    actor: str = "RM001",
    client_id: str = "C0001",
    summary: str = "电话沟通理财到期事宜",
    occurred_at: datetime | None = None,
    next_follow_up: date | None = None,
    key: str | None = None,
    channel: Channel = Channel.PHONE,
) -> ContactRecord:
    return crm.create_contact(
        actor=actor,
        contact=NewContact(
            client_id=client_id,
            channel=channel,
            summary=summary,
            occurred_at=occurred_at,
            next_follow_up=next_follow_up,
            idempotency_key=key,
        ),
    )


def at(day: date, hour: int = 10) -> datetime:
    """A UTC datetime on `day` (10:00 UTC = 18:00 Asia/Shanghai, same calendar day)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def seed_org(crm: CRMAdapter) -> None:
    """Team A: RM001, RM002, supervisor SUP01. Team B: RM003, supervisor SUP02. TRN01, ADM01.

    Clients: C0001 张伟 (RM001), C0002 章伟 (RM001), C0003 李娜 (RM002), C0004 王芳 (RM003).
    """
    make_staff(crm, "RM001", name="王敏", team="A", telegram_id=1001)
    make_staff(crm, "RM002", name="李强", team="A", telegram_id=1002)
    make_staff(crm, "RM003", name="刘洋", team="B")
    make_staff(crm, "SUP01", role=Role.SUPERVISOR, name="陈静", team="A", telegram_id=2001)
    make_staff(crm, "SUP02", role=Role.SUPERVISOR, name="周涛", team="B")
    make_staff(crm, "TRN01", role=Role.TRAINER, name="赵琳")
    make_staff(crm, ADMIN, role=Role.ADMIN, name="管理员")
    make_client(crm, client_id="C0001", name="张伟", rm_code="RM001", aum=60_000_000, phone="13812345678")
    make_client(crm, client_id="C0002", name="章伟", rm_code="RM001", aum=35_000_000, phone="13900001111")
    make_client(crm, client_id="C0003", name="李娜", rm_code="RM002", aum=12_000_000, phone="13700002222")
    make_client(crm, client_id="C0004", name="王芳", rm_code="RM003", aum=2_000_000, phone="13600003333")
