"""Public value types of the knowledge package (frozen dataclasses; never LangChain objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk, best first in a result list."""

    chunk_id: str
    text: str
    source: str
    title: str
    heading: str
    score: float
    category: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "source": self.source,
            "title": self.title,
            "heading": self.heading,
            "score": round(self.score, 6),
        }


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source quoted by an answer; `n` matches the `[n]` markers in the answer text."""

    n: int
    source: str
    title: str
    text: str
    heading: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "text": self.text,
            "heading": self.heading,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """A composed answer. `grounded` is False when the knowledge base had nothing relevant."""

    question: str
    answer: str
    citations: tuple[Citation, ...]
    grounded: bool
    composer: str = "extractive"  # or "llm"

    def to_dict(self) -> dict[str, object]:
        return {
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "grounded": self.grounded,
        }


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest/sync run did, per source."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (path, one-line reason)
    chunks_added: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line for humans (CLI, logs)."""
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}, failed {len(self.failed)}; {self.chunks_added} chunks embedded"
        )


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One indexed source as recorded in the manifest."""

    source: str
    title: str
    chunks: int
    content_hash: str
    ingested_at: datetime
