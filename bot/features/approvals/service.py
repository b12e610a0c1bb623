"""Four-eyes knowledge changes: an upload is a pending change until a second person approves it.

- A trainer's (or admin's) upload in chat or in the console twin is stored as a pending change, content
  addressed under `RM_DATA_DIR/knowledge_changes/`; nothing of it is served.
- Another trainer, a compliance officer or an admin approves (`/approve K3`) or rejects it; the submitter
  cannot approve their own change, but may withdraw it. Only the approved bytes are ingested: the file's
  hash is checked again at publication.
- Front-matter `effective_date` / `expiry_date` (Markdown) are honoured: an approved change with a future
  effective date waits (status approved) and is published from 00:00 of that day in the bank's time
  zone; a live one is removed from the knowledge base from 00:00 of its expiry date. `refresh()` does
  both; the bot runs it at start and just after every midnight.
- Every step is appended to the audit trail (kind `knowledge_change`, ref `K<id>`) in the same
  transaction as the step.
- Deciding (roles, never one's own, decided once, audited) is the one four-eyes workflow of
  `foureyes.py`, which trainers' curated answers go through too (`curated.py`, refs `A<id>`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.audit.records import record_payload
from bot.core import Clock, ServiceError, parse_record_id

# Re-exported: importers know these as part of the approvals service.
from bot.features.approvals.documents import (
    AdminPublisher,
    Publisher,
    dates_of,
    document_dates,
    sha256_of,
    store_bytes,
)
from bot.features.approvals.foureyes import Also, FourEyes
from bot.features.approvals.people import TelegramIdOf
from bot.features.approvals.review import Content, document_content
from bot.features.approvals.store import (
    APPROVED,
    EXPIRED,
    FAILED,
    LIVE,
    PENDING,
    ChangeStore,
    KnowledgeChange,
)
from crm_adapter.models import Staff

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.audit import AuditTrail
    from bot.features.approvals.curated import CuratedChangeService
    from knowledge import IngestReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decision:
    """An approval's outcome: the change as it is now, and the ingest report when it was published."""

    change: KnowledgeChange
    report: IngestReport | None = None


class DocumentKind:
    """Documents as a kind of four-eyes change (`foureyes.Kind`): refs `K3`, audit kind `knowledge_change`;
    an approved document waits for its effective date, then `KnowledgeChangeService` publishes it."""

    prefix = "K"
    audit_kind = "knowledge_change"
    approved = APPROVED
    no_such = "没有编号为 {ref} 的知识变更"
    ref_hint = "请写知识变更编号，例如 K3（/changes 查看待审批的变更）"
    may_not_approve = "只有培训师、合规人员或管理员可以审批知识库变更"
    may_not_submit = "只有培训师可以提交知识库变更"
    own_change = "{ref} 是您本人提交的：按四眼原则，须由另一位培训师或合规人员批准。"

    def __init__(self, store: ChangeStore) -> None:
        self.store = store

    @property
    def engine(self) -> Engine:
        return self.store.engine

    def load(self, item_id: int) -> KnowledgeChange | None:
        return self.store.get(change_id=item_id)

    def ref(self, item: KnowledgeChange) -> str:
        return item.ref

    def submitter(self, item: KnowledgeChange) -> str:
        return item.submitted_by

    def status(self, item: KnowledgeChange) -> str:
        return item.status

    def status_name(self, item: KnowledgeChange) -> str:
        return item.status_name

    def content(self, item: KnowledgeChange) -> Content:
        """The whole document (and its diff against the version it replaces)."""
        return document_content(self.store, item)

    def refusal(self, item: KnowledgeChange, today: date) -> str | None:
        if item.expiry_date is not None and item.expiry_date <= today:
            return f"{item.ref} 的失效日期 {item.expiry_date} 已到，不能批准（可驳回，或撤回后重新提交）"
        return None

    def payload(self, item: KnowledgeChange, action: str, extra: dict[str, object]) -> dict[str, object]:
        return record_payload(item.to_dict(), action=action, **extra)

    def decide(
        self,
        item: KnowledgeChange,
        *,
        new: str,
        at: datetime,
        decided_by: str,
        note: str | None,
        also: Also | None,
    ) -> KnowledgeChange | None:
        return self.store.transition(
            change_id=item.id, old=PENDING, new=new, at=at, decided_by=decided_by, note=note, also=also
        )


def parse_change_ref(text: str) -> int:
    """`K3`, `k3`, `#3` or `3` → 3."""
    number = parse_record_id(text.strip().lstrip("#").upper().removeprefix(DocumentKind.prefix))
    if number is None:
        raise ServiceError(DocumentKind.ref_hint)
    return number


class KnowledgeChangeService:
    """Documents through the four eyes (`foureyes.FourEyes`), then published on their dates."""

    def __init__(
        self,
        *,
        store: ChangeStore,
        publisher: Publisher,
        clock: Clock,
        changes_dir: Path,
        audit: AuditTrail | None = None,
        curated: CuratedChangeService | None = None,
        telegram_id_of: TelegramIdOf | None = None,
    ) -> None:
        self.store = store
        self.curated = curated  # curated answers share the approvals UI (refs A3 next to K3)
        self.publisher = publisher
        self.clock = clock
        self.changes_dir = changes_dir
        self.audit = audit
        self.four_eyes = FourEyes(
            DocumentKind(store), clock=clock, audit=audit, telegram_id_of=telegram_id_of
        )
        self.shown = self.four_eyes.shown  # which pages of what each approver has read

    def content(self, change_id: int) -> Content:
        """What an approver reads: the whole document (and its diff against the version it replaces)."""
        return self.four_eyes.content(change_id)

    # --- submitting ----------------------------------------------------------------------------
    def submit(self, staff: Staff, path: Path, *, file_name: str | None = None) -> KnowledgeChange:
        """Queue `path` for approval: its bytes are read once, and exactly those are kept with their hash
        (the original may be deleted or replaced afterwards)."""
        self.four_eyes.check_submitter(staff)
        name = file_name or path.name
        self.publisher.check_file(name)
        if not path.is_file():
            raise ServiceError(f"找不到文件：{name}")
        check_size = getattr(self.publisher, "check_size", None)
        if check_size is not None:
            check_size(path.stat().st_size)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ServiceError(f"无法读取文档：{name}") from exc
        return self.submit_bytes(staff, data, file_name=name)

    def submit_bytes(self, staff: Staff, data: bytes, *, file_name: str) -> KnowledgeChange:
        """Queue a document's bytes for approval, recorded as submitted by `staff`."""
        self.four_eyes.check_submitter(staff)
        name = file_name
        self.publisher.check_file(name)
        check_size = getattr(self.publisher, "check_size", None)
        if check_size is not None:
            check_size(len(data))
        effective, expiry = dates_of(name, data)
        today = self.clock.today()
        if expiry is not None and expiry <= today:
            raise ServiceError(f"文档《{name}》的失效日期 {expiry} 已到，不再受理")
        sha = hashlib.sha256(data).hexdigest()
        for other in self.store.list(statuses=(PENDING,)):
            if other.sha256 == sha:
                raise ServiceError(f"该文档已提交审批（{other.ref}），无需重复提交")
        # Content-addressed folder, original file name: the knowledge base names a source by its file.
        stored = self.changes_dir / sha[:16] / name
        store_bytes(stored, data)
        change = self.store.add(
            file_name=name,
            stored_path=str(stored),
            sha256=sha,
            submitted_by=staff.code,
            at=self.clock.utcnow(),
            effective_date=effective,
            expiry_date=expiry,
            also=self.four_eyes.submitted(staff),
        )
        logger.info("knowledge change %s submitted by %s: %s", change.ref, staff.code, name)
        return change

    # --- deciding ------------------------------------------------------------------------------
    def check_approvable(self, staff: Staff, change_id: int) -> KnowledgeChange:
        """The pending change `staff` may approve now, or ServiceError (`FourEyes.check_approvable`)."""
        return self.four_eyes.check_approvable(staff, change_id)

    def approve(self, staff: Staff, change_id: int) -> Decision:
        """Approve someone else's pending change; publish it now unless its effective date is ahead."""
        claimed = self.four_eyes.approve(staff, change_id)
        if claimed.effective_date is not None and claimed.effective_date > self.clock.today():
            return Decision(claimed)
        return self._publish(claimed, actor=staff.code)

    def reject(self, staff: Staff, change_id: int, reason: str) -> KnowledgeChange:
        """Reject a pending change (the submitter may withdraw their own)."""
        return self.four_eyes.reject(staff, change_id, reason)

    def recent(self, *, statuses: Sequence[str] | None = None, limit: int = 20) -> list[KnowledgeChange]:
        if statuses is None:
            return self.store.list(limit=limit)
        return self.store.list(statuses=tuple(statuses), limit=limit)

    def get(self, change_id: int) -> KnowledgeChange:
        return self.four_eyes.get(change_id)

    # --- effective and expiry dates ------------------------------------------------------------
    def refresh(self) -> list[KnowledgeChange]:
        """Publish approved changes whose effective date has come; withdraw live ones that expired."""
        today = self.clock.today()
        done: list[KnowledgeChange] = []
        for change in self.store.list(statuses=(APPROVED,), limit=1000):
            if change.effective_date is None or change.effective_date <= today:
                done.append(self._publish(change, actor="system").change)
        for change in self.store.list(statuses=(LIVE,), limit=1000):
            if change.expiry_date is not None and change.expiry_date <= today:
                expired = self._retire(change, note=f"{change.expiry_date} 起失效")
                if expired is not None:
                    done.append(expired)
        return done

    # --- internals -----------------------------------------------------------------------------
    def _publish(self, change: KnowledgeChange, *, actor: str) -> Decision:
        path = Path(change.stored_path)
        now = self.clock.utcnow()
        if change.expiry_date is not None and change.expiry_date <= self.clock.today():
            # Approved while in date, but its expiry came before it could be published: never served.
            expired = self.store.transition(
                change_id=change.id,
                old=APPROVED,
                new=EXPIRED,
                at=now,
                note=f"{change.expiry_date} 起失效，未发布",
                also=self._audited(actor, "expire"),
            )
            return Decision(expired or self.get(change.id))
        if not path.is_file() or sha256_of(path) != change.sha256:
            # Fail closed: what was approved is not what is on disk any more.
            failed = self.store.transition(
                change_id=change.id, old=APPROVED, new=FAILED, at=now, note="待发布文件缺失或已被改动",
                also=self._audited(actor, "fail"),
            )  # fmt: skip
            return Decision(failed or change)
        report: IngestReport | None = None
        try:
            report = self.publisher.ingest(path)
            reason = "；".join(r for _, r in report.failed)
        except ServiceError as exc:
            reason = str(exc)
        if report is None or not report.ok:
            failed = self.store.transition(
                change_id=change.id,
                old=APPROVED,
                new=FAILED,
                at=now,
                note=reason,
                also=self._audited(actor, "fail"),
            )
            return Decision(failed or change, report)
        source = next(iter(report.added + report.updated + report.unchanged), change.file_name)
        live = self.store.transition(
            change_id=change.id,
            old=APPROVED,
            new=LIVE,
            at=now,
            source=source,
            also=self._audited(actor, "publish"),
        )
        if live is None:  # published twice at once (start-up refresh and an approval): one wins
            return Decision(self.get(change.id), report)
        for older in self.store.list(statuses=(LIVE,), limit=1000):
            if older.id == live.id or older.file_name != live.file_name:
                continue
            # A new version of the same document replaces the old one (and its chunks, if stored apart).
            if older.source and older.source != source:
                self.publisher.remove(older.source)
            self.store.transition(
                change_id=older.id, old=LIVE, new=EXPIRED, at=now, note=f"被 {live.ref} 取代",
                also=self._audited(actor, "expire"),
            )  # fmt: skip
        logger.info("knowledge change %s live as %s", live.ref, source)
        return Decision(live, report)

    def _retire(self, change: KnowledgeChange, *, note: str) -> KnowledgeChange | None:
        if change.source:
            self.publisher.remove(change.source)
        return self.store.transition(
            change_id=change.id, old=LIVE, new=EXPIRED, at=self.clock.utcnow(), note=note,
            also=self._audited("system", "expire"),
        )  # fmt: skip

    def _audited(self, actor: str, action: str) -> Also | None:
        return self.four_eyes.audited(actor, action)


__all__ = [
    "AdminPublisher",
    "Decision",
    "DocumentKind",
    "KnowledgeChangeService",
    "Publisher",
    "dates_of",
    "document_dates",
    "parse_change_ref",
]
