"""Four-eyes knowledge changes (issue #12): uploads wait for a second person's approval, and documents'
effective and expiry dates decide when they are served.

Modules: `foureyes` (the one four-eyes workflow: roles, never one's own, decided once, audited),
`store` (ChangeStore: `bot_knowledge_changes`), `service` (KnowledgeChangeService: documents as a kind of
change, published on their dates), `curated` (CuratedChangeService: trainers' curated answers, the other
kind), `review` (what an approver
reads: the full text, paged, a new version's diff, and which pages each approver was shown), `people`
(four eyes compare people: staff codes and Telegram ids), `chat` (the command table's handlers and the
renderers).
"""

from __future__ import annotations

from bot.features.approvals.chat import (
    approve,
    approve_button,
    changes,
    reject,
    reject_button,
    render_changes,
    render_decision,
    render_rejected,
    render_submitted,
    render_waiting,
    submitted_reply,
    upload,
    view_button,
)
from bot.features.approvals.curated import CuratedChangeService, parse_curated_ref
from bot.features.approvals.service import (
    AdminPublisher,
    Decision,
    KnowledgeChangeService,
    Publisher,
    document_dates,
    parse_change_ref,
)
from bot.features.approvals.store import STATUS_NAMES, ChangeStore, KnowledgeChange

__all__ = [
    "STATUS_NAMES",
    "AdminPublisher",
    "ChangeStore",
    "CuratedChangeService",
    "Decision",
    "KnowledgeChange",
    "KnowledgeChangeService",
    "Publisher",
    "approve",
    "approve_button",
    "changes",
    "document_dates",
    "parse_change_ref",
    "parse_curated_ref",
    "reject",
    "reject_button",
    "render_changes",
    "render_decision",
    "render_rejected",
    "render_submitted",
    "render_waiting",
    "submitted_reply",
    "upload",
    "view_button",
]
