"""Four-eyes curated answers: a trainer's `/curate` is a pending answer until a second person approves it.

The same workflow as documents (`foureyes.py`): trainers and admins submit; another trainer, a compliance
officer or an admin approves or rejects (`/approve A3`, `/reject A3 理由`), never the author, who may
withdraw their own. Retiring a live answer (`/uncurate`) needs no second person: withdrawing is always
allowed. Every step is appended to the audit trail (kind `curated_change`, ref `A<id>`) in the same
transaction as the step: an approval that cannot be audited is not served.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot import roles
from bot.core import Clock, ServiceError, parse_record_id
from bot.features.approvals.foureyes import Also, FourEyes
from bot.features.approvals.people import TelegramIdOf
from bot.features.approvals.review import Content, paginate
from bot.features.gaps.curated_store import LIVE, PENDING, REF_PREFIX, CuratedAnswer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.audit import AuditTrail
    from bot.features.gaps.curated import CuratedAnswers
    from crm_adapter.models import Staff

logger = logging.getLogger(__name__)

AUDIT_KIND = "curated_change"


def curated_content(c: CuratedAnswer) -> Content:
    """What an approver reads: every way the question was asked, the whole answer, its source."""
    questions = "\n".join(f"{i}. {q}" for i, q in enumerate(c.questions or (c.question,), 1))
    source = f"\n\n【来源】{c.source}" if c.source else ""
    asked = len(c.questions or (c.question,))
    body = f"【适用问题（{asked} 种问法）】\n{questions}\n\n【答案全文】\n{c.answer}{source}"
    digest = hashlib.sha256(f"{c.answer}\x00{c.source}\x00{questions}".encode()).hexdigest()
    return Content(
        ref=c.change_ref,
        key=f"{c.change_ref}:{digest}",
        title=f"{c.change_ref} 审定答案（{c.author_name} 编写）",
        submitter=c.author,
        pending=c.status == PENDING,
        pages=paginate(body),
    )


class CuratedKind:
    """Curated answers as a kind of four-eyes change (`foureyes.Kind`): approved means served."""

    prefix = REF_PREFIX
    audit_kind = AUDIT_KIND
    approved = LIVE
    no_such = "没有编号为 {ref} 的审定答案"
    ref_hint = "请写审定答案编号，例如 A3（/changes 查看待审批的变更）"
    may_not_approve = "只有培训师、合规人员或管理员可以审批审定答案"
    may_not_submit = "只有培训师可以编写审定答案"
    own_change = "{ref} 是您本人编写的：按四眼原则，须由另一位培训师、合规人员或管理员批准。"

    def __init__(self, answers: CuratedAnswers) -> None:
        self.answers = answers

    @property
    def engine(self) -> Engine:
        return self.answers.store.engine

    def load(self, item_id: int) -> CuratedAnswer | None:
        return self.answers.store.get(curated_id=item_id)

    def ref(self, item: CuratedAnswer) -> str:
        return item.change_ref

    def submitter(self, item: CuratedAnswer) -> str:
        return item.author

    def status(self, item: CuratedAnswer) -> str:
        return item.status

    def status_name(self, item: CuratedAnswer) -> str:
        return item.status_name

    def content(self, item: CuratedAnswer) -> Content:
        return curated_content(item)

    def refusal(self, item: CuratedAnswer, today: date) -> str | None:
        return None  # a curated answer has no dates

    def payload(self, item: CuratedAnswer, action: str, extra: dict[str, object]) -> dict[str, object]:
        return {"action": action, **item.to_dict(), **extra}

    def decide(
        self,
        item: CuratedAnswer,
        *,
        new: str,
        at: datetime,
        decided_by: str,
        note: str | None,
        also: Also | None,
    ) -> CuratedAnswer | None:
        return self.answers.decide(item.id, new=new, at=at, decided_by=decided_by, note=note, also=also)


def parse_curated_ref(text: str) -> int:
    """`A3`, `a3`, `#3` or `3` → 3."""
    number = parse_record_id(text.strip().lstrip("#").upper().removeprefix(REF_PREFIX))
    if number is None:
        raise ServiceError(CuratedKind.ref_hint)
    return number


class CuratedChangeService:
    """Submitting, deciding and retiring curated answers, through the one four-eyes workflow."""

    def __init__(
        self,
        *,
        answers: CuratedAnswers,
        clock: Clock,
        audit: AuditTrail | None = None,
        telegram_id_of: TelegramIdOf | None = None,
    ) -> None:
        self.answers = answers
        self.clock = clock
        self.audit = audit
        kind = CuratedKind(answers)
        self.four_eyes = FourEyes(kind, clock=clock, audit=audit, telegram_id_of=telegram_id_of)

    def submit(
        self,
        staff: Staff,
        *,
        questions: Sequence[str],
        answer: str,
        source: str | None,
        exchange_id: int | None,
    ) -> CuratedAnswer:
        """Store a curated answer pending approval (nothing of it is served yet)."""
        self.four_eyes.check_submitter(staff)
        added = self.answers.add(
            questions=questions,
            answer=answer,
            source=source,
            author=staff.code,
            author_name=staff.name,
            exchange_id=exchange_id,
            at=self.clock.utcnow(),
            status=PENDING,
            also=self.four_eyes.submitted(staff),
        )
        logger.info("curated answer %s submitted by %s", added.change_ref, staff.code)
        return added

    def check_approvable(self, staff: Staff, curated_id: int) -> CuratedAnswer:
        """The pending answer `staff` may approve now, or ServiceError (role, or its own author)."""
        return self.four_eyes.check_approvable(staff, curated_id)

    def approve(self, staff: Staff, curated_id: int) -> CuratedAnswer:
        """Approve someone else's pending curated answer: it is served from now on."""
        return self.four_eyes.approve(staff, curated_id)

    def reject(self, staff: Staff, curated_id: int, reason: str) -> CuratedAnswer:
        """Reject a pending curated answer (its author may withdraw their own)."""
        return self.four_eyes.reject(staff, curated_id, reason)

    def retire(self, staff: Staff, curated_id: int) -> CuratedAnswer:
        """Stop serving a live answer, or withdraw a pending one, at once (no second person needed)."""
        if not roles.may_submit(staff):
            raise ServiceError("只有培训师可以停用审定答案")
        before = self.answers.store.get(curated_id=curated_id)
        action = "retire" if before is not None and before.status == LIVE else "withdraw"
        retired = self.answers.retire(
            curated_id, at=self.clock.utcnow(), also=self.four_eyes.audited(staff.code, action)
        )
        if before is None or retired is None:
            raise ServiceError(f"没有正在使用或待审批的审定答案 {REF_PREFIX}{curated_id}。")
        logger.info("curated answer %s retired by %s", retired.change_ref, staff.code)
        return retired

    def recent(self, *, statuses: Sequence[str] | None = None, limit: int = 20) -> list[CuratedAnswer]:
        """Curated answers newest first (pending and decided ones; by default all statuses)."""
        if statuses is None:
            return self.answers.store.recent(limit=limit)
        return self.answers.store.recent(statuses=tuple(statuses), limit=limit)

    def get(self, curated_id: int) -> CuratedAnswer:
        return self.four_eyes.get(curated_id)

    def content(self, curated_id: int) -> Content:
        """What an approver reads: every way the question was asked, the whole answer, its source."""
        return self.four_eyes.content(curated_id)


__all__ = ["AUDIT_KIND", "CuratedChangeService", "CuratedKind", "curated_content", "parse_curated_ref"]
