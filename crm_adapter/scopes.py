"""The bank's access rules for client data, in one place.

* rm          — reads and writes only clients whose ``rm_code`` is the RM's own code.
* supervisor  — reads the clients of the RMs in their team; writes nothing (a supervisor may not log a
                contact record on an RM's client: records must come from whoever had the contact).
* trainer     — no client data at all.
* admin       — reads everything; may log contact records (data fixes) and import clients.

Collection queries (search, follow-ups, birthdays, contact lists without an explicit target) are silently
filtered to the scope; a request naming a target outside the scope (a client id, another RM's code)
raises `AccessDenied`. Every check is made by the adapter itself, never by the UI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from crm_adapter.errors import AccessDenied
from crm_adapter.models import Role, Staff

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClientScope:
    """Which clients an actor may read: all of them, or those owned by `rm_codes`."""

    actor: Staff
    all_clients: bool
    rm_codes: frozenset[str]

    @property
    def is_empty(self) -> bool:
        return not self.all_clients and not self.rm_codes

    def can_read(self, client_rm_code: str) -> bool:
        return self.all_clients or client_rm_code in self.rm_codes


def read_scope(actor: Staff, *, team_rm_codes: Iterable[str] = ()) -> ClientScope:
    """The read scope of `actor`; `team_rm_codes` are the RMs of the supervisor's team."""
    if actor.role is Role.ADMIN:
        return ClientScope(actor=actor, all_clients=True, rm_codes=frozenset())
    if actor.role is Role.RM:
        return ClientScope(actor=actor, all_clients=False, rm_codes=frozenset({actor.code}))
    if actor.role is Role.SUPERVISOR and actor.team:
        return ClientScope(actor=actor, all_clients=False, rm_codes=frozenset(team_rm_codes))
    return ClientScope(actor=actor, all_clients=False, rm_codes=frozenset())


def needs_team(actor: Staff) -> bool:
    """Whether `read_scope` needs the supervisor's team members."""
    return actor.role is Role.SUPERVISOR and bool(actor.team)


def can_write_contact(actor: Staff, *, client_rm_code: str) -> bool:
    if actor.role is Role.ADMIN:
        return True
    return actor.role is Role.RM and client_rm_code == actor.code


def can_import_clients(actor: Staff) -> bool:
    return actor.role is Role.ADMIN


def check_read_client(scope: ClientScope, *, client_id: str, client_rm_code: str) -> None:
    if not scope.can_read(client_rm_code):
        raise AccessDenied(deny_read_message(scope.actor, client_id=client_id))


def check_write_contact(actor: Staff, *, client_id: str, client_rm_code: str) -> None:
    if can_write_contact(actor, client_rm_code=client_rm_code):
        return
    if actor.role is Role.SUPERVISOR:
        raise AccessDenied(f"主管不能代客户经理登记联系记录（客户 {client_id}）")
    if actor.role is Role.TRAINER:
        raise AccessDenied("培训师无权访问客户数据")
    raise AccessDenied(f"无权为该客户登记联系记录（客户 {client_id} 不属于您）")


def check_write_benefit(actor: Staff, *, client_id: str, client_rm_code: str) -> None:
    """Recording a benefit use follows the contact-record rule: the client's RM, or an admin."""
    if can_write_contact(actor, client_rm_code=client_rm_code):
        return
    if actor.role is Role.SUPERVISOR:
        raise AccessDenied(f"主管不能代客户经理登记权益使用（客户 {client_id}）")
    if actor.role is Role.TRAINER:
        raise AccessDenied("培训师无权访问客户数据")
    raise AccessDenied(f"无权为该客户登记权益使用（客户 {client_id} 不属于您）")


def check_import(actor: Staff) -> None:
    if not can_import_clients(actor):
        raise AccessDenied("只有管理员可以导入客户")


def check_rm_target(scope: ClientScope, *, rm_code: str) -> None:
    """An explicit `rm_code` filter must be inside the scope."""
    if scope.all_clients or rm_code in scope.rm_codes:
        return
    if scope.actor.role is Role.TRAINER:
        raise AccessDenied("培训师无权访问客户数据")
    raise AccessDenied(f"无权查看客户经理 {rm_code} 的客户数据")


def deny_read_message(actor: Staff, *, client_id: str) -> str:
    if actor.role is Role.TRAINER:
        return "培训师无权访问客户数据"
    if actor.role is Role.SUPERVISOR:
        return f"无权查看该客户（客户 {client_id} 不属于您的团队）"
    return f"无权查看该客户（客户 {client_id} 不属于您）"


__all__ = [
    "ClientScope",
    "can_import_clients",
    "can_write_contact",
    "check_import",
    "check_read_client",
    "check_rm_target",
    "check_write_benefit",
    "check_write_contact",
    "deny_read_message",
    "needs_team",
    "read_scope",
]
