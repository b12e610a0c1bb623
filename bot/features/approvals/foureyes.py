"""The one four-eyes workflow: submit, read every page, approve by a different person, re-check, audit.

Documents (`K3`, `service.py`) and trainers' curated answers (`A3`, `curated.py`) are two *kinds* of
change decided by this workflow; a kind only says how its records are loaded, read, moved from one status
to the next and described in the audit trail. The rules live here once:

- only approvers decide, never the person who submitted (under any of their staff codes, `people.py`);
  the submitter may withdraw their own;
- a change is decided once: every decision is a conditional update from `pending`, so one of two
  approvers pressing at once wins and the other is told;
- the approver must have been shown every page of exactly that content (`review.Shown`);
- each step is appended to the audit trail inside the store's transaction: a step that cannot be
  audited does not happen (fail closed);
- a kind may refuse an approval at the last moment (a document whose expiry date has come).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from bot import roles
from bot.core import Clock, ServiceError, parse_record_id
from bot.features.approvals.people import SUBMITTER_TELEGRAM_ID, TelegramIdOf, check_not_submitter
from bot.features.approvals.review import Content, Shown

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from bot.audit import AuditTrail
    from crm_adapter.models import Staff

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Run inside a store write's transaction with the written record (the audit append).
Also = Callable[["Connection", Any], object]

PENDING, REJECTED = "pending", "rejected"


class Kind(Protocol[T]):
    """What the workflow needs of one kind of change (its records are of type T)."""

    prefix: str  # the letter of its refs: K3, A3
    audit_kind: str  # the audit trail's `kind` of its steps
    approved: str  # the status an approval moves it to
    #: Refusals in the kind's own words.
    no_such: str  # "没有编号为 {ref} 的知识变更"
    ref_hint: str  # how to write a ref, when none was given
    may_not_approve: str  # the role may not decide
    may_not_submit: str
    own_change: str  # "{ref} 是您本人提交的：…"

    @property
    def engine(self) -> Engine: ...

    def load(self, item_id: int) -> T | None: ...

    def ref(self, item: T) -> str: ...

    def submitter(self, item: T) -> str: ...

    def status(self, item: T) -> str: ...

    def status_name(self, item: T) -> str: ...

    def content(self, item: T) -> Content: ...

    def refusal(self, item: T, today: date) -> str | None:
        """Why it may not be approved now although pending (e.g. its expiry date came), or None."""
        ...

    def payload(self, item: T, action: str, extra: dict[str, object]) -> dict[str, object]: ...

    def decide(
        self, item: T, *, new: str, at: datetime, decided_by: str, note: str | None, also: Also | None
    ) -> T | None:
        """Move a pending item to `new`; None when it is not pending any more (someone else won)."""
        ...


class FourEyes(Generic[T]):
    """Deciding the changes of one kind (thread-safe: the stores' conditional updates decide races)."""

    def __init__(
        self,
        kind: Kind[T],
        *,
        clock: Clock,
        audit: AuditTrail | None = None,
        telegram_id_of: TelegramIdOf | None = None,
        shown: Shown | None = None,
    ) -> None:
        self.kind = kind
        self.clock = clock
        self.audit = audit
        self.telegram_id_of = telegram_id_of  # four eyes compare people: the id registered for a code
        self.shown = shown if shown is not None else Shown()

    # --- reading -------------------------------------------------------------------------------
    def parse_ref(self, text: str) -> int:
        """`K3`, `k3`, `#3` or `3` → 3 (with this kind's letter)."""
        number = parse_record_id(text.strip().lstrip("#").upper().removeprefix(self.kind.prefix))
        if number is None:
            raise ServiceError(self.kind.ref_hint)
        return number

    def get(self, item_id: int) -> T:
        found = self.kind.load(item_id)
        if found is None:
            raise ServiceError(self.kind.no_such.format(ref=f"{self.kind.prefix}{item_id}"))
        return found

    def content(self, item_id: int) -> Content:
        """What an approver reads: the whole change, in pages."""
        return self.kind.content(self.get(item_id))

    def first_unread(self, staff: Staff, item_id: int) -> tuple[Content, int | None]:
        """The change's content and the first page of it not shown to `staff` yet (None: all were)."""
        content = self.content(item_id)
        return content, self.shown.first_unseen(staff.code, content)

    # --- submitting ----------------------------------------------------------------------------
    def check_submitter(self, staff: Staff) -> None:
        if not roles.may_submit(staff):
            raise ServiceError(self.kind.may_not_submit)

    def submitted(self, staff: Staff) -> Also | None:
        """The audit step of a submission (recording the submitter's Telegram id: `people.py`)."""
        return self.audited(staff.code, "submit", **{SUBMITTER_TELEGRAM_ID: staff.telegram_id})

    # --- deciding ------------------------------------------------------------------------------
    def pending(self, item_id: int) -> T:
        item = self.get(item_id)
        if self.kind.status(item) != PENDING:
            ref, name = self.kind.ref(item), self.kind.status_name(item)
            raise ServiceError(f"{ref} 当前状态为“{name}”，不能再审批")
        return item

    def check_approvable(self, staff: Staff, item_id: int) -> T:
        """The pending change `staff` may approve now, or ServiceError: a role that may not approve, the
        same person who submitted it (under any of their codes), or the kind's own refusal."""
        item = self.pending(item_id)
        if not roles.may_approve(staff):
            raise ServiceError(self.kind.may_not_approve)
        ref = self.kind.ref(item)
        check_not_submitter(
            staff,
            audit=self.audit,
            kind=self.kind.audit_kind,
            ref=ref,
            code=self.kind.submitter(item),
            telegram_id_of=self.telegram_id_of,
            message=self.kind.own_change.format(ref=ref),
        )
        refusal = self.kind.refusal(item, self.clock.today())  # the bank's time zone
        if refusal is not None:
            raise ServiceError(refusal)
        return item

    def approve(self, staff: Staff, item_id: int) -> T:
        """Approve someone else's pending change: it moves to the kind's approved status."""
        item = self.check_approvable(staff, item_id)
        try:
            return self._decide(staff, item, new=self.kind.approved, note=None, action="approve")
        except ServiceError:
            raise
        except Exception:
            # Fail closed: the approval and its audit row commit together or not at all. The approver is
            # told in one line that nothing was put in service (other steps reach the general error).
            ref = self.kind.ref(item)
            logger.exception("could not record the approval of %s; it stays pending", ref)
            raise ServiceError(f"{ref} 未能写入审计记录，未启用，请稍后重试") from None

    def reject(self, staff: Staff, item_id: int, reason: str) -> T:
        """Reject a pending change (the submitter may withdraw their own)."""
        item = self.pending(item_id)
        own = self.kind.submitter(item) == staff.code
        if not own and not roles.may_approve(staff):
            raise ServiceError(self.kind.may_not_approve)
        note = reason.strip() or ("提交人撤回" if own else "未说明理由")
        return self._decide(staff, item, new=REJECTED, note=note, action="withdraw" if own else "reject")

    def _decide(self, staff: Staff, item: T, *, new: str, note: str | None, action: str) -> T:
        ref = self.kind.ref(item)
        done = self.kind.decide(
            item,
            new=new,
            at=self.clock.utcnow(),
            decided_by=staff.code,
            note=note,
            also=self.audited(staff.code, action),  # in the same transaction: no step without its row
        )
        if done is None:
            raise ServiceError(f"{ref} 已由他人处理，请用 /changes 查看当前状态")
        logger.info("%s %s by %s", ref, action, staff.code)
        return done

    # --- the audit trail -----------------------------------------------------------------------
    def audited(self, actor: str, action: str, **extra: object) -> Also | None:
        """The audit append of a step, run inside the store's transaction (a step that cannot be audited
        does not happen); on another database than the trail's, it still runs inside that transaction,
        appending through the trail's own."""
        audit = self.audit
        if audit is None:
            return None
        joined = audit.shares_database(self.kind.engine)
        kind = self.kind

        def append(conn: Connection, item: Any) -> None:
            payload = kind.payload(item, action, dict(extra))
            if joined:
                audit.append_in(conn, kind=kind.audit_kind, actor=actor, ref=kind.ref(item), payload=payload)
            else:
                audit.append(kind=kind.audit_kind, actor=actor, ref=kind.ref(item), payload=payload)

        return append


__all__ = ["PENDING", "REJECTED", "Also", "FourEyes", "Kind"]
