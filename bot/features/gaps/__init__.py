"""Knowledge gaps and curated answers (issue #13): the trainers' gap inbox (questions unanswered, weakly
answered or 👎, clustered by meaning), curated answers served instead of the extractive one when a new
question matches, and knowledge usage (hits per curated answer and document, unused documents).

Modules: `vectors` (question vectors, cached), `cluster` (scikit-learn clustering), `curated_store`
(curated answers and their four-eyes status), `curated_terms` (the key-term check), `curated` (the
matcher), `service` (GapService), `render`, `chat` (the command table's handlers). Approving a curated
answer is the approvals feature's (one four-eyes workflow for documents and curated answers); this
package does not import it.
"""

from __future__ import annotations

from bot.features.gaps.chat import curate, kbusage, unanswered, uncurate
from bot.features.gaps.cluster import cluster
from bot.features.gaps.curated import MATCH_THRESHOLD, CuratedAnswer, CuratedAnswers, CuratedStore
from bot.features.gaps.service import GapCluster, GapService, GapsView, UsageView
from bot.features.gaps.vectors import QuestionVectors, e5_embed

__all__ = [
    "MATCH_THRESHOLD",
    "CuratedAnswer",
    "CuratedAnswers",
    "CuratedStore",
    "GapCluster",
    "GapService",
    "GapsView",
    "QuestionVectors",
    "UsageView",
    "cluster",
    "curate",
    "e5_embed",
    "kbusage",
    "unanswered",
    "uncurate",
]
