"""An in-memory CRM for the bot's tests. It subclasses the `CRMAdapter` Protocol (mypy holds it to the
port) and honours the port's documented guarantees — the same scope rules (`crm_adapter.scopes`), input
validation (`crm_adapter.validation`), staff removal, idempotency and masking as `SqlCRM` — which
`tests/crm_adapter/test_port_contract.py` checks against both.

Simplified on purpose: search matches exact name/pinyin/client id or a name substring (no ranking),
the card carries no computed dates, follow-ups and birthdays are scripted (the first client in scope,
3 days overdue / birthday in 2 days; with a follow-up horizon, every other client is due at its end),
and nothing is access-logged.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from crm_adapter import benefits as ledger
from crm_adapter import products as catalogue
from crm_adapter import reminders, scopes, validation
from crm_adapter.contacts import fingerprint_of
from crm_adapter.errors import InvalidInput, NotFound, UnknownStaff
from crm_adapter.masking import mask_personal_numbers
from crm_adapter.models import (
    BenefitImportReport,
    BenefitTally,
    BenefitUse,
    BirthdayReminder,
    Client,
    ClientBrief,
    ClientCard,
    ClientImportReport,
    ContactRecord,
    FollowUp,
    KycReview,
    NewBenefitUse,
    NewContact,
    Product,
    ProductImportReport,
    RiskAssessmentDue,
    Role,
    Staff,
    Tier,
)
from crm_adapter.pinyin import pinyin_keys
from crm_adapter.port import CRMAdapter, OnInsert, OnUseInsert

STAFF = (
    Staff(code="RM001", name="王敏", role=Role.RM, team="A", telegram_id=1001),
    Staff(code="RM002", name="李强", role=Role.RM, team="A", telegram_id=1002),
    Staff(code="SUP01", name="陈静", role=Role.SUPERVISOR, team="A", telegram_id=2001),
    Staff(code="TRN01", name="赵琳", role=Role.TRAINER, telegram_id=3001),
    Staff(code="CMP01", name="周正", role=Role.COMPLIANCE, telegram_id=5001),
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
        risk_assessed_on=date(2026, 6, 1),  # valid on the bot tests' TODAY (2026-11-28)
    )


CLIENTS = (
    make_client("C0001", "张伟", "zhangwei", "RM001"),
    make_client("C0002", "张薇", "zhangwei", "RM001", Tier.GOLD),
    make_client("C0003", "刘洋", "liuyang", "RM001", Tier.PLATINUM),
    make_client("C0009", "孙丽", "sunli", "RM002"),
)


class FakeCRM(CRMAdapter):
    """`staff`, `clients` and `contacts` are public so tests can arrange data directly (deleting a
    `staff` entry means "never registered"; `remove_staff` deactivates, like the real adapter)."""

    def __init__(
        self,
        *,
        staff: Iterable[Staff] = STAFF,
        clients: Iterable[Client] = CLIENTS,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.staff: dict[str, Staff] = {s.code: s for s in staff}
        self.clients: dict[str, Client] = {c.client_id: c for c in clients}
        self.contacts: list[ContactRecord] = []
        self.removed: set[str] = set()  # deactivated staff codes (kept: contacts keep their author)
        self.products: dict[str, Product] = {}
        self.benefit_ledger: list[BenefitUse] = []
        self._use_fingerprints: dict[int, str] = {}  # use id → fingerprint (SqlCRM's unique column)
        self._tz = ZoneInfo(timezone)
        self._ids = itertools.count(1)
        self._fingerprints: dict[int, str] = {}  # record id → content fingerprint (SqlCRM's column)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ helpers
    def _active(self, code: str) -> Staff | None:
        staff = self.staff.get(code)
        return None if staff is None or code in self.removed else staff

    def _actor(self, actor: str) -> Staff:
        try:
            code = validation.staff_code(actor)
        except InvalidInput:
            raise UnknownStaff(f"未知员工编号：{actor!r}") from None
        staff = self._active(code)
        if staff is None:
            raise UnknownStaff(f"未知员工编号：{code}（未登记或已停用）")
        return staff

    def _scope(self, actor: str) -> scopes.ClientScope:
        staff = self._actor(actor)
        team = [
            s.code
            for s in self.staff.values()
            if s.role is Role.RM and s.team == staff.team and s.code not in self.removed
        ]
        return scopes.read_scope(staff, team_rm_codes=team if scopes.needs_team(staff) else ())

    def _visible(self, actor: str) -> list[Client]:
        scope = self._scope(actor)
        return [c for c in self.clients.values() if scope.can_read(c.rm_code)]

    def _client(self, client_id: str) -> Client:
        cid = validation.client_id(client_id)
        if cid not in self.clients:
            raise NotFound(f"未找到客户 {cid}")
        return self.clients[cid]

    def _owned(self, code: str) -> int:
        return sum(c.rm_code == code for c in self.clients.values())

    # ------------------------------------------------------------------ staff
    def get_staff(self, *, code: str) -> Staff:
        normalized = validation.staff_code(code)
        staff = self._active(normalized)
        if staff is None:
            raise NotFound(f"未找到员工 {normalized}")
        return staff

    def get_staff_by_telegram_id(self, *, telegram_id: int) -> Staff | None:
        return next((s for s in self.list_staff() if s.telegram_id == telegram_id), None)

    def list_staff(self) -> list[Staff]:
        return sorted((s for s in self.staff.values() if s.code not in self.removed), key=lambda s: s.code)

    def add_staff(self, *, staff: Staff) -> Staff:
        code = validation.staff_code(staff.code)
        name = validation.person_name(staff.name, what="员工姓名", max_len=50)
        role, team = validation.role(staff.role), validation.team(staff.team)
        telegram_id = validation.telegram_id(staff.telegram_id)
        if role is Role.SUPERVISOR and team is None:
            raise InvalidInput("主管必须指定团队（--team）")
        holder = next((s for s in self.list_staff() if s.telegram_id == telegram_id and s.code != code), None)
        if telegram_id is not None and holder is not None:
            raise InvalidInput(f"Telegram 用户 ID {telegram_id} 已绑定员工 {holder.code}")
        previous = self.staff.get(code)
        if previous is not None and previous.role is Role.RM and role is not Role.RM and self._owned(code):
            raise InvalidInput(f"员工 {code} 名下仍有 {self._owned(code)} 位客户，请先转移客户再更改角色")
        stored = Staff(code=code, name=name, role=role, team=team, telegram_id=telegram_id)
        self.staff[code] = stored
        self.removed.discard(code)
        return stored

    def remove_staff(self, *, code: str) -> None:
        normalized = validation.staff_code(code)
        staff = self._active(normalized)
        if staff is None:
            raise NotFound(f"未找到员工 {normalized}")
        owned = self._owned(normalized)
        if owned:
            raise InvalidInput(f"员工 {normalized} 名下仍有 {owned} 位客户，请先转移客户后再删除")
        # Soft delete, as SqlCRM: the record stays (authors of contacts), the Telegram id is freed.
        self.staff[normalized] = staff.model_copy(update={"telegram_id": None})
        self.removed.add(normalized)

    def client_names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.clients.values())

    def team_members(self, *, actor: str) -> list[Staff]:
        staff = self._actor(actor)
        if staff.role is Role.RM:
            return [staff]
        rms = [s for s in self.list_staff() if s.role is Role.RM]
        if staff.role is Role.SUPERVISOR:
            return [s for s in rms if staff.team and s.team == staff.team]
        return rms if staff.role is Role.ADMIN else []

    # ------------------------------------------------------------------ clients
    def get_client(self, *, actor: str, client_id: str) -> Client:
        scope = self._scope(actor)
        client = self._client(client_id)
        scopes.check_read_client(scope, client_id=client.client_id, client_rm_code=client.rm_code)
        return client

    def search_clients(self, *, actor: str, query: str, limit: int = 10) -> list[Client]:
        q = validation.search_query(query).lower()
        limit = validation.bounded_int(limit, what="返回条数", low=1, high=100)
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

    # ------------------------------------------------------------------ contacts
    def create_contact(
        self, *, actor: str, contact: NewContact, on_insert: OnInsert | None = None
    ) -> ContactRecord:
        values = validation.new_contact(contact, now=datetime.now(UTC), tz=self._tz)
        summary = mask_personal_numbers(values["summary"])  # as SqlCRM: no identifiers in contact notes
        staff = self._actor(actor)
        client = self._client(values["client_id"])
        scopes.check_write_contact(staff, client_id=client.client_id, client_rm_code=client.rm_code)
        key = values["idempotency_key"]
        day = values["occurred_at"].astimezone(self._tz).date()
        fp = fingerprint_of({**values, "summary": summary}, rm_code=staff.code, day=day)
        with self._lock:  # the checks and the append are one step, like the real unique constraints
            existing = next((r for r in self.contacts if key is not None and r.idempotency_key == key), None)
            if existing is not None and existing.client_id != client.client_id:
                raise InvalidInput("该幂等键已用于另一位客户的联系记录")
            if existing is None:
                existing = next((r for r in self.contacts if self._fingerprints.get(r.id) == fp), None)
            if existing is not None:
                return existing.model_copy(update={"duplicate": True})
            record = ContactRecord(
                id=next(self._ids),
                client_id=client.client_id,
                rm_code=staff.code,
                channel=values["channel"],
                occurred_at=values["occurred_at"],
                summary=summary,
                topics=tuple(values["topics"]),
                next_follow_up=values["next_follow_up"],
                source=values["source"],
                created_at=datetime.now(UTC),
                idempotency_key=key,
            )
            if on_insert is not None:  # no transaction here: the record is stored only if it returns
                on_insert(None, record)
            self.contacts.append(record)
            self._fingerprints[record.id] = fp
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
        limit = validation.bounded_int(limit, what="返回条数", low=1, high=1000)
        if since is not None and until is not None and since > until:
            raise InvalidInput("开始日期不能晚于结束日期")
        scope = self._scope(actor)
        records = [r for r in self.contacts if scope.can_read(self.clients[r.client_id].rm_code)]
        if client_id is not None:
            client = self._client(client_id)
            scopes.check_read_client(scope, client_id=client.client_id, client_rm_code=client.rm_code)
            records = [r for r in records if r.client_id == client.client_id]
        if rm_code is not None:
            code = validation.staff_code(rm_code, what="客户经理编号")
            scopes.check_rm_target(scope, rm_code=code)
            records = [r for r in records if r.rm_code == code]
        if since is not None:
            records = [r for r in records if r.occurred_at >= self._day_start(since)]
        if until is not None:
            records = [r for r in records if r.occurred_at < self._day_start(until + timedelta(days=1))]
        records.sort(key=lambda r: (r.occurred_at, r.id), reverse=True)
        return records[:limit]

    def _day_start(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self._tz)

    # ------------------------------------------------------------------ reminders (scripted)
    def follow_ups(self, *, actor: str, today: date | None = None, horizon_days: int = 0) -> list[FollowUp]:
        validation.bounded_int(horizon_days, what="提前天数", low=0, high=366)
        today = today or date.today()
        visible = self._visible(actor)
        due = [
            FollowUp(client=c, due=today - timedelta(days=3), overdue=True, reason="按钻石客户14天节奏")
            for c in visible[:1]
        ]
        later = today + timedelta(
            days=horizon_days
        )  # with a horizon, every other client falls due at its end
        return due + [
            FollowUp(client=c, due=later, overdue=False, reason="按节奏") for c in visible[1:] if horizon_days
        ]

    def upcoming_birthdays(
        self, *, actor: str, days: int = 7, today: date | None = None
    ) -> list[BirthdayReminder]:
        validation.bounded_int(days, what="天数", low=0, high=366)
        today = today or date.today()
        return [
            BirthdayReminder(client=c, birthday=today + timedelta(days=2), days_until=2)
            for c in self._visible(actor)[:1]
        ]

    def kyc_reviews_due(
        self, *, actor: str, today: date | None = None, horizon_days: int = 30
    ) -> list[KycReview]:
        horizon = validation.bounded_int(horizon_days, what="提前天数", low=0, high=366)
        day = today or date.today()
        due = [c for c in self._visible(actor) if c.kyc_review_due is not None]
        result = [
            KycReview(
                client=c,
                due=c.kyc_review_due,
                overdue=c.kyc_review_due < day,
                days=(c.kyc_review_due - day).days,
            )
            for c in due
            if c.kyc_review_due is not None and (c.kyc_review_due - day).days <= horizon
        ]
        return sorted(result, key=lambda k: (k.due, k.client.pinyin, k.client.client_id))

    def risk_assessments_due(
        self, *, actor: str, today: date | None = None, horizon_days: int = 30, validity_months: int
    ) -> list[RiskAssessmentDue]:
        horizon = validation.bounded_int(horizon_days, what="提前天数", low=0, high=366)
        months = validation.bounded_int(validity_months, what="测评有效期（月）", low=1, high=120)
        day = today or date.today()
        found = [reminders.assessment_due(c, day=day, validity_months=months) for c in self._visible(actor)]
        due = [a for a in found if a.days is None or a.days <= horizon]
        return sorted(due, key=reminders.assessment_order)

    # ------------------------------------------------------------------ benefit ledger
    def _today_local(self) -> date:
        return datetime.now(self._tz).date()

    def record_benefit_use(
        self, *, actor: str, use: NewBenefitUse, on_insert: OnUseInsert | None = None
    ) -> BenefitUse:
        values = ledger.new_use(use, today=self._today_local())
        staff = self._actor(actor)
        client = self._client(values["client_id"])
        scopes.check_write_benefit(staff, client_id=client.client_id, client_rm_code=client.rm_code)
        contact_id = values["contact_id"]
        if contact_id is not None and not any(
            r.id == contact_id and r.client_id == client.client_id for r in self.contacts
        ):
            raise InvalidInput(f"联系记录 {contact_id} 不是该客户的记录")
        key, fp = values["idempotency_key"], ledger.fingerprint_of(values)
        with self._lock:
            existing = next(
                (u for u in self.benefit_ledger if key is not None and u.idempotency_key == key), None
            )
            if existing is not None and existing.client_id != client.client_id:
                raise InvalidInput("该幂等键已用于另一位客户的权益记录")
            if existing is None:
                existing = next((u for u in self.benefit_ledger if self._use_fingerprints[u.id] == fp), None)
            if existing is not None:
                return existing.model_copy(update={"duplicate": True})
            stored = ledger.created_now(
                values, id_=next(self._ids), recorded_by=staff.code, now=datetime.now(UTC)
            )
            if on_insert is not None:  # no transaction here: the use is stored only if it returns
                on_insert(None, stored)
            self.benefit_ledger.append(stored)
            self._use_fingerprints[stored.id] = fp
        return stored

    def _uses_in(
        self, actor: str, client_id: str, since: date | None, until: date | None
    ) -> list[BenefitUse]:
        client = self.get_client(actor=actor, client_id=client_id)
        if since is not None and until is not None and since > until:
            raise InvalidInput("开始日期不能晚于结束日期")
        return [
            u
            for u in self.benefit_ledger
            if u.client_id == client.client_id
            and (since is None or u.used_on >= since)
            and (until is None or u.used_on <= until)
        ]

    def benefit_uses(
        self,
        *,
        actor: str,
        client_id: str,
        since: date | None = None,
        until: date | None = None,
        limit: int = 100,
    ) -> list[BenefitUse]:
        limit = validation.bounded_int(limit, what="返回条数", low=1, high=1000)
        found = self._uses_in(actor, client_id, since, until)
        return sorted(found, key=lambda u: (u.used_on, u.id), reverse=True)[:limit]

    def benefit_tallies(self, *, actor: str, client_id: str, since: date, until: date) -> list[BenefitTally]:
        by_name: dict[str, list[date]] = {}
        for u in self._uses_in(actor, client_id, since, until):
            by_name.setdefault(u.benefit, []).append(u.used_on)
        return [
            BenefitTally(benefit=name, used=len(days), last_used_on=max(days))
            for name, days in sorted(by_name.items())
        ]

    def client_brief(
        self,
        *,
        actor: str,
        client_id: str,
        since: date,
        until: date,
        contacts: int = 50,
        today: date | None = None,
    ) -> ClientBrief:
        limit = validation.bounded_int(contacts, what="联系记录条数", low=1, high=200)
        card = self.client_card(actor=actor, client_id=client_id, today=today)
        records = self.list_contacts(actor=actor, client_id=card.client.client_id, limit=limit)
        tallies = self.benefit_tallies(actor=actor, client_id=card.client.client_id, since=since, until=until)
        return ClientBrief(card=card, contacts=tuple(records), tallies=tuple(tallies))

    def import_benefit_uses(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
        on_insert: OnUseInsert | None = None,
    ) -> BenefitImportReport:
        lines = validation.line_numbers(rows, line_numbers)
        parsed, errors = ledger.parse_rows(rows, lines, today=self._today_local())
        staff = self._actor(actor)
        scopes.check_import(staff)
        duplicates = 0
        new: dict[int, str] = {}  # id → fingerprint: stored only when every hook has returned (one step)
        batch: list[BenefitUse] = []
        for line, values in parsed:
            if values["client_id"] not in self.clients:
                errors.append((line, f"未找到客户 {values['client_id']}"))
                continue
            fp = ledger.fingerprint_of(values)
            if fp in self._use_fingerprints.values() or fp in new.values():
                duplicates += 1
                continue
            stored = ledger.created_now(
                values, id_=next(self._ids), recorded_by=staff.code, now=datetime.now(UTC)
            )
            if on_insert is not None:
                on_insert(None, stored)
            batch.append(stored)
            new[stored.id] = fp
        with self._lock:
            self.benefit_ledger.extend(batch)
            self._use_fingerprints.update(new)
        created = len(batch)
        return BenefitImportReport(created=created, duplicates=duplicates, errors=tuple(sorted(errors)))

    # ------------------------------------------------------------------ products
    def import_products(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
    ) -> ProductImportReport:
        lines = validation.line_numbers(rows, line_numbers)
        scopes.check_import(self._actor(actor))
        created = updated = 0
        parsed, errors = catalogue.parse_rows(rows, lines)  # the adapter's own row rules
        for _line, fields in parsed:
            previous = self.products.get(fields.code)
            keys = pinyin_keys(fields.name)
            self.products[fields.code] = Product.model_validate(
                {
                    "issuer": "",
                    "status": "在售",
                    **({} if previous is None else previous.model_dump()),
                    "code": fields.code,
                    "name": fields.name,
                    "pinyin": keys.full,
                    "initials": keys.initials,
                    "type": fields.type,
                    "risk_level": fields.risk_level,
                    **fields.optional,
                }
            )
            created += previous is None
            updated += previous is not None
        return ProductImportReport(created=created, updated=updated, errors=tuple(sorted(errors)))

    def search_products(self, *, query: str, limit: int = 10) -> list[Product]:
        text = validation.search_query(query)
        limit = validation.bounded_int(limit, what="返回条数", low=1, high=100)
        return catalogue.rank(self.products.values(), text, limit=limit)

    def list_products(self, *, status: str | None = None) -> list[Product]:
        wanted = None if status is None else catalogue.product_status(status)
        found = [p for p in self.products.values() if wanted is None or p.status == wanted]
        return sorted(found, key=lambda p: (p.risk_level, p.code))

    # ------------------------------------------------------------------ import
    def import_clients(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
    ) -> ClientImportReport:
        lines = validation.line_numbers(rows, line_numbers)
        scopes.check_import(self._actor(actor))
        rms = {s.code for s in self.list_staff() if s.role is Role.RM}
        created = updated = 0
        errors: list[tuple[int, str]] = []
        today = datetime.now(self._tz).date()
        seen: dict[str, int] = {}
        for line, raw in zip(lines, rows, strict=True):
            try:
                fields = validation.client_row(raw, today=today)
                if fields.rm_code not in rms:
                    raise InvalidInput(f"客户经理 {fields.rm_code} 不存在或不是客户经理")
                if fields.client_id is not None and fields.client_id in seen:
                    raise InvalidInput(f"客户编号 {fields.client_id} 与第 {seen[fields.client_id]} 行重复")
            except InvalidInput as exc:
                errors.append((line, exc.message))
                continue
            if fields.client_id is not None:
                seen[fields.client_id] = line
            cid = fields.client_id or f"C{self._next_client_number():04d}"
            previous = self.clients.get(cid)
            self.clients[cid] = Client.model_validate(
                {
                    **({} if previous is None else previous.model_dump()),
                    "client_id": cid,
                    "name": fields.name,
                    "pinyin": pinyin_keys(fields.name).full,
                    "birthday": fields.birthday,
                    "phone": fields.phone,
                    "aum": fields.aum,
                    "tier": fields.tier,
                    "risk_level": fields.risk_level,
                    "rm_code": fields.rm_code,
                    **fields.optional,
                }
            )
            created += previous is None
            updated += previous is not None
        return ClientImportReport(created=created, updated=updated, errors=tuple(sorted(errors)))

    def _next_client_number(self) -> int:
        numbers = [int(cid[1:]) for cid in self.clients if cid.startswith("C") and cid[1:].isdigit()]
        return max(numbers, default=0) + 1

    def close(self) -> None:
        pass


__all__ = ["CLIENTS", "STAFF", "FakeCRM", "make_client"]
