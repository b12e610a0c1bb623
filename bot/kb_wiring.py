"""Build the knowledge base (and the optional LLM) from settings: where `knowledge` meets `Settings`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.settings import Settings
from knowledge import KnowledgeBase

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)


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
        timeout=settings.llm_timeout,
        max_retries=0,  # the composer falls back to the extractive answer instead of retrying
    )


def open_knowledge_base(settings: Settings, *, sync: bool = True, progress: bool = False) -> KnowledgeBase:
    """Open the knowledge base under RM_DATA_DIR (or the Chroma server) and sync the bundled corpus.

    `progress` shows a progress bar on stderr while (re-)embedding bundled documents (first run only).
    """
    kb = KnowledgeBase(
        data_dir=settings.ensure_data_dir(),
        chroma_host=settings.chroma_host,
        chroma_port=settings.chroma_port,
        llm=build_llm(settings),
        llm_timeout=settings.llm_timeout,
        top_k=settings.rm_top_k,
        embed_threads=settings.rm_embed_threads,
    )
    if sync:
        report = kb.sync_bundled(enabled=settings.rm_bundled_knowledge, progress=progress)
        if report.added or report.updated or report.removed:
            logger.info("bundled knowledge: %s", report.summary())
        for path, reason in report.failed:
            logger.warning("bundled knowledge file %s failed: %s", path, reason)
    return kb
