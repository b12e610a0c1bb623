"""Pure tallies of exchange heads and unanswered questions for /stats and /unanswered (split from
`service.py`, which reads the log and the CRM and decides who sees what)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, timedelta, tzinfo
from typing import TYPE_CHECKING

from bot.answer_flags import exchange_is_weak as is_weak
from bot.convlog import LogStats
from bot.convlog_types import UnansweredQuestion
from bot.features.supervision.views import DayCounts

if TYPE_CHECKING:
    from bot.convlog import ExchangeHead

logger = logging.getLogger(__name__)


def log_stats(heads: Sequence[ExchangeHead]) -> LogStats:
    """The log's figures (questions, sourced, 👍/👎, flagged, per RM) over the given exchange heads."""
    by_staff: dict[str, int] = {}
    for h in heads:
        by_staff[h.staff_code] = by_staff.get(h.staff_code, 0) + 1
    grounded = sum(1 for h in heads if h.grounded)
    return LogStats(
        questions=len(heads),
        grounded=grounded,
        unanswered=len(heads) - grounded,
        thumbs_up=sum(1 for h in heads if h.feedback == "up"),
        thumbs_down=sum(1 for h in heads if h.feedback == "down"),
        flagged=sum(1 for h in heads if h.flagged),
        by_staff=by_staff,
    )


def daily_counts(
    heads: Iterable[ExchangeHead], since: date, until: date, tz: tzinfo
) -> tuple[DayCounts, ...]:
    """Answers per local day from `since` to `until`: (sourced, weak, unanswered), empty days included."""
    counts: dict[date, list[int]] = {}
    for h in heads:
        row = counts.setdefault(h.created_at.astimezone(tz).date(), [0, 0, 0])
        row[0 if h.grounded and not is_weak(h) else 1 if h.grounded else 2] += 1
    days = (until - since).days + 1
    return tuple(
        DayCounts(day, *counts.get(day, (0, 0, 0)))
        for day in (since + timedelta(days=n) for n in range(days))
    )


def merged_questions(items: Sequence[UnansweredQuestion]) -> list[UnansweredQuestion]:
    """Questions that read the same once redacted ("某客户的太太…") counted as one."""
    merged: dict[str, UnansweredQuestion] = {}
    for u in items:
        seen = merged.get(u.question)
        merged[u.question] = (
            u
            if seen is None
            else UnansweredQuestion(
                question=u.question,
                times=seen.times + u.times,
                last_asked=max(seen.last_asked, u.last_asked),
                staff_codes=tuple(sorted(set(seen.staff_codes) | set(u.staff_codes))),
            )
        )
    return sorted(merged.values(), key=lambda u: (-u.times, -u.last_asked.timestamp()))


__all__ = ["daily_counts", "log_stats", "merged_questions"]
