"""`SqlCRM`'s benefit ledger (issue #21), a mixin kept out of `sql.py`.

It uses `SqlCRM`'s plumbing (transactions, actor and scope look-up, access log); see
`crm_adapter.port.CRMAdapter` for the guarantees and `crm_adapter.benefits` for the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from crm_adapter import benefits, reminders, scopes, staffing, validation
from crm_adapter.errors import InvalidInput
from crm_adapter.mapping import client_model, contact_model
from crm_adapter.models import (
    BenefitImportReport,
    BenefitTally,
    BenefitUse,
    ClientBrief,
    NewBenefitUse,
    Staff,
    Tier,
)
from crm_adapter.orm import BenefitUseRow, ClientRow, ContactRow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_T = BenefitUseRow


class BenefitOps:
    """Record a use (scoped like a contact record, idempotent), read a client's uses and tallies
    (scoped, access-logged), import past uses (admin)."""

    if TYPE_CHECKING:  # provided by SqlCRM
        _engine: Engine

        def _tx(self) -> AbstractContextManager[Session]: ...

        def _now(self) -> datetime: ...

        def _today(self, today: date | None) -> date: ...

        _cadence: dict[Tier, int]
        _tz: tzinfo

        def _actor(self, conn: Connection, code: str) -> Staff: ...

        def _readable_client(self, conn: Connection, *, actor: str, client_id: str) -> tuple[Staff, Any]: ...

        def _client_core(self, conn: Connection, client_id: str) -> Any: ...

        def _audit_denials(
            self, *, actor: str, action: str, client_id: str | None = None
        ) -> AbstractContextManager[None]: ...

        def _log_reads(
            self, conn: Connection, *, actor: Staff, action: str, client_ids: Iterable[str]
        ) -> None: ...

    def record_benefit_use(self, *, actor: str, use: NewBenefitUse) -> BenefitUse:
        values = benefits.new_use(use, today=self._today(None))
        cid, key = values["client_id"], values["idempotency_key"]
        fp = benefits.fingerprint_of(values)
        normalized = staffing.actor_code(actor)
        try:
            with (
                self._audit_denials(actor=actor, action="benefit_use", client_id=cid),
                self._engine.begin() as conn,
            ):
                staff = self._actor(conn, normalized)
                row = self._client_core(conn, cid)
                scopes.check_write_benefit(staff, client_id=cid, client_rm_code=row.rm_code)
                if values["contact_id"] is not None:
                    owner = conn.scalar(
                        select(ContactRow.client_id).where(ContactRow.id == values["contact_id"])
                    )
                    if owner != cid:
                        raise InvalidInput(f"联系记录 {values['contact_id']} 不是该客户的记录")
                now = self._now()
                result = conn.execute(
                    insert(_T), {**values, "recorded_by": staff.code, "created_at": now, "fingerprint": fp}
                )
                assert result.inserted_primary_key is not None
                return benefits.created_now(
                    values, id_=result.inserted_primary_key[0], recorded_by=staff.code, now=now
                )
        except IntegrityError:
            # A redelivery (the key), the same use sent again (the fingerprint), or a lost race.
            with self._engine.begin() as conn:
                existing = _existing(conn, key=key, fp=fp, client_id=cid)
            if existing is None:
                raise
            return existing

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
        with (
            self._audit_denials(actor=actor, action="benefit_uses", client_id=client_id),
            self._engine.begin() as conn,
        ):
            staff, row = self._readable_client(conn, actor=actor, client_id=client_id)
            stmt = (
                select(_T)
                .where(*_period(row.client_id, since, until))
                .order_by(_T.used_on.desc(), _T.id.desc())
                .limit(limit)
            )
            found = [benefits.use_model(r) for r in conn.execute(stmt)]
            self._log_reads(conn, actor=staff, action="benefit_uses", client_ids=[row.client_id])
            return found

    def benefit_tallies(self, *, actor: str, client_id: str, since: date, until: date) -> list[BenefitTally]:
        with (
            self._audit_denials(actor=actor, action="benefit_uses", client_id=client_id),
            self._engine.begin() as conn,
        ):
            staff, row = self._readable_client(conn, actor=actor, client_id=client_id)
            stmt = (
                select(_T.benefit, func.count(), func.max(_T.used_on))
                .where(*_period(row.client_id, since, until))
                .group_by(_T.benefit)
                .order_by(_T.benefit)
            )
            found = [BenefitTally(benefit=b, used=n, last_used_on=last) for b, n, last in conn.execute(stmt)]
            self._log_reads(conn, actor=staff, action="benefit_uses", client_ids=[row.client_id])
            return found

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
        day = self._today(today)
        with (
            self._audit_denials(actor=actor, action="brief", client_id=client_id),
            self._engine.begin() as conn,
        ):
            staff, row = self._readable_client(conn, actor=actor, client_id=client_id)
            records = [
                contact_model(r)
                for r in conn.execute(
                    select(ContactRow.__table__)
                    .where(ContactRow.client_id == row.client_id)
                    .order_by(ContactRow.occurred_at.desc(), ContactRow.id.desc())
                    .limit(limit)
                )
            ]
            tallies = conn.execute(
                select(_T.benefit, func.count(), func.max(_T.used_on))
                .where(*_period(row.client_id, since, until))
                .group_by(_T.benefit)
                .order_by(_T.benefit)
            ).all()
            self._log_reads(conn, actor=staff, action="brief", client_ids=[row.client_id])
        card = reminders.card(
            client_model(row), records[0] if records else None, day=day, cadence=self._cadence, tz=self._tz
        )
        return ClientBrief(
            card=card,
            contacts=tuple(records),
            tallies=tuple(BenefitTally(benefit=b, used=n, last_used_on=last) for b, n, last in tallies),
        )

    def import_benefit_uses(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
    ) -> BenefitImportReport:
        """Admin only: bad rows reported by line and skipped; a use already in the ledger (same
        fingerprint, also twice in one file) is counted as a duplicate, never stored twice."""
        lines = validation.line_numbers(rows, line_numbers)
        parsed, errors = benefits.parse_rows(rows, lines, today=self._today(None))
        created = duplicates = 0
        with self._audit_denials(actor=actor, action="import_benefit_uses"), self._tx() as session:
            staff = self._actor(session.connection(), actor)
            scopes.check_import(staff)
            ids = {values["client_id"] for _, values in parsed}
            known = set(session.scalars(select(ClientRow.client_id).where(ClientRow.client_id.in_(ids))))
            fps = {benefits.fingerprint_of(values) for _, values in parsed}
            seen = set(session.scalars(select(_T.fingerprint).where(_T.fingerprint.in_(fps))))
            now = self._now()
            batch: list[dict[str, Any]] = []
            for line, values in parsed:
                if values["client_id"] not in known:
                    errors.append((line, f"未找到客户 {values['client_id']}"))
                    continue
                fp = benefits.fingerprint_of(values)
                if fp in seen:
                    duplicates += 1
                    continue
                seen.add(fp)
                batch.append({**values, "recorded_by": staff.code, "created_at": now, "fingerprint": fp})
            for chunk in _chunks(batch, 1000):
                session.execute(insert(_T), chunk)
            created = len(batch)
        logger.info("benefit-use import by %s: %d created, %d duplicates, %d errors",
                    actor, created, duplicates, len(errors))  # fmt: skip
        return BenefitImportReport(created=created, duplicates=duplicates, errors=tuple(sorted(errors)))


def _period(client_id: str, since: date | None, until: date | None) -> list[Any]:
    conditions: list[Any] = [_T.client_id == client_id]
    if since is not None and until is not None and since > until:
        raise InvalidInput("开始日期不能晚于结束日期")
    if since is not None:
        conditions.append(_T.used_on >= since)
    if until is not None:
        conditions.append(_T.used_on <= until)
    return conditions


def _existing(conn: Connection, *, key: str | None, fp: str, client_id: str) -> BenefitUse | None:
    if key is not None:
        row = conn.execute(select(_T).where(_T.idempotency_key == key)).first()
        if row is not None:
            if row.client_id != client_id:
                raise InvalidInput("该幂等键已用于另一位客户的权益记录")
            return benefits.use_model(row, duplicate=True)
    row = conn.execute(select(_T).where(_T.fingerprint == fp)).first()
    return None if row is None else benefits.use_model(row, duplicate=True)


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["BenefitOps"]
