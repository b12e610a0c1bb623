"""The marks an answer leaves on its exchange, read by several features.

`ask` writes them; the gap inbox, supervision and the usage figures read them. Kept apart so none of
those features imports another for a constant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.convlog_types import Exchange
    from knowledge import Answer

#: Flag stored with an exchange whose answer the knowledge base itself rates as weakly supported.
WEAK_FLAG = "依据较弱"
#: Prefix of flags raised by the answer text (not the question), e.g. "回答:承诺收益".
ANSWER_FLAG_PREFIX = "回答:"
#: `Answer.composer` (and the stored exchange's composer) of an answer served from a curated answer.
CURATED = "curated"


class _Head(Protocol):
    @property
    def grounded(self) -> bool: ...
    @property
    def flags(self) -> tuple[str, ...]: ...
    @property
    def feedback(self) -> str | None: ...


def answer_is_weak(answer: Answer) -> bool:
    """Whether the knowledge base itself rates the answer as weakly supported."""
    return bool(getattr(answer, "weak", False))


def exchange_is_weak(head: _Head) -> bool:
    """A stored, grounded answer that was rated weakly supported when it was given."""
    return head.grounded and WEAK_FLAG in head.flags


def is_gap(head: _Head) -> bool:
    """An exchange the knowledge base did not serve well: unanswered, weak or 👎."""
    return (not head.grounded) or WEAK_FLAG in head.flags or head.feedback == "down"


def stored_flags_label(e: Exchange) -> list[str]:
    """The marks a supervisor sees next to an exchange."""
    marks: list[str] = []
    if not e.grounded:
        marks.append("无依据")
    if e.feedback == "down":
        marks.append("👎")
    elif e.feedback == "up":
        marks.append("👍")
    return marks + list(e.flags)


__all__ = [
    "ANSWER_FLAG_PREFIX",
    "CURATED",
    "WEAK_FLAG",
    "answer_is_weak",
    "exchange_is_weak",
    "is_gap",
    "stored_flags_label",
]
