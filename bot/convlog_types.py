"""The conversation log's value types (frozen; never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Exchange", "ExchangeHead", "FeedbackError", "LogStats", "UnansweredQuestion"]


class FeedbackError(ValueError):
    """Feedback on an unknown exchange, by someone else, or with a bad value (message in Chinese)."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One question and the answer the assistant gave, as stored (numbers masked)."""

    id: int
    staff_code: str
    channel: str
    chat_id: int | None
    update_id: int | None
    question: str
    answer: str
    citations: tuple[dict[str, object], ...]
    grounded: bool
    composer: str
    flags: tuple[str, ...]
    feedback: str | None
    created_at: datetime
    feedback_at: datetime | None

    @property
    def flagged(self) -> bool:
        """Worth a supervisor's look: no source, a thumbs-down, or a compliance warning."""
        return (not self.grounded) or self.feedback == "down" or bool(self.flags)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "staff_code": self.staff_code,
            "channel": self.channel,
            "chat_id": self.chat_id,
            "update_id": self.update_id,
            "question": self.question,
            "answer": self.answer,
            "citations": list(self.citations),
            "grounded": self.grounded,
            "composer": self.composer,
            "flags": list(self.flags),
            "feedback": self.feedback,
            "flagged": self.flagged,
            "created_at": self.created_at.isoformat(),
            "feedback_at": self.feedback_at.isoformat() if self.feedback_at else None,
        }


@dataclass(frozen=True, slots=True)
class UnansweredQuestion:
    """A question the knowledge base could not answer, grouped by its text."""

    question: str
    times: int
    last_asked: datetime
    staff_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LogStats:
    questions: int = 0
    grounded: int = 0
    unanswered: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    flagged: int = 0
    by_staff: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExchangeHead:
    """What counting, sorting and charting need of an exchange: no question, answer or citations."""

    id: int
    staff_code: str
    created_at: datetime
    grounded: bool
    feedback: str | None
    flags: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        """The same rule as `Exchange.flagged`."""
        return (not self.grounded) or self.feedback == "down" or bool(self.flags)
