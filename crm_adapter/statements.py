"""The Core statements of `SqlCRM`'s hot paths (search, card, contact insert, access log), per dialect."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.types import ARRAY

from crm_adapter import scopes
from crm_adapter.mapping import CLIENT_COLUMNS, STAFF_COLUMNS
from crm_adapter.models import Role
from crm_adapter.orm import AccessLogRow, ClientRow, ClientTermRow, ContactRow, StaffRow

logger = logging.getLogger(__name__)

#: How a search statement filters to the read scope (see `Statements._scoped`).
SCOPE_KINDS = ("all", "one", "many")


class Statements:
    """Core statements of the hot paths, built once per adapter (SQLAlchemy caches their compiled form;
    building expressions per call costs more than running the query on SQLite)."""

    def __init__(self, dialect: str) -> None:
        staff, clients = StaffRow.__table__, ClientRow.__table__
        contacts, terms = ContactRow.__table__, ClientTermRow.__table__
        # Only what `staff_model` / `client_model` read: every result column costs decoding per row.
        actor = [staff.c[name] for name in STAFF_COLUMNS]
        self.client_columns = [clients.c[name] for name in CLIENT_COLUMNS]
        self.staff_by_code = select(*actor).where(staff.c.code == bindparam("code"))
        self.client_names = select(clients.c.name).distinct()
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
        self.contact_by_fingerprint = select(contacts).where(
            contacts.c.content_fingerprint == bindparam("fingerprint")
        )
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
        for scoped in SCOPE_KINDS:
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


def scope_clause(scope: scopes.ClientScope) -> ColumnElement[bool]:
    """The read scope as a filter on the client table (ORM queries off the hot paths)."""
    if scope.all_clients:
        return true()
    return ClientRow.rm_code.in_(sorted(scope.rm_codes))


__all__ = ["SCOPE_KINDS", "Statements", "scope_clause"]
