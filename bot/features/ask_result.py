"""What asking the knowledge base returns: the answer, its exchange and what was flagged.

Apart from `ask.py` (which answers and records) and `ask_render.py` (which renders), so both import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.features.gaps.curated import CuratedAnswer
    from crm_adapter import Client
    from knowledge import Answer


@dataclass(frozen=True, slots=True)
class AskResult:
    answer: Answer
    exchange_id: int | None
    flags: tuple[str, ...] = ()  # compliance labels raised by the question
    answer_flags: tuple[str, ...] = ()  # compliance labels raised by the composed answer
    client: Client | None = None  # the RM's own client the question was about
    curated: CuratedAnswer | None = None  # served from a trainer's curated answer instead of the KB


__all__ = ["AskResult"]
