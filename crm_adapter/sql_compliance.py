"""`SqlCRM`'s product-catalogue, KYC-review and risk-assessment operations (issues #12, #21), a mixin
kept out of `sql.py`.

It uses `SqlCRM`'s plumbing (transactions, actor and scope look-up, access log); see
`crm_adapter.port.CRMAdapter` for the guarantees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar

from crm_adapter import product_store, reminders, scopes, validation
from crm_adapter.models import KycReview, Product, ProductImportReport, RiskAssessmentDue, Staff

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_R = TypeVar("_R", bound=KycReview | RiskAssessmentDue)


class ComplianceOps:
    """Products (reference data: no scopes, not access-logged) and KYC reviews (scoped, logged)."""

    if TYPE_CHECKING:  # provided by SqlCRM

        def _tx(self) -> AbstractContextManager[Session]: ...

        def _now(self) -> datetime: ...

        def _today(self, today: date | None) -> date: ...

        def _actor(self, conn: Connection, code: str) -> Staff: ...

        def _actor_scope(self, conn: Connection, code: str) -> tuple[Staff, scopes.ClientScope]: ...

        def _audit_denials(
            self, *, actor: str, action: str, client_id: str | None = None
        ) -> AbstractContextManager[None]: ...

        def _log_reads(
            self, conn: Connection, *, actor: Staff, action: str, client_ids: Iterable[str]
        ) -> None: ...

        def _scoped_reminders(
            self, actor: str, action: str, fetch: Callable[[Session, scopes.ClientScope], list[_R]]
        ) -> list[_R]: ...

    def import_products(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
    ) -> ProductImportReport:
        """Admin only; upsert by product code (see `crm_adapter.products` for the columns)."""
        lines = validation.line_numbers(rows, line_numbers)
        with self._audit_denials(actor=actor, action="import_products"), self._tx() as session:
            scopes.check_import(self._actor(session.connection(), actor))
            created, updated, errors = product_store.import_rows(
                session, rows=rows, lines=lines, now=self._now()
            )
        logger.info(
            "product import by %s: %d created, %d updated, %d errors", actor, created, updated, len(errors)
        )
        return ProductImportReport(created=created, updated=updated, errors=tuple(errors))

    def search_products(self, *, query: str, limit: int = 10) -> list[Product]:
        text = validation.search_query(query)
        limit = validation.bounded_int(limit, what="返回条数", low=1, high=100)
        with self._tx() as session:
            return product_store.search(session, query=text, limit=limit)

    def list_products(self, *, status: str | None = None) -> list[Product]:
        with self._tx() as session:
            return product_store.list_all(session, status=status)

    def kyc_reviews_due(
        self, *, actor: str, today: date | None = None, horizon_days: int = 30
    ) -> list[KycReview]:
        horizon = validation.bounded_int(horizon_days, what="提前天数", low=0, high=366)
        day = self._today(today)
        return self._scoped_reminders(
            actor,
            "kyc_reviews",
            lambda session, scope: reminders.kyc_reviews_due(
                session, scope=scope, day=day, horizon_days=horizon
            ),
        )

    def risk_assessments_due(
        self, *, actor: str, today: date | None = None, horizon_days: int = 30, validity_months: int
    ) -> list[RiskAssessmentDue]:
        horizon = validation.bounded_int(horizon_days, what="提前天数", low=0, high=366)
        months = validation.bounded_int(validity_months, what="测评有效期（月）", low=1, high=120)
        day = self._today(today)
        return self._scoped_reminders(
            actor,
            "risk_assessments",
            lambda session, scope: reminders.risk_assessments_due(
                session, scope=scope, day=day, horizon_days=horizon, validity_months=months
            ),
        )


__all__ = ["ComplianceOps"]
