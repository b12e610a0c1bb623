"""The search snapshot: every indexed chunk with its BM25 index and rule book, rebuilt whole when the
documents change (so nothing derived from them — cached answers included — is ever stale). Dense search
goes to the Chroma collection (`knowledge.store`); the snapshot says which chunks have their vector there."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from knowledge import rules
from knowledge.lexical import BM25Index
from knowledge.manifest import StoredChunk

logger = logging.getLogger(__name__)

#: Answers each snapshot remembers (a few KB each): RMs ask the same questions again and again.
ANSWER_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Snapshot:
    chunks: list[StoredChunk]
    by_id: dict[str, StoredChunk]
    bm25: BM25Index
    rules: rules.RuleBook
    #: Names this content: a hash of every chunk's source, position and text (stable across restarts).
    id: str = ""
    answers: OrderedDict[tuple[str, Any], Any] = field(default_factory=OrderedDict)  # pipeline.Draft
    answers_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, chunks: list[StoredChunk]) -> Snapshot:
        book = rules.build(
            rules.TableSource(c.text, c.source, c.title, c.heading, c.authority)
            for c in chunks
            if "|" in c.text
        )
        return cls(
            chunks=chunks,
            by_id={c.chunk_id: c for c in chunks},
            bm25=BM25Index([c.tokens for c in chunks]),
            rules=book,
            id=content_id(chunks),
        )

    def dense_ready(self, chunk_id: str) -> bool:
        """The chunk is known and its vector stored (dense hits of chunks still embedding are ignored, so
        answers read from one snapshot stay the same)."""
        chunk = self.by_id.get(chunk_id)
        return chunk is not None and bool(chunk.vector)

    def cached(self, key: tuple[str, Any]) -> Any:
        with self.answers_lock:
            found = self.answers.get(key)
            if found is not None:
                self.answers.move_to_end(key)
            return found

    def remember(self, key: tuple[str, Any], answer: Any) -> None:
        with self.answers_lock:
            self.answers[key] = answer
            while len(self.answers) > ANSWER_CACHE_SIZE:
                self.answers.popitem(last=False)

    def forget_answers(self) -> None:
        with self.answers_lock:
            self.answers.clear()


def content_id(chunks: Sequence[StoredChunk]) -> str:
    """A short SHA-256 of what a snapshot answers from: each chunk's source, position, text and whether
    its vector is stored yet (dense search sees it then)."""
    digest = hashlib.sha256()
    for c in sorted(chunks, key=lambda c: (c.source, c.ord)):
        digest.update(f"{c.source}\x1f{c.ord}\x1f{int(bool(c.vector))}\x1f{c.text}\x1e".encode())
    return digest.hexdigest()[:16]
