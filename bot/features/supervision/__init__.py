"""Supervision: the team's review that a supervisor can finish (`/review`, paged, with reviewed / comment /
escalate actions), usage figures with a chart (`/stats`), the questions the knowledge base could not
answer and the answers escalated to the trainers (`/unanswered`, `/handoffs`).

Modules: `service` (SupervisionService), `store` (ReviewLog: the review actions), `views`, `dates`
(date ranges), `render` (chat texts), `charts` (the PNG), `chat` (the command table's handlers).
"""

from __future__ import annotations

from bot.dates import Window, parse_date_range, parse_window
from bot.features.supervision.charts import render_stats_chart, save_png
from bot.features.supervision.chat import (
    escalate,
    handoffs,
    note,
    resolve_button,
    resolved,
    review,
    review_item_done,
    review_item_escalate,
    review_page,
    review_page_done,
    reviewed,
    stats,
    unanswered,
)
from bot.features.supervision.render import (
    render_escalated,
    render_result,
    render_review,
    render_stats,
    render_unanswered,
)
from bot.features.supervision.service import SupervisionService
from bot.features.supervision.store import ItemState, ReviewAction, ReviewLog, item_ref, parse_ref
from bot.features.supervision.views import (
    AnswerMix,
    FlaggedContact,
    ReviewItem,
    ReviewView,
    StatsView,
    UnansweredView,
)

__all__ = [
    "AnswerMix",
    "FlaggedContact",
    "ItemState",
    "ReviewAction",
    "ReviewItem",
    "ReviewLog",
    "ReviewView",
    "StatsView",
    "SupervisionService",
    "UnansweredView",
    "Window",
    "escalate",
    "handoffs",
    "item_ref",
    "note",
    "parse_date_range",
    "parse_ref",
    "parse_window",
    "render_escalated",
    "render_result",
    "render_review",
    "render_stats",
    "render_stats_chart",
    "render_unanswered",
    "resolve_button",
    "resolved",
    "review",
    "review_item_done",
    "review_item_escalate",
    "review_page",
    "review_page_done",
    "reviewed",
    "save_png",
    "stats",
    "unanswered",
]
