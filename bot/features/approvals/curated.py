"""Four-eyes curated answers: a trainer's `/curate` is a pending answer until a second person approves it.

The same rules as documents (`service.py`): trainers and admins submit; another trainer, a compliance
officer or an admin approves or rejects (`/approve A3`, `/reject A3 理由`), never the author, who may
withdraw their own. Decisions are conditional updates (`CuratedStore.transition`), so one wins. Retiring
a live answer (`/uncurate`) needs no second person: withdrawing is always allowed. Every step is appended
to the audit trail (kind `curated_change`, ref `A<id>`); an approval that cannot be audited is undone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.core import Clock, ServiceError, parse_record_id
from bot.features.approvals.people import SUBMITTER_TELEGRAM_ID, TelegramIdOf, check_not_submitter
from bot.features.approvals.review import Content, curated_content
from bot.features.approvals.service import APPROVER_ROLES, SUBMITTER_ROLES
from bot.features.gaps.curated_store import LIVE, PENDING, REF_PREFIX, REJECTED, CuratedAnswer

if TYPE_CHECKING:
    from bot.audit import AuditTrail
    from bot.features.gaps.curated import CuratedAnswers
    from crm_adapter.models import Staff

logger = logging.getLogger(__name__)

AUDIT_KIND = "curated_change"


def parse_curated_ref(text: str) -> int:
    """`A3`, `a3`, `#3` or `3` → 3."""
    number = parse_record_id(text.strip().lstrip("#").upper().removeprefix(REF_PREFIX))
    if number is None:
        raise ServiceError("请写审定答案编号，例如 A3（/changes 查看待审批的变更）")
    return number


class CuratedChangeService:
    """Submitting, deciding and retiring curated answers, with the audit trail."""

    def __init__(
        self,
        *,
        answers: CuratedAnswers,
        clock: Clock,
        audit: AuditTrail | None = None,
        telegram_id_of: TelegramIdOf | None = None,
    ) -> None:
        self.answers = answers
        self.telegram_id_of = telegram_id_of  # four eyes compare people: the id registered for a code
        self.clock = clock
        self.audit = audit

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
        if staff.role not in SUBMITTER_ROLES:
            raise ServiceError("只有培训师可以编写审定答案")
        added = self.answers.add(
            questions=questions,
            answer=answer,
            source=source,
            author=staff.code,
            author_name=staff.name,
            exchange_id=exchange_id,
            at=self.clock.utcnow(),
            status=PENDING,
        )
        self._audit(staff.code, added, "submit", **{SUBMITTER_TELEGRAM_ID: staff.telegram_id})
        logger.info("curated answer %s submitted by %s", added.change_ref, staff.code)
        return added

    def check_approvable(self, staff: Staff, curated_id: int) -> CuratedAnswer:
        """The pending answer `staff` may approve now, or ServiceError (role, or its own author)."""
        found = self._pending(curated_id)
        if staff.role not in APPROVER_ROLES:
            raise ServiceError("只有培训师、合规人员或管理员可以审批审定答案")
        check_not_submitter(
            staff,
            audit=self.audit,
            kind=AUDIT_KIND,
            ref=found.change_ref,
            code=found.author,
            telegram_id_of=self.telegram_id_of,
            message=(
                f"{found.change_ref} 是您本人编写的：按四眼原则，须由另一位培训师、合规人员或管理员批准。"
            ),
        )
        return found

    def approve(self, staff: Staff, curated_id: int) -> CuratedAnswer:
        """Approve someone else's pending curated answer: it is served from now on."""
        found = self.check_approvable(staff, curated_id)
        done = self.answers.decide(curated_id, new=LIVE, at=self.clock.utcnow(), decided_by=staff.code)
        if done is None:
            raise ServiceError(f"{found.change_ref} 已由他人处理，请用 /changes 查看当前状态")
        try:
            self._audit(staff.code, done, "approve")
        except Exception:
            # Fail closed: an answer whose approval is not on the record is not served.
            logger.exception("could not audit the approval of %s; back to pending", done.change_ref)
            self.answers.store.transition(
                curated_id=done.id, old=(LIVE,), new=PENDING, at=self.clock.utcnow(), note="审计记录失败"
            )
            self.answers.all()  # reload: stop serving it in this process at once
            raise ServiceError(f"{done.change_ref} 未能写入审计记录，未启用，请稍后重试") from None
        logger.info("curated answer %s approved by %s", done.change_ref, staff.code)
        return done

    def reject(self, staff: Staff, curated_id: int, reason: str) -> CuratedAnswer:
        """Reject a pending curated answer (its author may withdraw their own)."""
        found = self._pending(curated_id)
        own = found.author == staff.code
        if not own and staff.role not in APPROVER_ROLES:
            raise ServiceError("只有培训师、合规人员或管理员可以审批审定答案")
        note = reason.strip() or ("提交人撤回" if own else "未说明理由")
        done = self.answers.decide(
            curated_id, new=REJECTED, at=self.clock.utcnow(), decided_by=staff.code, note=note
        )
        if done is None:
            raise ServiceError(f"{found.change_ref} 已由他人处理，请用 /changes 查看当前状态")
        self._audit(staff.code, done, "withdraw" if own else "reject")
        return done

    def retire(self, staff: Staff, curated_id: int) -> CuratedAnswer:
        """Stop serving a live answer, or withdraw a pending one, at once (no second person needed)."""
        if staff.role not in SUBMITTER_ROLES:
            raise ServiceError("只有培训师可以停用审定答案")
        before = self.answers.store.get(curated_id=curated_id)
        retired = self.answers.retire(curated_id, at=self.clock.utcnow())
        if before is None or retired is None:
            raise ServiceError(f"没有正在使用或待审批的审定答案 {REF_PREFIX}{curated_id}。")
        self._audit(staff.code, retired, "retire" if before.status == LIVE else "withdraw")
        logger.info("curated answer %s retired by %s", retired.change_ref, staff.code)
        return retired

    def recent(self, *, statuses: Sequence[str] | None = None, limit: int = 20) -> list[CuratedAnswer]:
        """Curated answers newest first (pending and decided ones; by default all statuses)."""
        if statuses is None:
            return self.answers.store.recent(limit=limit)
        return self.answers.store.recent(statuses=tuple(statuses), limit=limit)

    def get(self, curated_id: int) -> CuratedAnswer:
        found = self.answers.store.get(curated_id=curated_id)
        if found is None:
            raise ServiceError(f"没有编号为 {REF_PREFIX}{curated_id} 的审定答案")
        return found

    def content(self, curated_id: int) -> Content:
        """What an approver reads: every way the question was asked, the whole answer, its source."""
        return curated_content(self.get(curated_id))

    def _pending(self, curated_id: int) -> CuratedAnswer:
        found = self.get(curated_id)
        if found.status != PENDING:
            raise ServiceError(f"{found.change_ref} 当前状态为“{found.status_name}”，不能再审批")
        return found

    def _audit(self, actor: str, curated: CuratedAnswer, action: str, **extra: object) -> None:
        if self.audit is None:
            return
        payload = {"action": action, **curated.to_dict(), **extra}
        self.audit.append(kind=AUDIT_KIND, actor=actor, ref=curated.change_ref, payload=payload)


__all__ = ["AUDIT_KIND", "CuratedChangeService", "parse_curated_ref"]
