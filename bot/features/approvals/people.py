"""Four eyes compare people, not staff codes.

A person can hold more than one staff code over time: removing a member frees their Telegram id, and the
same person may be registered again under a new code. So a change's submitter is identified by their code
*and* the Telegram id they had when they submitted (recorded in the audit trail's submit event), plus the
Telegram id registered for their code now; an approver by their code and their Telegram id. Any overlap is
the same person, whatever the codes say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.core import ServiceError

if TYPE_CHECKING:
    from bot.audit import AuditTrail
    from crm_adapter.models import Staff

logger = logging.getLogger(__name__)

#: The Telegram id registered now for a staff code (None: none, or no such active member).
TelegramIdOf = Callable[[str], "int | None"]
#: The audit payload field holding the submitter's Telegram id at submission.
SUBMITTER_TELEGRAM_ID = "submitter_telegram_id"


def submitter_ids(
    audit: AuditTrail | None, *, kind: str, ref: str, code: str, telegram_id_of: TelegramIdOf | None
) -> set[int]:
    """Every Telegram id known for the submitter of `ref`: at submission (audit) and registered now."""
    ids: set[int] = set()
    if audit is not None:
        try:
            events = audit.find(kind=kind, ref=ref)
        except Exception as exc:  # fail closed: who submitted it cannot be established
            logger.exception("could not read the audit trail of %s", ref)
            raise ServiceError(f"{ref} 的提交记录暂时无法读取，无法核实提交人，请稍后再批准") from exc
        for event in events:
            value = event.payload.get(SUBMITTER_TELEGRAM_ID)
            if event.payload.get("action") == "submit" and isinstance(value, int):
                ids.add(value)
    if telegram_id_of is not None:
        now = telegram_id_of(code)
        if now is not None:
            ids.add(now)
    return ids


def same_person(
    approver: Staff, *, code: str, telegram_ids: set[int], telegram_id_of: TelegramIdOf | None
) -> bool:
    """The approver is the submitter (`code`, known by `telegram_ids`) under this or another code."""
    if approver.code == code:
        return True
    mine = {approver.telegram_id}
    if telegram_id_of is not None:  # the CLI's `--as CODE`: the id registered for that code
        mine.add(telegram_id_of(approver.code))
    return bool({i for i in mine if i is not None} & telegram_ids)


def check_not_submitter(
    approver: Staff,
    *,
    audit: AuditTrail | None,
    kind: str,
    ref: str,
    code: str,
    telegram_id_of: TelegramIdOf | None,
    message: str,
) -> None:
    """Refuse (ServiceError `message`) when the approver is the person who submitted `ref`."""
    ids = submitter_ids(audit, kind=kind, ref=ref, code=code, telegram_id_of=telegram_id_of)
    if same_person(approver, code=code, telegram_ids=ids, telegram_id_of=telegram_id_of):
        if approver.code != code:
            logger.warning(
                "%s tried to approve %s, submitted by the same person as %s", approver.code, ref, code
            )
        raise ServiceError(message)


__all__ = ["SUBMITTER_TELEGRAM_ID", "TelegramIdOf", "check_not_submitter", "same_person", "submitter_ids"]
