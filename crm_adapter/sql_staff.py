"""`SqlCRM`'s staff management (look-up, add, remove, team), a mixin kept out of `sql.py`.

It uses `SqlCRM`'s plumbing (transactions, clock, actor look-up); the rules live in `crm_adapter.staffing`.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from crm_adapter import staffing, validation
from crm_adapter.errors import InvalidInput
from crm_adapter.models import Staff

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


class StaffOps:
    """Staff look-up by code or Telegram id, the active list, add/reactivate, soft removal, a team."""

    if TYPE_CHECKING:  # provided by SqlCRM

        def _tx(self) -> AbstractContextManager[Session]: ...

        def _now(self) -> datetime: ...

        def _actor(self, conn: Connection, code: str) -> Staff: ...

    def get_staff(self, *, code: str) -> Staff:
        normalized = validation.staff_code(code)
        with self._tx() as session:
            return staffing.active_staff(session, code=normalized)

    def get_staff_by_telegram_id(self, *, telegram_id: int) -> Staff | None:
        with self._tx() as session:
            return staffing.staff_by_telegram_id(session, telegram_id=telegram_id)

    def list_staff(self) -> list[Staff]:
        with self._tx() as session:
            return staffing.list_active(session)

    def add_staff(self, *, staff: Staff) -> Staff:
        """Create or update by code (a removed member is reactivated)."""
        valid = staffing.validated_staff(staff)
        try:
            with self._tx() as session:
                return staffing.upsert_staff(session, staff=valid, now=self._now())
        except IntegrityError:
            # Lost a race on the unique Telegram id.
            raise InvalidInput(f"Telegram 用户 ID {valid.telegram_id} 已绑定其他员工") from None

    def remove_staff(self, *, code: str) -> None:
        """Deactivate (soft delete); refused while the RM owns clients. The member is then unknown."""
        normalized = validation.staff_code(code)
        with self._tx() as session:
            staffing.deactivate_staff(session, code=normalized, now=self._now())

    def team_members(self, *, actor: str) -> list[Staff]:
        with self._tx() as session:
            return staffing.team_of(session, actor=self._actor(session.connection(), actor))


__all__ = ["StaffOps"]
