"""`SqlCRM`: the CRM port on SQLAlchemy 2.0 — SQLite (default, WAL) or PostgreSQL (psycopg 3).

One transaction per operation: an ORM `Session` for staff management, import and reminders; a Core
connection with prebuilt statements on the hot paths (search, card, contact insert), where building
ORM queries per call would cost more than running them. On SQLite every transaction starts with
``BEGIN IMMEDIATE`` (reads write the access log anyway), so concurrent processes queue on the busy
timeout instead of failing with "database is locked" when a read transaction upgrades to a write.

On PostgreSQL there are two connection pools: business writes (contacts, import, staff) commit durably,
reads — whose only writes are access-log rows — do not wait for the WAL flush (see `_postgres_engine`).
Concurrent durable writers share WAL flushes (group commit), so throughput grows with writer threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.engine import URL, Connection, Engine, Row, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import ARRAY

from crm_adapter import migrations, scopes, validation
from crm_adapter.errors import AccessDenied, InvalidInput, NotFound, UnknownStaff
from crm_adapter.models import (
    CONTACT_SOURCES,
    BirthdayReminder,
    Channel,
    Client,
    ClientCard,
    ClientImportReport,
    ContactRecord,
    FollowUp,
    NewContact,
    Role,
    Staff,
    Tier,
)
from crm_adapter.orm import AccessLogRow, ClientRow, ClientTermRow, ContactRow, StaffRow
from crm_adapter.pinyin import (
    MAX_TERM_LEN,
    escape_like,
    name_terms,
    pinyin_keys,
    pinyin_query,
    prefix_upper_bound,
)
from crm_adapter.schedule import (
    birthday_mmdd,
    follow_up_due,
    mmdd_window,
    next_birthday,
    normalize_cadence,
)

logger = logging.getLogger(__name__)

#: Initials of a name are short; a longer latin query is only tried as full pinyin.
_MAX_INITIALS_QUERY = 8
#: Up to this many RMs in scope, substring search scans their clients instead of the term index.
_LIKE_SCAN_MAX_RMS = 2
_TIER_ORDER = {Tier.DIAMOND: 0, Tier.PLATINUM: 1, Tier.GOLD: 2, Tier.POTENTIAL: 3}
#: A contact may be logged up to this far in the future (clock skew between devices).
_FUTURE_TOLERANCE = timedelta(minutes=10)
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_database_url(database_url: str) -> URL:
    """`postgres://` / `postgresql://` → psycopg 3 driver; anything else is passed through."""
    url = make_url(database_url)
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


class SqlCRM:
    """The CRM on a SQL database. See `crm_adapter.port.CRMAdapter` for the guarantees."""

    def __init__(
        self,
        database_url: str,
        *,
        follow_up_cadence: Mapping[str, int] | None = None,
        timezone: str | tzinfo | None = None,
        echo: bool = False,
    ) -> None:
        """Open (and migrate) the database.

        `timezone` decides what "today" is and which calendar day a contact happened on; naive
        datetimes passed in are read in it. Default: the machine's local zone.
        """
        self._cadence = normalize_cadence(follow_up_cadence)
        self._tz = _resolve_tz(timezone)
        url = normalize_database_url(database_url)
        self.dialect = url.get_backend_name()
        self._engine, self._write_engine = _create_engines(url, echo=echo)
        migrations.upgrade(self._write_engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._sql = _Statements(self.dialect)
        self._closed = False
        self._lock = threading.Lock()
        logger.debug("CRM opened on %s", url.render_as_string(hide_password=True))

    # ------------------------------------------------------------------ plumbing
    @property
    def engine(self) -> Engine:
        """The engine of reads (and of access-log writes): on PostgreSQL its commits do not wait for
        the WAL flush. Business writes use `write_engine`; on SQLite both are the same engine."""
        return self._engine

    @property
    def write_engine(self) -> Engine:
        """The engine of business writes (contacts, import, staff): every commit is durable."""
        return self._write_engine

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._engine.dispose()
                if self._write_engine is not self._engine:
                    self._write_engine.dispose()
                self._closed = True

    def __enter__(self) -> SqlCRM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, *, durable: bool = False) -> Iterator[Session]:
        """One transaction; `durable` for business writes (see `write_engine`)."""
        sessions = self._write_sessions if durable else self._sessions
        with sessions() as session, session.begin():
            yield session

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _today(self, today: date | None) -> date:
        return today if today is not None else datetime.now(self._tz).date()

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._tz).date()

    def _day_start(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self._tz).astimezone(UTC)

    @contextmanager
    def _audit_denials(self, *, actor: str, action: str, client_id: str | None = None) -> Iterator[None]:
        # The denial is logged after the operation's transaction has ended (SQLite has one writer).
        try:
            yield
        except AccessDenied:
            self._write_denial(actor=actor, action=action, client_id=client_id)
            raise

    def _write_denial(self, *, actor: str, action: str, client_id: str | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(AccessLogRow),
                [
                    {
                        "actor": actor.strip().upper()[:32],
                        "client_id": (client_id or "").strip().upper()[:32] or None,
                        "action": action,
                        "allowed": False,
                        "at": self._now(),
                    }
                ],
            )

    def _log_reads(self, conn: Connection, *, actor: Staff, action: str, client_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(client_ids))
        if not ids:
            return
        now = self._now()
        if self._sql.log_reads is not None:
            conn.execute(
                self._sql.log_reads, {"actor": actor.code, "client_ids": ids, "action": action, "at": now}
            )
            return
        row = {"actor": actor.code, "action": action, "allowed": True, "at": now}
        conn.execute(self._sql.log_insert, [{**row, "client_id": cid} for cid in ids])

    def _actor(self, conn: Connection, code: str) -> Staff:
        normalized = _actor_code(code)
        row = conn.execute(self._sql.staff_by_code, {"code": normalized}).first()
        return _staff_model(_active_actor(row, normalized))

    def _actor_scope(self, conn: Connection, code: str) -> tuple[Staff, scopes.ClientScope]:
        """The acting staff and their read scope, in one round trip (the statement also brings the RM
        codes of the actor's team; `scopes` decides whether the scope uses them)."""
        normalized = _actor_code(code)
        row = _active_actor(conn.execute(self._sql.staff_with_team, {"code": normalized}).first(), normalized)
        staff = _staff_model(row)
        # Staff codes are letters, digits, "_" and "-" (validation.staff_code): "," cannot occur in one.
        team_codes = row.team_rm_codes.split(",") if scopes.needs_team(staff) and row.team_rm_codes else []
        return staff, scopes.read_scope(staff, team_rm_codes=team_codes)

    @staticmethod
    def _scope_clause(scope: scopes.ClientScope) -> ColumnElement[bool]:
        if scope.all_clients:
            return true()
        return ClientRow.rm_code.in_(sorted(scope.rm_codes))

    def _client_core(self, conn: Connection, client_id: str) -> Row[Any]:
        cid = validation.client_id(client_id)
        row = conn.execute(self._sql.client_by_id, {"client_id": cid}).first()
        if row is None:
            raise NotFound(f"未找到客户 {cid}")
        return row

    # ------------------------------------------------------------------ staff
    def get_staff(self, *, code: str) -> Staff:
        normalized = validation.staff_code(code)
        with self._tx() as session:
            row = session.get(StaffRow, normalized)
            if row is None or not row.active:
                raise NotFound(f"未找到员工 {normalized}")
            return _staff_model(row)

    def get_staff_by_telegram_id(self, *, telegram_id: int) -> Staff | None:
        with self._tx() as session:
            row = session.scalars(
                select(StaffRow).where(StaffRow.telegram_id == telegram_id, StaffRow.active.is_(True))
            ).first()
            return None if row is None else _staff_model(row)

    def list_staff(self) -> list[Staff]:
        with self._tx() as session:
            rows = session.scalars(select(StaffRow).where(StaffRow.active.is_(True)).order_by(StaffRow.code))
            return [_staff_model(row) for row in rows]

    def add_staff(self, *, staff: Staff) -> Staff:
        code = validation.staff_code(staff.code)
        name = validation.person_name(staff.name, what="员工姓名", max_len=50)
        role = validation.role(staff.role)
        team = validation.team(staff.team)
        telegram_id = validation.telegram_id(staff.telegram_id)
        if role is Role.SUPERVISOR and team is None:
            raise InvalidInput("主管必须指定团队（--team）")
        now = self._now()
        try:
            with self._tx(durable=True) as session:
                if telegram_id is not None:
                    holder = session.scalars(
                        select(StaffRow.code).where(
                            StaffRow.telegram_id == telegram_id, StaffRow.code != code
                        )
                    ).first()
                    if holder is not None:
                        raise InvalidInput(f"Telegram 用户 ID {telegram_id} 已绑定员工 {holder}")
                row = session.get(StaffRow, code)
                if row is None:
                    row = StaffRow(code=code, created_at=now)
                    session.add(row)
                elif role is not Role.RM and row.role == Role.RM.value:
                    owned = _count_clients(session, code)
                    if owned:
                        raise InvalidInput(f"员工 {code} 名下仍有 {owned} 位客户，请先转移客户再更改角色")
                row.name, row.role, row.team, row.telegram_id = name, role.value, team, telegram_id
                row.active, row.updated_at = True, now
                session.flush()
                return _staff_model(row)
        except IntegrityError:
            # Lost a race on the unique Telegram id.
            raise InvalidInput(f"Telegram 用户 ID {telegram_id} 已绑定其他员工") from None

    def remove_staff(self, *, code: str) -> None:
        normalized = validation.staff_code(code)
        with self._tx(durable=True) as session:
            row = session.get(StaffRow, normalized)
            if row is None or not row.active:
                raise NotFound(f"未找到员工 {normalized}")
            owned = _count_clients(session, normalized)
            if owned:
                raise InvalidInput(f"员工 {normalized} 名下仍有 {owned} 位客户，请先转移客户后再删除")
            # Soft delete: contact records keep their author; the Telegram id is freed for reuse.
            row.active, row.telegram_id, row.updated_at = False, None, self._now()

    def team_members(self, *, actor: str) -> list[Staff]:
        with self._tx() as session:
            staff = self._actor(session.connection(), actor)
            if staff.role is Role.RM:
                return [staff]
            stmt = select(StaffRow).where(StaffRow.role == Role.RM.value, StaffRow.active.is_(True))
            if staff.role is Role.SUPERVISOR:
                if not staff.team:
                    return []
                stmt = stmt.where(StaffRow.team == staff.team)
            elif staff.role is not Role.ADMIN:
                return []
            return [_staff_model(row) for row in session.scalars(stmt.order_by(StaffRow.code))]

    # ------------------------------------------------------------------ clients
    def _readable_client(self, conn: Connection, *, actor: str, client_id: str) -> tuple[Staff, Any]:
        """The acting staff and the client's row, once the actor's read scope allows it."""
        staff, scope = self._actor_scope(conn, actor)
        row = self._client_core(conn, client_id)
        scopes.check_read_client(scope, client_id=row.client_id, client_rm_code=row.rm_code)
        return staff, row

    def get_client(self, *, actor: str, client_id: str) -> Client:
        with (
            self._audit_denials(actor=actor, action="get", client_id=client_id),
            self._engine.begin() as conn,
        ):
            staff, row = self._readable_client(conn, actor=actor, client_id=client_id)
            self._log_reads(conn, actor=staff, action="get", client_ids=[row.client_id])
            return _client_model(row)

    def search_clients(self, *, actor: str, query: str, limit: int = 10) -> list[Client]:
        """Rank: exact > prefix (name, pinyin, initials, client id; phone tail) > name substring."""
        text = validation.search_query(query)
        limit = validation.bounded_int(limit, what="返回条数", low=1, high=100)
        with self._engine.begin() as conn:
            staff, scope = self._actor_scope(conn, actor)
            if scope.is_empty:
                return []
            found = _ClientSearch(conn, self._sql, scope, limit).run(text)
            self._log_reads(conn, actor=staff, action="search", client_ids=[row.client_id for row in found])
            return [_client_model(row) for row in found]

    def client_card(self, *, actor: str, client_id: str, today: date | None = None) -> ClientCard:
        day = self._today(today)
        with (
            self._audit_denials(actor=actor, action="card", client_id=client_id),
            self._engine.begin() as conn,
        ):
            staff, row = self._readable_client(conn, actor=actor, client_id=client_id)
            last = conn.execute(self._sql.latest_contact, {"client_id": row.client_id}).first()
            self._log_reads(conn, actor=staff, action="card", client_ids=[row.client_id])
        client = _client_model(row)
        last_day = None if last is None else self._local_day(last.occurred_at)
        due, _reason = follow_up_due(
            tier=client.tier,
            last_contact_day=last_day,
            agreed_next=None if last is None else last.next_follow_up,
            cadence=self._cadence,
            today=day,
        )
        birthday = None if client.birthday is None else next_birthday(client.birthday, day)
        return ClientCard(
            client=client,
            last_contact=None if last is None else _contact_model(last),
            days_since_contact=None if last_day is None else (day - last_day).days,
            next_follow_up=due,
            follow_up_overdue=due < day,
            upcoming_birthday=birthday,
            days_to_birthday=None if birthday is None else (birthday - day).days,
        )

    # ------------------------------------------------------------------ contacts
    def create_contact(self, *, actor: str, contact: NewContact) -> ContactRecord:
        values = self._validate_contact(contact)
        cid = values["client_id"]
        key = values["idempotency_key"]
        try:
            with (
                self._audit_denials(actor=actor, action="create_contact", client_id=cid),
                self._write_engine.begin() as conn,
            ):
                # The actor and the client's owner in one statement (one round trip less per insert);
                # the rule itself stays in `scopes`.
                normalized = _actor_code(actor)
                params = {"code": normalized, "client_id": cid}
                row = _active_actor(conn.execute(self._sql.writer_and_client, params).first(), normalized)
                staff = _staff_model(row)
                if row.client_client_id is None:
                    raise NotFound(f"未找到客户 {cid}")
                scopes.check_write_contact(staff, client_id=cid, client_rm_code=row.client_rm_code)
                # No look-up of the key first: the unique constraint decides (one query less per insert,
                # and it is the only check that is race-free anyway).
                values.update(rm_code=staff.code, created_at=self._now())
                key_row = conn.execute(self._sql.contact_insert, values).inserted_primary_key
                assert key_row is not None
                return _contact_model(_Values(id=key_row[0], **values))
        except IntegrityError:
            if key is None:
                raise
            # The key exists already (a retry, or another writer won the race): return that record.
            with self._engine.begin() as conn:
                existing = conn.execute(self._sql.contact_by_key, {"key": key}).first()
                if existing is None:
                    raise
                return _idempotent_hit(existing, cid)

    def _validate_contact(self, contact: NewContact) -> dict[str, Any]:
        cid = validation.client_id(contact.client_id)
        try:
            channel = Channel(contact.channel)
        except ValueError:
            raise InvalidInput(f"联系渠道无效：{contact.channel}") from None
        summary = validation.free_text(
            contact.summary, what="联系摘要", max_len=validation.MAX_SUMMARY_LEN, required=True
        )
        topics: list[str] = []
        for topic in contact.topics:
            cleaned = validation.free_text(topic, what="话题标签", max_len=validation.MAX_TOPIC_LEN)
            if cleaned and cleaned not in topics:
                topics.append(cleaned)
        if len(topics) > validation.MAX_TOPICS:
            raise InvalidInput(f"话题标签最多 {validation.MAX_TOPICS} 个")
        if contact.source not in CONTACT_SOURCES:
            raise InvalidInput(f"来源无效：{contact.source!r}（可选：{'/'.join(CONTACT_SOURCES)}）")
        now = self._now()
        occurred = contact.occurred_at or now
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=self._tz)
        occurred = occurred.astimezone(UTC)
        if occurred > now + _FUTURE_TOLERANCE:
            raise InvalidInput("联系时间不能晚于当前时间")
        if occurred.year < 2000:
            raise InvalidInput("联系时间无效（早于 2000 年）")
        if contact.next_follow_up is not None:
            if contact.next_follow_up < self._local_day(occurred):
                raise InvalidInput("下次回访日期不能早于联系日期")
            if contact.next_follow_up > self._local_day(occurred) + timedelta(days=3 * 366):
                raise InvalidInput("下次回访日期过远（最多三年内）")
        key = (contact.idempotency_key or "").strip() or None
        if key is not None and len(key) > validation.MAX_KEY_LEN:
            raise InvalidInput(f"幂等键过长（最多 {validation.MAX_KEY_LEN} 个字符）")
        return {
            "client_id": cid,
            "channel": channel.value,
            "occurred_at": occurred,
            "summary": summary,
            "topics": topics,
            "next_follow_up": contact.next_follow_up,
            "source": contact.source,
            "idempotency_key": key,
        }

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
        """Newest first. `rm_code` filters by the RM who recorded the contact; dates are inclusive."""
        limit = validation.bounded_int(limit, what="返回条数", low=1, high=1000)
        if since is not None and until is not None and since > until:
            raise InvalidInput("开始日期不能晚于结束日期")
        target = client_id if client_id is not None else None
        with self._audit_denials(actor=actor, action="contacts", client_id=target), self._tx() as session:
            conn = session.connection()
            staff, scope = self._actor_scope(conn, actor)
            conditions: list[ColumnElement[bool]] = [self._scope_clause(scope)]
            if client_id is not None:
                row = self._client_core(conn, client_id)
                scopes.check_read_client(scope, client_id=row.client_id, client_rm_code=row.rm_code)
                conditions.append(ContactRow.client_id == row.client_id)
            if rm_code is not None:
                code = validation.staff_code(rm_code, what="客户经理编号")
                scopes.check_rm_target(scope, rm_code=code)
                conditions.append(ContactRow.rm_code == code)
            if scope.is_empty:
                return []
            if since is not None:
                conditions.append(ContactRow.occurred_at >= self._day_start(since))
            if until is not None:
                conditions.append(ContactRow.occurred_at < self._day_start(until + timedelta(days=1)))
            stmt = (
                select(ContactRow)
                .join(ClientRow, ClientRow.client_id == ContactRow.client_id)
                .where(and_(*conditions))
                .order_by(ContactRow.occurred_at.desc(), ContactRow.id.desc())
                .limit(limit)
            )
            rows = list(session.scalars(stmt))
            self._log_reads(conn, actor=staff, action="contacts", client_ids=[r.client_id for r in rows])
            return [_contact_model(row) for row in rows]

    # ------------------------------------------------------------------ reminders
    def follow_ups(self, *, actor: str, today: date | None = None, horizon_days: int = 0) -> list[FollowUp]:
        """Clients due within `horizon_days` of today (overdue first, then by tier)."""
        horizon = validation.bounded_int(horizon_days, what="提前天数", low=0, high=366)
        day = self._today(today)
        with self._tx() as session:
            conn = session.connection()
            staff, scope = self._actor_scope(conn, actor)
            if scope.is_empty:
                return []
            latest_id = (
                select(ContactRow.id)
                .where(ContactRow.client_id == ClientRow.client_id)
                .order_by(ContactRow.occurred_at.desc(), ContactRow.id.desc())
                .limit(1)
                .correlate(ClientRow)
                .scalar_subquery()
            )
            stmt = (
                select(ClientRow, ContactRow)
                .outerjoin(ContactRow, ContactRow.id == latest_id)
                .where(self._scope_clause(scope))
            )
            result: list[FollowUp] = []
            for client_row, last in session.execute(stmt).all():
                client = _client_model(client_row)
                due, reason = follow_up_due(
                    tier=client.tier,
                    last_contact_day=None if last is None else self._local_day(last.occurred_at),
                    agreed_next=None if last is None else last.next_follow_up,
                    cadence=self._cadence,
                    today=day,
                )
                if due <= day + timedelta(days=horizon):
                    result.append(FollowUp(client=client, due=due, overdue=due < day, reason=reason))
            result.sort(
                key=lambda f: (f.due, _TIER_ORDER[f.client.tier], f.client.pinyin, f.client.client_id)
            )
            self._log_reads(
                conn, actor=staff, action="follow_ups", client_ids=[f.client.client_id for f in result]
            )
            return result

    def upcoming_birthdays(
        self, *, actor: str, days: int = 7, today: date | None = None
    ) -> list[BirthdayReminder]:
        window = validation.bounded_int(days, what="天数", low=0, high=366)
        day = self._today(today)
        with self._tx() as session:
            conn = session.connection()
            staff, scope = self._actor_scope(conn, actor)
            if scope.is_empty:
                return []
            stmt = select(ClientRow).where(
                self._scope_clause(scope), ClientRow.birth_mmdd.in_(sorted(mmdd_window(day, window)))
            )
            result: list[BirthdayReminder] = []
            for row in session.scalars(stmt):
                client = _client_model(row)
                assert client.birthday is not None  # birth_mmdd is set iff birthday is
                occurrence = next_birthday(client.birthday, day)
                if (occurrence - day).days <= window:
                    result.append(
                        BirthdayReminder(
                            client=client, birthday=occurrence, days_until=(occurrence - day).days
                        )
                    )
            result.sort(key=lambda b: (b.days_until, b.client.pinyin, b.client.client_id))
            self._log_reads(
                conn, actor=staff, action="birthdays", client_ids=[b.client.client_id for b in result]
            )
            return result

    # ------------------------------------------------------------------ import
    def import_clients(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
    ) -> ClientImportReport:
        """Admin only. Each row maps column → text (see `validation.client_row`); rows with errors are
        reported as (line number, reason) and skipped; the others are created, or updated by client_id.

        Line numbers default to 2, 3, ... (line 1 is the CSV header)."""
        lines = list(line_numbers) if line_numbers is not None else [i + 2 for i in range(len(rows))]
        if len(lines) != len(rows):
            raise InvalidInput("行号数量与数据行数不一致")
        today = self._today(None)
        errors: list[tuple[int, str]] = []
        created = updated = 0
        with self._audit_denials(actor=actor, action="import"), self._tx(durable=True) as session:
            staff = self._actor(session.connection(), actor)
            scopes.check_import(staff)
            rm_codes = set(
                session.scalars(
                    select(StaffRow.code).where(StaffRow.role == Role.RM.value, StaffRow.active.is_(True))
                )
            )
            parsed: list[tuple[int, validation.ClientFields]] = []
            seen: dict[str, int] = {}
            for line, raw in zip(lines, rows, strict=True):
                try:
                    fields = validation.client_row(raw, today=today)
                    if fields.rm_code not in rm_codes:
                        raise InvalidInput(f"客户经理 {fields.rm_code} 不存在或不是客户经理")
                    if fields.client_id is not None:
                        if fields.client_id in seen:
                            raise InvalidInput(
                                f"客户编号 {fields.client_id} 与第 {seen[fields.client_id]} 行重复"
                            )
                        seen[fields.client_id] = line
                except InvalidInput as exc:
                    errors.append((line, exc.message))
                    continue
                parsed.append((line, fields))
            next_number = _next_client_number(session)
            now = self._now()
            for line, fields in parsed:
                cid = fields.client_id
                if cid is None:
                    cid, next_number = f"C{next_number:04d}", next_number + 1
                try:
                    with session.begin_nested():  # a failing row leaves no trace, the others stay
                        is_new = _upsert_client(session, cid, fields, now)
                except IntegrityError as exc:
                    logger.warning("import line %s failed: %s", line, exc.orig)
                    errors.append((line, "写入数据库失败（数据冲突）"))
                    continue
                created += is_new
                updated += not is_new
        errors.sort()
        logger.info(
            "client import by %s: %d created, %d updated, %d errors", actor, created, updated, len(errors)
        )
        return ClientImportReport(created=created, updated=updated, errors=tuple(errors))


# ---------------------------------------------------------------------- statements
#: How a search statement filters to the read scope (see `_Statements._scoped`).
_SCOPE_KINDS = ("all", "one", "many")
#: The columns `_staff_model` (plus the active flag) and `_client_model` read.
_STAFF_COLUMNS = ("code", "name", "role", "team", "telegram_id", "active")
_CLIENT_COLUMNS = (
    "client_id", "name", "name_pinyin", "gender", "birthday", "phone", "aum_fen", "tier", "risk_level",
    "preferences", "family", "notes", "rm_code", "kyc_review_due", "aml_risk", "pep",
)  # fmt: skip


class _Statements:
    """Core statements of the hot paths, built once per adapter (SQLAlchemy caches their compiled form;
    building expressions per call costs more than running the query on SQLite)."""

    def __init__(self, dialect: str) -> None:
        staff, clients = StaffRow.__table__, ClientRow.__table__
        contacts, terms = ContactRow.__table__, ClientTermRow.__table__
        # Only what `_staff_model` / `_client_model` read: every result column costs decoding per row.
        actor = [staff.c[name] for name in _STAFF_COLUMNS]
        self.client_columns = [clients.c[name] for name in _CLIENT_COLUMNS]
        self.staff_by_code = select(*actor).where(staff.c.code == bindparam("code"))
        team = staff.alias("team")
        # string_agg / group_concat with a literal separator: `func.aggregate_strings` renders its
        # separator at execution time, one more string rewrite of the statement on every read.
        concat = func.string_agg if dialect == "postgresql" else func.group_concat
        team_rm_codes = (
            select(concat(team.c.code, literal_column("','")))
            .where(team.c.team == staff.c.team, team.c.role == Role.RM.value)
            .scalar_subquery()
        )
        self.staff_with_team: Select[Any] = select(*actor, team_rm_codes.label("team_rm_codes")).where(
            staff.c.code == bindparam("code")
        )
        # NULL client columns when the client does not exist (NotFound), no row when the staff does not.
        self.writer_and_client: Select[Any] = (
            select(
                *actor,
                clients.c.client_id.label("client_client_id"),
                clients.c.rm_code.label("client_rm_code"),
            )
            .select_from(staff.outerjoin(clients, clients.c.client_id == bindparam("client_id")))
            .where(staff.c.code == bindparam("code"))
        )
        self.client_by_id = select(clients).where(clients.c.client_id == bindparam("client_id"))
        self.latest_contact = (
            select(contacts)
            .where(contacts.c.client_id == bindparam("client_id"))
            .order_by(contacts.c.occurred_at.desc(), contacts.c.id.desc())
            .limit(1)
        )
        self.contact_by_key = select(contacts).where(contacts.c.idempotency_key == bindparam("key"))
        self.contact_insert = insert(ContactRow)
        self.log_insert = insert(AccessLogRow)
        # PostgreSQL: one INSERT ... SELECT unnest(ids) for a page of results (an executemany is one
        # INSERT per row in psycopg's pipeline). SQLite runs the executemany in-process.
        self.log_reads: Insert | None = None
        if dialect == "postgresql":
            log = AccessLogRow.__table__
            rows = select(
                bindparam("actor", type_=log.c.actor.type),
                func.unnest(bindparam("client_ids", type_=ARRAY(String))),
                bindparam("action", type_=log.c.action.type),
                true(),
                bindparam("at", type_=log.c.at.type),
            )
            columns = ["actor", "client_id", "action", "allowed", "at"]
            self.log_reads = insert(AccessLogRow).from_select(columns, rows)
        self._search: dict[tuple[str, str], Select[Any]] = {}
        self._probes: dict[tuple[tuple[str, ...], str, str], Select[Any]] = {}
        limit = bindparam("n", type_=Integer)
        for scoped in _SCOPE_KINDS:
            # Case-insensitive for latin names on both databases; CJK is unaffected by lower().
            like = func.lower(clients.c.name).like(bindparam("pattern"), escape="\\")
            stmt = self._scoped(select(clients.c.client_id).where(like), scoped)
            self._search[("like", scoped)] = stmt.order_by(clients.c.client_id).limit(limit)
            stmt = select(terms.c.client_id).join(clients, clients.c.client_id == terms.c.client_id)
            stmt = stmt.where(terms.c.term == bindparam("term"), like)
            stmt = self._scoped(stmt, scoped)
            self._search[("term", scoped)] = stmt.order_by(terms.c.client_id).limit(limit)
        self._lock = threading.Lock()

    def probes(self, columns: tuple[str, ...], scoped: str, substring: str) -> Select[Any]:
        """UNION ALL of one LIMITed range scan per column plus the substring lookup (`substring` is
        "term" or "like"), joined to the client rows; `probe` says which part a row came from
        (substring = last), `probe_key` is the probed column's value (NULL for substring matches).

        The parts return (client id, key) only and the wide rows are joined once: a short statement
        (psycopg caches the parsing of statements up to 4 kB; a UNION of full rows was longer) and
        narrow range scans that an index can answer alone.
        """
        key = (columns, scoped, substring)
        stmt = self._probes.get(key)
        if stmt is None:
            clients = ClientRow.__table__
            parts: list[Select[Any]] = []
            for i, name in enumerate(columns):
                column = clients.c[name]
                inner = select(clients.c.client_id, column.label("probe_key"))
                inner = inner.where(column >= bindparam(f"lo{i}"), column < bindparam(f"hi{i}"))
                inner = self._scoped(inner, scoped).order_by(column, clients.c.client_id)
                sub = inner.limit(bindparam("n", type_=Integer)).subquery(f"p{i}")
                parts.append(select(literal_column(str(i), Integer).label("probe"), *sub.c))
            tail = self._search[(substring, scoped)].limit(bindparam("m", type_=Integer)).subquery("ps")
            parts.append(
                select(
                    literal_column(str(len(columns)), Integer).label("probe"),
                    tail.c.client_id,
                    cast(null(), String).label("probe_key"),
                )
            )
            found = union_all(*parts).subquery("found")
            stmt = select(found.c.probe, found.c.probe_key, *self.client_columns).join(
                clients, clients.c.client_id == found.c.client_id
            )
            with self._lock:
                self._probes[key] = stmt
        return stmt

    @staticmethod
    def _scoped(stmt: Select[Any], scoped: str) -> Select[Any]:
        """Filter to the scope: "all" (no filter), "one" RM (the common case: a plain equality, no
        per-call re-rendering of an expanding IN), "many" RMs (IN with one parameter per RM, so the
        planner knows how many — an array parameter of unknown length misleads PostgreSQL's generic
        plans into walking the whole client table)."""
        rm_code = ClientRow.__table__.c.rm_code
        if scoped == "one":
            return stmt.where(rm_code == bindparam("code"))
        if scoped == "many":
            return stmt.where(rm_code.in_(bindparam("codes", expanding=True)))
        return stmt


class _Values:
    """Attribute access over a dict, so a just-inserted row converts like a fetched one."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


# ---------------------------------------------------------------------- search
class _ClientSearch:
    """Key-column probes (name, pinyin, initials, client id, phone tail) and the name-substring lookup
    in ONE statement: a UNION ALL of index range scans, each with its own LIMIT.

    Order: exact matches, then prefix matches (by column priority, then that column's order), then
    substring matches (by client id). Each range scan follows its (column, client_id) index, so LIMIT
    stops early even for "zhang" among 100k clients; an exact match sorts first inside its prefix range.
    """

    def __init__(self, conn: Connection, sql: _Statements, scope: scopes.ClientScope, limit: int) -> None:
        self._conn = conn
        self._sql = sql
        self._codes = sorted(scope.rm_codes)
        self._scoped = "all" if scope.all_clients else "one" if len(self._codes) == 1 else "many"
        self._limit = limit

    def run(self, query: str) -> list[Row[Any]]:
        pinyin = pinyin_query(query)
        digits = _digits(query)
        probes: list[tuple[str, str]] = []
        if pinyin:  # latin letters only: a Chinese-name range scan cannot match
            probes.append(("name_pinyin", pinyin))
            if len(pinyin) <= _MAX_INITIALS_QUERY:
                probes.append(("name_initials", pinyin))
        else:
            probes.append(("name", query))
        if _code_like(query) and any(ch.isdigit() for ch in query):  # client ids carry digits
            probes.append(("client_id", query.upper()))
        if digits is not None and len(digits) >= 4:
            probes.append(("phone_tail", digits[-4:]))

        columns = tuple(column for column, _ in probes)
        params = self._params()
        for i, (_column, value) in enumerate(probes):
            params[f"lo{i}"], params[f"hi{i}"] = value, prefix_upper_bound(value)
        # Substring matches fill the page after the probes; enough of them that clients already
        # found by a probe cannot crowd the others out.
        params["m"] = self._limit * (len(probes) + 1)
        lowered = query.lower()
        # Substring candidates come from the term index (every name substring up to MAX_TERM_LEN chars;
        # a longer query is looked up by its first MAX_TERM_LEN chars and checked with LIKE). An RM
        # owns a few hundred clients: scanning those (rm_code index) beats walking every "伟" client.
        params["pattern"] = f"%{escape_like(lowered)}%"
        if self._scoped != "all" and len(self._codes) <= _LIKE_SCAN_MAX_RMS:
            substring = "like"
        else:
            substring, params["term"] = "term", lowered[:MAX_TERM_LEN]
        stmt = self._sql.probes(columns, self._scoped, substring)
        rows = list(self._conn.execute(stmt, params))
        n_probes = len(columns)
        rows.sort(key=lambda r: (r.probe, r.probe_key or "", r.client_id))
        exact: dict[str, Row[Any]] = {}
        prefix: dict[str, Row[Any]] = {}
        partial: dict[str, Row[Any]] = {}
        for row in rows:
            if row.probe == n_probes:
                partial.setdefault(row.client_id, row)
                continue
            column, value = probes[row.probe]
            if column == "phone_tail":  # the tail matched; the full digits decide exact vs partial
                assert digits is not None
                if not (row.phone or "").endswith(digits):
                    continue
                is_exact = len(digits) > 4 and row.phone == digits
            else:
                is_exact = row.probe_key == value
            (exact if is_exact else prefix).setdefault(row.client_id, row)
        found = list(exact.values()) + [row for key, row in prefix.items() if key not in exact]
        seen = {row.client_id for row in found}
        found += [row for key, row in partial.items() if key not in seen]
        return found[: self._limit]

    def _params(self, **params: Any) -> dict[str, Any]:
        params["n"] = self._limit
        if self._scoped == "one":
            params["code"] = self._codes[0]
        elif self._scoped == "many":
            params["codes"] = self._codes
        return params


def _code_like(query: str) -> bool:
    return len(query) <= 32 and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in query)


def _digits(query: str) -> str | None:
    compact = query.replace(" ", "").replace("-", "").lstrip("+")
    return compact if compact.isdigit() and compact.isascii() else None


def _prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    # A range instead of LIKE 'x%': no metacharacter escaping, and a plain B-tree range scan on both DBs.
    return and_(column >= prefix, column < prefix_upper_bound(prefix))


# ---------------------------------------------------------------------- row helpers
def _resolve_tz(timezone: str | tzinfo | None) -> tzinfo:
    if timezone is None:
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    if isinstance(timezone, str):
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"未知时区：{timezone}") from None
    return timezone


def _create_engines(url: URL, *, echo: bool) -> tuple[Engine, Engine]:
    """(read engine, write engine). SQLite: one engine for both — it has one writer at a time, every
    transaction takes the write lock, and WAL + synchronous=NORMAL applies to every commit alike."""
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, echo=echo)
        return engine, engine
    return _postgres_engine(url, echo=echo, durable=False), _postgres_engine(url, echo=echo, durable=True)


def _postgres_engine(url: URL, *, echo: bool, durable: bool) -> Engine:
    """A pool whose connections commit durably or not, set once per connection (a per-transaction
    ``SET LOCAL`` was one more round trip on every write).

    Reads write only access-log rows; their commits need not wait for the WAL fsync (~4 ms per request
    here). A PostgreSQL server crash can thus lose the last fraction of a second of access-log rows,
    never business data, never consistency. The write pool sets ``synchronous_commit`` ON explicitly,
    so a server, database or role default of off cannot weaken business writes.
    """
    engine = create_engine(url, echo=echo, pool_recycle=1800)
    statement = f"SET synchronous_commit TO {'ON' if durable else 'OFF'}"

    @event.listens_for(engine, "connect")
    def _on_pg_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(statement)
        dbapi_connection.commit()

    return engine


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    memory = url.database in (None, "", ":memory:")
    if memory:
        engine = create_engine(
            url, echo=echo, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver's implicit transactions are disabled.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL survives application crashes; only an OS crash/power cut can lose the
                # last commits, never corrupt the file.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # The default 2 MB page cache thrashes at 100k clients / 1M contacts; memory-map reads too.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA mmap_size=268435456")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: a deferred transaction that later writes can fail with
        # SQLITE_BUSY immediately (no busy wait) when another process committed in between.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _actor_code(code: str) -> str:
    try:
        return validation.staff_code(code)
    except InvalidInput:
        raise UnknownStaff(f"未知员工编号：{code!r}") from None


def _active_actor(row: Row[Any] | None, code: str) -> Row[Any]:
    if row is None or not row.active:
        raise UnknownStaff(f"未知员工编号：{code}（未登记或已停用）")
    return row


def _count_clients(session: Session, rm_code: str) -> int:
    return (
        session.scalar(select(func.count()).select_from(ClientRow).where(ClientRow.rm_code == rm_code)) or 0
    )


def _idempotent_hit(existing: Any, client_id: str) -> ContactRecord:
    if existing.client_id != client_id:
        raise InvalidInput("该幂等键已用于另一位客户的联系记录")
    return _contact_model(existing)


def _next_client_number(session: Session) -> int:
    ids = session.scalars(select(ClientRow.client_id).where(_prefix(ClientRow.client_id, "C")))
    numbers = [int(cid[1:]) for cid in ids if cid[1:].isdigit()]
    return max(numbers, default=0) + 1


def _upsert_client(session: Session, client_id: str, fields: validation.ClientFields, now: datetime) -> bool:
    row = session.get(ClientRow, client_id)
    is_new = row is None
    if row is None:
        row = ClientRow(
            client_id=client_id,
            created_at=now,
            preferences="",
            family="",
            notes="",
            aml_risk="低",
            pep=False,
        )
        session.add(row)
    keys = pinyin_keys(fields.name)
    name_changed = is_new or row.name != fields.name
    row.name = fields.name
    row.name_pinyin, row.name_initials = keys.full, keys.initials
    row.birthday, row.birth_mmdd = fields.birthday, birthday_mmdd(fields.birthday)
    row.phone = fields.phone
    row.phone_tail = fields.phone[-4:] if fields.phone else None
    row.aum_fen = _fen(fields.aum)
    row.tier = fields.tier.value
    row.risk_level = fields.risk_level
    row.rm_code = fields.rm_code
    for key, value in fields.optional.items():
        setattr(row, key, value)
    row.updated_at = now
    session.flush()
    if name_changed:
        session.execute(delete(ClientTermRow).where(ClientTermRow.client_id == client_id))
        terms = [{"term": term, "client_id": client_id} for term in sorted(name_terms(fields.name))]
        if terms:
            session.execute(insert(ClientTermRow), terms)
    return is_new


def _staff_model(row: Any) -> Staff:
    return Staff(
        code=row.code, name=row.name, role=Role(row.role), team=row.team, telegram_id=row.telegram_id
    )


def _client_model(row: Any) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        pinyin=row.name_pinyin,
        gender=row.gender,
        birthday=row.birthday,
        phone=row.phone,
        aum=_yuan(row.aum_fen),
        tier=Tier(row.tier),
        risk_level=row.risk_level,
        preferences=row.preferences,
        family=row.family,
        notes=row.notes,
        rm_code=row.rm_code,
        kyc_review_due=row.kyc_review_due,
        aml_risk=row.aml_risk,
        pep=row.pep,
    )


def _contact_model(row: Any) -> ContactRecord:
    return ContactRecord(
        id=row.id,
        client_id=row.client_id,
        rm_code=row.rm_code,
        channel=Channel(row.channel),
        occurred_at=row.occurred_at,
        summary=row.summary,
        topics=tuple(row.topics or ()),
        next_follow_up=row.next_follow_up,
        source=row.source,
        created_at=row.created_at,
        idempotency_key=row.idempotency_key,
    )


__all__ = ["SqlCRM", "normalize_database_url"]
