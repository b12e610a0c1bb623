"""Small in-test fakes of the knowledge and CRM Protocols (unit tests of bot.services)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crm_adapter import (
    AccessDenied,
    BirthdayReminder,
    Channel,
    Client,
    ClientCard,
    ClientImportReport,
    ContactRecord,
    FollowUp,
    NewContact,
    NotFound,
    Role,
    Staff,
    Tier,
    UnknownStaff,
)
from tests.fakes.knowledge import FakeKB

STAFF = (
    Staff(code="RM001", name="王敏", role=Role.RM, team="A", telegram_id=1001),
    Staff(code="RM002", name="李强", role=Role.RM, team="A", telegram_id=1002),
    Staff(code="SUP01", name="陈静", role=Role.SUPERVISOR, team="A", telegram_id=2001),
    Staff(code="TRN01", name="赵琳", role=Role.TRAINER, telegram_id=3001),
    Staff(code="ADM01", name="管理员", role=Role.ADMIN, telegram_id=4001),
)


def make_client(client_id: str, name: str, pinyin: str, rm: str, tier: Tier = Tier.DIAMOND) -> Client:
    return Client(
        client_id=client_id,
        name=name,
        pinyin=pinyin,
        aum=Decimal("60000000"),
        tier=tier,
        risk_level="C3",
        rm_code=rm,
        birthday=date(1970, 12, 1),
    )


CLIENTS = (
    make_client("C0001", "张伟", "zhangwei", "RM001"),
    make_client("C0002", "张薇", "zhangwei", "RM001", Tier.GOLD),
    make_client("C0003", "刘洋", "liuyang", "RM001", Tier.PLATINUM),
    make_client("C0009", "孙丽", "sunli", "RM002"),
)


class FakeCRM:
    """Scopes like the real one: RMs see their own clients, supervisors their team (read-only)."""

    def __init__(self) -> None:
        self.staff = {s.code: s for s in STAFF}
        self.clients = {c.client_id: c for c in CLIENTS}
        self.contacts: list[ContactRecord] = []
        self._ids = itertools.count(1)

    def _actor(self, actor: str) -> Staff:
        if actor not in self.staff:
            raise UnknownStaff("未登记")
        return self.staff[actor]

    def _visible(self, actor: str) -> list[Client]:
        s = self._actor(actor)
        if s.role == Role.ADMIN:
            return list(self.clients.values())
        if s.role == Role.SUPERVISOR:
            team = {m.code for m in self.staff.values() if m.team == s.team}
            return [c for c in self.clients.values() if c.rm_code in team]
        if s.role == Role.RM:
            return [c for c in self.clients.values() if c.rm_code == actor]
        return []

    def get_staff(self, *, code: str) -> Staff:
        if code not in self.staff:
            raise NotFound("没有该员工")
        return self.staff[code]

    def get_staff_by_telegram_id(self, *, telegram_id: int) -> Staff | None:
        return next((s for s in self.staff.values() if s.telegram_id == telegram_id), None)

    def list_staff(self) -> list[Staff]:
        return list(self.staff.values())

    def add_staff(self, *, staff: Staff) -> Staff:
        self.staff[staff.code] = staff
        return staff

    def remove_staff(self, *, code: str) -> None:
        if code not in self.staff:
            raise NotFound("没有该员工")
        del self.staff[code]

    def import_clients(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
    ) -> ClientImportReport:
        raise NotImplementedError("the bot never imports clients; see crm_adapter's own tests")

    def team_members(self, *, actor: str) -> list[Staff]:
        s = self._actor(actor)
        if s.role == Role.RM:
            return [s]
        return [m for m in self.staff.values() if m.team == s.team and m.role == Role.RM]

    def get_client(self, *, actor: str, client_id: str) -> Client:
        if client_id not in self.clients:
            raise NotFound("没有该客户")
        if all(c.client_id != client_id for c in self._visible(actor)):
            raise AccessDenied("无权查看")
        return self.clients[client_id]

    def search_clients(self, *, actor: str, query: str, limit: int = 10) -> list[Client]:
        q = query.lower()
        return [
            c for c in self._visible(actor) if q in (c.name, c.pinyin, c.client_id.lower()) or q in c.name
        ][:limit]

    def client_card(self, *, actor: str, client_id: str, today: date | None = None) -> ClientCard:
        client = self.get_client(actor=actor, client_id=client_id)
        return ClientCard(
            client=client,
            last_contact=None,
            days_since_contact=None,
            next_follow_up=None,
            follow_up_overdue=False,
            upcoming_birthday=None,
            days_to_birthday=None,
        )

    def create_contact(self, *, actor: str, contact: NewContact) -> ContactRecord:
        client = self.get_client(actor=actor, client_id=contact.client_id)
        if self._actor(actor).role != Role.RM:
            raise AccessDenied("只读")
        for r in self.contacts:
            if contact.idempotency_key and r.idempotency_key == contact.idempotency_key:
                return r
        now = datetime.now(UTC)
        record = ContactRecord(
            id=next(self._ids),
            client_id=client.client_id,
            rm_code=actor,
            channel=contact.channel,
            occurred_at=contact.occurred_at or now,
            summary=contact.summary,
            next_follow_up=contact.next_follow_up,
            source=contact.source,
            created_at=now,
            idempotency_key=contact.idempotency_key,
            topics=contact.topics,
        )
        self.contacts.append(record)
        return record

    def list_contacts(
        self,
        *,
        actor: str,
        client_id: str | None = None,
        rm_code: str | None = None,
        since: date | None = None,
        until: date | None = None,
        limit: int = 100,
    ) -> list[ContactRecord]:
        visible = {c.client_id for c in self._visible(actor)}
        return [
            r for r in self.contacts if r.client_id in visible and (rm_code is None or r.rm_code == rm_code)
        ][:limit]

    def follow_ups(self, *, actor: str, today: date | None = None, horizon_days: int = 0) -> list[FollowUp]:
        today = today or date.today()
        return [
            FollowUp(client=c, due=today - timedelta(days=3), overdue=True, reason="按钻石客户14天节奏")
            for c in self._visible(actor)[:1]
        ]

    def upcoming_birthdays(
        self, *, actor: str, days: int = 7, today: date | None = None
    ) -> list[BirthdayReminder]:
        today = today or date.today()
        return [
            BirthdayReminder(client=c, birthday=today + timedelta(days=2), days_until=2)
            for c in self._visible(actor)[:1]
        ]

    def close(self) -> None:
        pass


__all__ = ["CLIENTS", "STAFF", "Channel", "FakeCRM", "FakeKB"]
