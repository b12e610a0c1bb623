"""The composition root: settings → CRM → knowledge base → conversation log → application services.

Every front end (CLI, console twin, Telegram) opens what it needs here, once; whatever this function
opened it closes in reverse order. Parts handed in (tests, the Telegram Application) are borrowed and
left open.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from bot.core import Clock, KnowledgeService
from bot.features.approvals import CuratedChangeService, KnowledgeChangeService
from bot.features.approvals.store import audited_changes
from bot.features.ask import AskService, audited_exchanges
from bot.features.benefits import BenefitService, BriefService, log_offer, use_from_log
from bot.features.benefits.service import audited_benefit_uses
from bot.features.clients import ClientService
from bot.features.contact_log import ContactLogService
from bot.features.contact_log.service import audited_contacts
from bot.features.knowledge_admin import KnowledgeAdminService
from bot.features.message_check import CheckStore, MessageCheckService
from bot.features.privacy import ClientPrivacy
from bot.features.supervision import SupervisionService
from bot.features.today import TodayService
from bot.identity import StaffDirectory

# Opening the parts lives in `bot.parts`; importers and tests know these names from here.
from bot.parts import build_llm, open_audit, open_crm, open_knowledge_base, seeded_contact_hook
from knowledge.conduct_model import default_model

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine

    from bot.audit import AuditTrail, RecordKind
    from bot.convlog import ConversationLog
    from bot.features.gaps import CuratedAnswers, GapService
    from bot.settings import Settings
    from crm_adapter import CRMAdapter

logger = logging.getLogger(__name__)


class NotOpened(RuntimeError):
    """A front end asked for a part it did not open (a programming error, not a user error)."""


@dataclass
class Services:
    """The open parts and the feature services built on them. Use as a context manager, or `close()`."""

    settings: Settings
    clock: Clock
    _kb: KnowledgeService | None = None
    _crm: CRMAdapter | None = None
    _log: ConversationLog | None = None
    _audit: AuditTrail | None = None
    #: Publishing an approved document returns once its vectors are stored too (the command line, whose
    #: process ends right after), not as soon as it is searchable (the bot, which follows them).
    wait_for_vectors: bool = False
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _features: dict[str, Any] = field(default_factory=dict)

    # --- parts ---------------------------------------------------------------------------------
    @property
    def kb(self) -> KnowledgeService:
        return _need(self._kb, "knowledge base")

    @property
    def crm(self) -> CRMAdapter:
        return _need(self._crm, "CRM")

    @property
    def log(self) -> ConversationLog:
        return _need(self._log, "conversation log")

    @property
    def audit(self) -> AuditTrail | None:
        """The audit trail (opened with the conversation log, on the same database)."""
        return self._audit

    # --- feature services (built on first use from the parts) ------------------------------------
    def _feature(self, name: str, build: Any) -> Any:
        if name not in self._features:
            self._features[name] = build()
        return self._features[name]

    @property
    def staff(self) -> StaffDirectory:
        return self._feature("staff", lambda: StaffDirectory(self.crm))

    @property
    def ask(self) -> AskService:
        def build() -> AskService:
            return AskService(
                kb=self.kb,
                log=self.log,
                clients=self.clients if self._crm else None,
                audit=self._audit,
                curated=self.curated,
                on_gap=lambda question: self.curated.vectors.warm(self.privacy.redact(question)),
                counts=self.benefits.count_answer if self._crm else None,
            )

        return self._feature("ask", build)

    @property
    def clients(self) -> ClientService:
        def build() -> ClientService:
            return ClientService(
                crm=self.crm, kb=self._kb, clock=self.clock, audit=self._audit, names=self.privacy.names
            )

        return self._feature("clients", build)

    @property
    def contacts(self) -> ContactLogService:
        def build() -> ContactLogService:
            contacts = ContactLogService(
                crm=self.crm, clients=self.clients, clock=self.clock, audit=self._audit
            )
            contacts.benefit_offer = partial(log_offer, self.benefits)
            contacts.record_benefit = partial(use_from_log, self.benefits)
            return contacts

        return self._feature("contacts", build)

    @property
    def benefits(self) -> BenefitService:
        def build() -> BenefitService:
            return BenefitService(crm=self.crm, clients=self.clients, clock=self.clock, audit=self._audit)

        return self._feature("benefits", build)

    @property
    def brief(self) -> BriefService:
        def build() -> BriefService:
            return BriefService(crm=self.crm, benefits=self.benefits, clock=self.clock, audit=self._audit)

        return self._feature("brief", build)

    @property
    def check_store(self) -> CheckStore:
        """Recorded message checks (on the conversation log's database, audited)."""
        return self._feature("check_store", lambda: CheckStore(self.log.engine, self._audit))

    @property
    def message_check(self) -> MessageCheckService:
        """/check and check-message: the conduct rules and the learned second opinion, plus client names,
        suitability and records."""

        def build() -> MessageCheckService:
            with_crm = self._crm is not None
            return MessageCheckService(
                clock=self.clock,
                names=self.crm.client_names if with_crm else None,
                clients=self.clients if with_crm else None,
                catalogue=self.contacts.catalogue if with_crm else None,
                store=self.check_store if self._log is not None else None,
                model=default_model(),  # packaged with the rules; a broken file fails the check closed
            )

        return self._feature("message_check", build)

    @property
    def today(self) -> TodayService:
        def build() -> TodayService:
            unused = self.benefits.unused if self._kb is not None else None  # the table needs the KB
            return TodayService(crm=self.crm, clock=self.clock, audit=self._audit, unused_benefits=unused)

        return self._feature("today", build)

    @property
    def supervision(self) -> SupervisionService:
        return self._feature(
            "supervision",
            lambda: SupervisionService(
                crm=self.crm,
                log=self.log,
                clock=self.clock,
                privacy=self.privacy,
                audit=self._audit,
                checks=self.check_store,
            ),
        )

    @property
    def privacy(self) -> ClientPrivacy:
        """Client names and numbers kept out of what trainers see (numbers only without a CRM)."""
        return self._feature("privacy", lambda: ClientPrivacy(self._crm))

    @property
    def curated(self) -> CuratedAnswers:
        def build() -> CuratedAnswers:
            from bot.features.gaps import CuratedAnswers, QuestionVectors
            from bot.features.gaps.curated import COLLECTION as CURATED
            from bot.features.gaps.vectors import COLLECTION as QUESTIONS
            from bot.parts import vector_collection

            vectors = QuestionVectors(self.log.engine, index=vector_collection(self.settings, QUESTIONS))
            index = vector_collection(self.settings, CURATED)
            return CuratedAnswers.on(self.log.engine, vectors=vectors, index=index, privacy=self.privacy)

        return self._feature("curated", build)

    @property
    def gaps(self) -> GapService:
        def build() -> GapService:
            from bot.features.gaps import GapService

            return GapService(
                log=self.log,
                kb=self._kb,
                curated=self.curated,
                privacy=self.privacy,
                clock=self.clock,
                supervision=self.supervision if self._crm is not None else None,
                changes=self.curated_changes,
            )

        return self._feature("gaps", build)

    @property
    def curated_changes(self) -> CuratedChangeService:
        """Four eyes for trainers' curated answers (decided through the approvals' commands)."""

        def build() -> CuratedChangeService:
            return CuratedChangeService(
                answers=self.curated,
                clock=self.clock,
                audit=self._audit,
                telegram_id_of=self._telegram_id_of(),
            )

        return self._feature("curated_changes", build)

    @property
    def knowledge(self) -> KnowledgeAdminService:
        def build() -> KnowledgeAdminService:
            on_change = self.clients.forget_knowledge if self._crm is not None else (lambda: None)
            return KnowledgeAdminService(
                kb=self.kb,
                on_change=on_change,
                max_upload_mb=self.settings.rm_max_upload_mb,
                audit=self._audit,
            )

        return self._feature("knowledge", build)

    @property
    def approvals(self) -> KnowledgeChangeService:
        def build() -> KnowledgeChangeService:
            from bot.features.approvals import AdminPublisher, ChangeStore

            return KnowledgeChangeService(
                store=ChangeStore(self.log),
                publisher=AdminPublisher(self.knowledge, self.kb, wait=self.wait_for_vectors),
                clock=self.clock,
                changes_dir=self.settings.ensure_data_dir() / "knowledge_changes",
                audit=self._audit,
                curated=self.curated_changes,
                telegram_id_of=self._telegram_id_of(),
            )

        return self._feature("approvals", build)

    def _telegram_id_of(self) -> Callable[[str], int | None] | None:
        """Four eyes compare people: the Telegram id registered for a staff code (None without a CRM)."""
        if self._crm is None:
            return None
        crm = self._crm

        def lookup(code: str) -> int | None:
            from crm_adapter import InvalidInput, NotFound

            try:
                return crm.get_staff(code=code).telegram_id
            except (NotFound, InvalidInput):  # removed, or never registered: no id of theirs now
                return None

        return lookup

    # --- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close what `open_services` opened, in reverse order (borrowed parts stay open)."""
        curated = self._features.get("curated")
        if curated is not None:  # background question embedding writes to the log's database
            curated.vectors.close()
        self._features.clear()
        self._stack.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _need(part: Any, what: str) -> Any:
    if part is None:
        raise NotOpened(f"the {what} was not opened for this command")
    return part


def open_services(
    settings: Settings,
    *,
    crm: CRMAdapter | None = None,
    kb: KnowledgeService | None = None,
    log: ConversationLog | None = None,
    audit: AuditTrail | None = None,
    with_crm: bool = True,
    with_kb: bool = True,
    with_log: bool = True,
    demo_data: bool = False,
    warm_up: bool = False,
    progress: bool = False,
    announce: Any = None,
    clock: Clock | None = None,
    wait_for_vectors: bool = False,
) -> Services:
    """Open settings → CRM (migrated) → knowledge base (bundled corpus synced) → conversation log
    (migrated), each once, and the services on top. On a failure, what was opened is closed again.

    `demo_data` seeds the demo CRM when it has no staff (the console twin's first run); `announce` is
    called with a Chinese progress line for the user (console) or not at all.
    """
    services = Services(
        settings=settings, clock=clock or Clock(settings.rm_timezone), wait_for_vectors=wait_for_vectors
    )
    stack = services._stack
    try:
        if with_crm or with_log:
            settings.ensure_data_dir()
        if crm is None and with_crm:
            crm = open_crm(settings)
            stack.callback(_close, crm)
        if audit is None and with_log:  # before the demo data: its contact records are audited too
            audit = open_audit(settings)
            stack.callback(_close, audit)
        if crm is not None and demo_data and not crm.list_staff():
            from crm_adapter.demo import seed_demo

            if announce:
                announce("首次运行：正在写入演示客户数据…")
            seed_demo(crm, on_contact=seeded_contact_hook(audit, crm))
        if kb is None and with_kb:
            if announce:
                announce("正在准备知识库…")
            knowledge_base = open_knowledge_base(settings, progress=progress)
            stack.callback(_close, knowledge_base)
            if warm_up:  # load the model and indexes now, so the first question is as fast as the rest
                knowledge_base.warm_up()
            kb = knowledge_base
        if log is None and with_log:
            from bot.convlog import ConversationLog

            log = ConversationLog(settings.effective_database_url)
            stack.callback(_close, log)
    except BaseException:
        stack.close()
        raise
    services._crm, services._kb, services._log, services._audit = crm, kb, log, audit
    return services


def audited_records(engine: Engine) -> list[RecordKind]:
    """Every kind of record the audit trail vouches for, read live from the application database
    (`engine`): what `audit verify` hands to `AuditTrail.verify(records=…)`. Each feature that appends a
    record's hash reads its own rows back; a new audited kind is added here."""
    return [audited_contacts(engine), audited_benefit_uses(engine), audited_exchanges(engine),
            audited_changes(engine)]  # fmt: skip


def _close(part: Any) -> None:
    try:
        part.close()
    except Exception:  # closing must go on with the other parts
        logger.warning("closing %s failed", type(part).__name__, exc_info=True)


__all__ = [
    "NotOpened",
    "Services",
    "audited_records",
    "build_llm",
    "open_audit",
    "open_crm",
    "open_knowledge_base",
    "open_services",
    "seeded_contact_hook",
]
