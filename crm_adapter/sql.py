"""`SqlCRM`: the CRM port on SQLAlchemy 2.0 — SQLite (default, WAL) or PostgreSQL (psycopg 3).

One transaction per operation: an ORM `Session` for staff management, import, contact lists and
reminders; a Core connection with prebuilt statements (`crm_adapter.statements`) on the hot paths
(search, card, contact insert), where building ORM queries per call would cost more than running them.

Every commit is durable, access-log rows of reads included (they are audit evidence): one engine from
`crm_adapter.engines.create_database_engine`. On PostgreSQL concurrent writers share WAL flushes (group
commit), so throughput grows with threads; ``pool_pre_ping`` replaces connections a server restart
killed before a request uses them. The pieces: `engines`, `statements`, `search`, `mapping`,
`staffing`, `importing`, `reminders`; products and KYC reviews in `sql_compliance`, the benefit
ledger in `sql_benefits`, staff management in `sql_staff` (mixins).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, insert, select
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter import contacts, importing, reminders, scopes, staffing, validation
from crm_adapter.engines import create_database_engine, normalize_database_url
from crm_adapter.errors import AccessDenied, InvalidInput, NotFound
from crm_adapter.mapping import RowValues, client_model, contact_model, staff_model
from crm_adapter.masking import mask_personal_numbers
from crm_adapter.models import (
    BirthdayReminder,
    Client,
    ClientCard,
    ClientImportReport,
    ContactRecord,
    FollowUp,
    NewContact,
    Staff,
)
from crm_adapter.orm import AccessLogRow, ClientRow, ContactRow, create_tables
from crm_adapter.port import OnInsert
from crm_adapter.schedule import normalize_cadence
from crm_adapter.search import ClientSearch
from crm_adapter.sql_benefits import BenefitOps
from crm_adapter.sql_compliance import ComplianceOps
from crm_adapter.sql_staff import StaffOps
from crm_adapter.statements import Statements, scope_clause

logger = logging.getLogger(__name__)


class _AboutClient(Protocol):
    @property
    def client(self) -> Client: ...


_R = TypeVar("_R", bound=_AboutClient)  # a reminder: follow-up, birthday, KYC review


class SqlCRM(ComplianceOps, BenefitOps, StaffOps):
    """The CRM on a SQL database. See `crm_adapter.port.CRMAdapter` for the guarantees."""

    def __init__(
        self,
        database_url: str,
        *,
        follow_up_cadence: Mapping[str, int] | None = None,
        timezone: str | tzinfo | None = None,
        echo: bool = False,
        prepare_schema: Callable[[Engine], None] | None = None,
    ) -> None:
        """Open the database, its schema brought up to date by `prepare_schema(engine)` (the application
        passes its migrations, `bot.migrations.upgrade`); without it, missing tables are created from
        the ORM (`crm_adapter.orm.create_tables`).

        `timezone` decides what "today" is and which calendar day a contact happened on; naive
        datetimes passed in are read in it. Default: the machine's local zone.
        """
        self._cadence = normalize_cadence(follow_up_cadence)
        self._tz = validation.timezone(timezone)
        url = normalize_database_url(database_url)
        self.dialect = url.get_backend_name()
        self._engine = create_database_engine(url, durable=True, echo=echo)
        (prepare_schema or create_tables)(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._sql = Statements(self.dialect)
        self._closed = False
        self._lock = threading.Lock()
        logger.debug("CRM opened on %s", url.render_as_string(hide_password=True))

    # ------------------------------------------------------------------ plumbing
    @property
    def engine(self) -> Engine:
        """The engine of every operation; each commit is durable (access-log rows of reads too)."""
        return self._engine

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._engine.dispose()
                self._closed = True

    def __enter__(self) -> SqlCRM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One ORM transaction."""
        with self._sessions() as session, session.begin():
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
        row = {
            "actor": actor.strip().upper()[:32],
            "client_id": (client_id or "").strip().upper()[:32] or None,
            "action": action,
            "allowed": False,
            "at": self._now(),
        }
        with self._engine.begin() as conn:
            conn.execute(insert(AccessLogRow), [row])

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
        normalized = staffing.actor_code(code)
        row = conn.execute(self._sql.staff_by_code, {"code": normalized}).first()
        return staff_model(staffing.active_actor(row, normalized))

    def _actor_scope(self, conn: Connection, code: str) -> tuple[Staff, scopes.ClientScope]:
        """The acting staff and their read scope, in one round trip (the statement also brings the RM
        codes of the actor's team; `scopes` decides whether the scope uses them)."""
        normalized = staffing.actor_code(code)
        row = staffing.active_actor(
            conn.execute(self._sql.staff_with_team, {"code": normalized}).first(), normalized
        )
        staff = staff_model(row)
        # Staff codes are letters, digits, "_" and "-" (validation.staff_code): "," cannot occur in one.
        team_codes = row.team_rm_codes.split(",") if scopes.needs_team(staff) and row.team_rm_codes else []
        return staff, scopes.read_scope(staff, team_rm_codes=team_codes)

    def _client_core(self, conn: Connection, client_id: str) -> Row[Any]:
        cid = validation.client_id(client_id)
        row = conn.execute(self._sql.client_by_id, {"client_id": cid}).first()
        if row is None:
            raise NotFound(f"未找到客户 {cid}")
        return row

    def client_names(self) -> frozenset[str]:
        """Every client's name (system level, not access-logged: see the port)."""
        with self._engine.connect() as conn:
            return frozenset(str(name) for name in conn.scalars(self._sql.client_names) if name)

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
            return client_model(row)

    def search_clients(self, *, actor: str, query: str, limit: int = 10) -> list[Client]:
        """Rank: exact > prefix (name, pinyin, initials, client id; phone tail) > name substring."""
        text = validation.search_query(query)
        limit = validation.bounded_int(limit, what="返回条数", low=1, high=100)
        with self._engine.begin() as conn:
            staff, scope = self._actor_scope(conn, actor)
            if scope.is_empty:
                return []
            found = ClientSearch(conn, self._sql, scope, limit).run(text)
            self._log_reads(conn, actor=staff, action="search", client_ids=[row.client_id for row in found])
            return [client_model(row) for row in found]

    def client_card(self, *, actor: str, client_id: str, today: date | None = None) -> ClientCard:
        day = self._today(today)
        with (
            self._audit_denials(actor=actor, action="card", client_id=client_id),
            self._engine.begin() as conn,
        ):
            staff, row = self._readable_client(conn, actor=actor, client_id=client_id)
            last = conn.execute(self._sql.latest_contact, {"client_id": row.client_id}).first()
            self._log_reads(conn, actor=staff, action="card", client_ids=[row.client_id])
        return reminders.card(
            client_model(row),
            None if last is None else contact_model(last),
            day=day,
            cadence=self._cadence,
            tz=self._tz,
        )

    # ------------------------------------------------------------------ contacts
    def create_contact(
        self, *, actor: str, contact: NewContact, on_insert: OnInsert | None = None
    ) -> ContactRecord:
        """The summary is stored with personal numbers masked (a contact note is no place for an ID or
        card number; the client record holds them): the returned record carries the stored text. The
        same key, or the same content on the same day (`crm_adapter.contacts`), returns the earlier
        record flagged ``duplicate``."""
        values = validation.new_contact(contact, now=self._now(), tz=self._tz)
        values["summary"] = mask_personal_numbers(values["summary"])
        cid = values["client_id"]
        key = values["idempotency_key"]
        normalized = staffing.actor_code(actor)
        fp = contacts.fingerprint_of(values, rm_code=normalized, day=self._local_day(values["occurred_at"]))
        try:
            with (
                self._audit_denials(actor=actor, action="create_contact", client_id=cid),
                self._engine.begin() as conn,
            ):
                # The actor and the client's owner in one statement (one round trip less per insert);
                # the rule itself stays in `scopes`.
                params = {"code": normalized, "client_id": cid}
                row = staffing.active_actor(
                    conn.execute(self._sql.writer_and_client, params).first(), normalized
                )
                staff = staff_model(row)
                if row.client_client_id is None:
                    raise NotFound(f"未找到客户 {cid}")
                scopes.check_write_contact(staff, client_id=cid, client_rm_code=row.client_rm_code)
                # No look-up of the key or fingerprint first: the unique constraints decide (one query
                # less per insert, and the only check that is race-free anyway).
                values.update(rm_code=staff.code, created_at=self._now())
                key_row = conn.execute(self._sql.contact_insert, {**values, "content_fingerprint": fp})
                assert key_row.inserted_primary_key is not None
                record = contact_model(RowValues(id=key_row.inserted_primary_key[0], **values))
                if on_insert is not None:  # e.g. the audit append: commits or rolls back with the record
                    on_insert(conn, record)
                return record
        except IntegrityError:
            # A retry, the same contact sent again, or another writer won the race: return that record.
            with self._engine.begin() as conn:
                existing = contacts.find_existing(conn, self._sql, key=key, fp=fp, client_id=cid)
            if existing is None:
                raise
            return existing

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
        with self._audit_denials(actor=actor, action="contacts", client_id=client_id), self._tx() as session:
            conn = session.connection()
            staff, scope = self._actor_scope(conn, actor)
            conditions: list[ColumnElement[bool]] = [scope_clause(scope)]
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
            return [contact_model(row) for row in rows]

    # ------------------------------------------------------------------ reminders
    def follow_ups(self, *, actor: str, today: date | None = None, horizon_days: int = 0) -> list[FollowUp]:
        """Clients due within `horizon_days` of today (overdue first, then by tier)."""
        horizon = validation.bounded_int(horizon_days, what="提前天数", low=0, high=366)
        day = self._today(today)
        return self._scoped_reminders(
            actor,
            "follow_ups",
            lambda session, scope: reminders.follow_ups_due(
                session, scope=scope, day=day, horizon_days=horizon, cadence=self._cadence, tz=self._tz
            ),
        )

    def _scoped_reminders(
        self, actor: str, action: str, fetch: Callable[[Session, scopes.ClientScope], list[_R]]
    ) -> list[_R]:
        """A reminder list within the actor's scope, its clients written to the access log."""
        with self._tx() as session:
            conn = session.connection()
            staff, scope = self._actor_scope(conn, actor)
            if scope.is_empty:
                return []
            result = fetch(session, scope)
            self._log_reads(conn, actor=staff, action=action, client_ids=[r.client.client_id for r in result])
            return result

    def upcoming_birthdays(
        self, *, actor: str, days: int = 7, today: date | None = None
    ) -> list[BirthdayReminder]:
        window = validation.bounded_int(days, what="天数", low=0, high=366)
        day = self._today(today)
        return self._scoped_reminders(
            actor,
            "birthdays",
            lambda session, scope: reminders.birthdays_within(session, scope=scope, day=day, days=window),
        )

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
        lines = validation.line_numbers(rows, line_numbers)
        today = self._today(None)
        with self._audit_denials(actor=actor, action="import"), self._tx() as session:
            scopes.check_import(self._actor(session.connection(), actor))
            created, updated, errors = importing.import_rows(
                session, rows=rows, lines=lines, today=today, now=self._now()
            )
        logger.info(
            "client import by %s: %d created, %d updated, %d errors", actor, created, updated, len(errors)
        )
        return ClientImportReport(created=created, updated=updated, errors=tuple(errors))


__all__ = ["SqlCRM", "normalize_database_url"]
