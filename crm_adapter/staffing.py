"""Staff records of `SqlCRM`: look-ups, upsert and soft removal, on an open ORM session.

The caller owns the transaction (business writes use a durable one). Removed staff stay in the table,
inactive: their contact records keep their author, and an inactive actor is `UnknownStaff`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from crm_adapter import validation
from crm_adapter.errors import InvalidInput, NotFound, UnknownStaff
from crm_adapter.mapping import staff_model
from crm_adapter.models import Role, Staff
from crm_adapter.orm import ClientRow, StaffRow

logger = logging.getLogger(__name__)


def validated_staff(staff: Staff) -> Staff:
    """`staff` with every field normalised, or `InvalidInput`."""
    code = validation.staff_code(staff.code)
    name = validation.person_name(staff.name, what="员工姓名", max_len=50)
    role = validation.role(staff.role)
    team = validation.team(staff.team)
    telegram_id = validation.telegram_id(staff.telegram_id)
    if role is Role.SUPERVISOR and team is None:
        raise InvalidInput("主管必须指定团队（--team）")
    return Staff(code=code, name=name, role=role, team=team, telegram_id=telegram_id)


def count_clients(session: Session, *, rm_code: str) -> int:
    stmt = select(func.count()).select_from(ClientRow).where(ClientRow.rm_code == rm_code)
    return session.scalar(stmt) or 0


def active_staff(session: Session, *, code: str) -> Staff:
    """The active staff member `code` (already validated), or `NotFound`."""
    row = session.get(StaffRow, code)
    if row is None or not row.active:
        raise NotFound(f"未找到员工 {code}")
    return staff_model(row)


def staff_by_telegram_id(session: Session, *, telegram_id: int) -> Staff | None:
    row = session.scalars(
        select(StaffRow).where(StaffRow.telegram_id == telegram_id, StaffRow.active.is_(True))
    ).first()
    return None if row is None else staff_model(row)


def list_active(session: Session) -> list[Staff]:
    rows = session.scalars(select(StaffRow).where(StaffRow.active.is_(True)).order_by(StaffRow.code))
    return [staff_model(row) for row in rows]


def upsert_staff(session: Session, *, staff: Staff, now: datetime) -> Staff:
    """Create or update (and reactivate) `staff`, already validated. A concurrent claim of the same
    Telegram id surfaces as `IntegrityError` at commit (the unique constraint)."""
    code, telegram_id = staff.code, staff.telegram_id
    if telegram_id is not None:
        holder = session.scalars(
            select(StaffRow.code).where(StaffRow.telegram_id == telegram_id, StaffRow.code != code)
        ).first()
        if holder is not None:
            raise InvalidInput(f"Telegram 用户 ID {telegram_id} 已绑定员工 {holder}")
    row = session.get(StaffRow, code)
    if row is None:
        row = StaffRow(code=code, created_at=now)
        session.add(row)
    elif staff.role is not Role.RM and row.role == Role.RM.value:
        owned = count_clients(session, rm_code=code)
        if owned:
            raise InvalidInput(f"员工 {code} 名下仍有 {owned} 位客户，请先转移客户再更改角色")
    row.name, row.role, row.team, row.telegram_id = staff.name, staff.role.value, staff.team, telegram_id
    row.active, row.updated_at = True, now
    session.flush()
    return staff_model(row)


def deactivate_staff(session: Session, *, code: str, now: datetime) -> None:
    """Soft delete: refused while the RM still owns clients; frees the Telegram id for reuse."""
    row = session.get(StaffRow, code)
    if row is None or not row.active:
        raise NotFound(f"未找到员工 {code}")
    owned = count_clients(session, rm_code=code)
    if owned:
        raise InvalidInput(f"员工 {code} 名下仍有 {owned} 位客户，请先转移客户后再删除")
    row.active, row.telegram_id, row.updated_at = False, None, now


def team_of(session: Session, *, actor: Staff) -> list[Staff]:
    """The RMs `actor` oversees: an RM itself, a supervisor's team, everyone for an admin."""
    if actor.role is Role.RM:
        return [actor]
    stmt = select(StaffRow).where(StaffRow.role == Role.RM.value, StaffRow.active.is_(True))
    if actor.role is Role.SUPERVISOR:
        if not actor.team:
            return []
        stmt = stmt.where(StaffRow.team == actor.team)
    elif actor.role is not Role.ADMIN:
        return []
    return [staff_model(row) for row in session.scalars(stmt.order_by(StaffRow.code))]


__all__ = [
    "active_staff",
    "count_clients",
    "deactivate_staff",
    "list_active",
    "staff_by_telegram_id",
    "team_of",
    "upsert_staff",
    "validated_staff",
]


def actor_code(code: str) -> str:
    """A well-formed staff code, or `UnknownStaff` (a malformed actor is nobody)."""
    try:
        return validation.staff_code(code)
    except InvalidInput:
        raise UnknownStaff(f"未知员工编号：{code!r}") from None


def active_actor(row: Row[Any] | None, code: str) -> Row[Any]:
    """The actor's row when it exists and is active, else `UnknownStaff`."""
    if row is None or not row.active:
        raise UnknownStaff(f"未知员工编号：{code}（未登记或已停用）")
    return row
