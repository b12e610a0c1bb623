"""Curated answers and the questions they answer (`bot_curated_answers` / `bot_curated_questions`,
migrations 0004 and 0006).

A trainer's answer is stored pending and is served only once a second person approved it (four eyes):
`active` is true exactly for live answers, so every serving query stays one indexed filter. Every
transition is a conditional UPDATE from the expected status, so two approvers pressing at once make one
decision and a decided answer is never decided again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core import as_utc
from bot.features.gaps.vectors import from_bytes, to_bytes

logger = logging.getLogger(__name__)

PENDING, LIVE, REJECTED, RETIRED = "pending", "live", "rejected", "retired"
STATUSES = (PENDING, LIVE, REJECTED, RETIRED)
STATUS_NAMES = {PENDING: "待审批", LIVE: "已启用", REJECTED: "已驳回", RETIRED: "已停用"}
#: Citation source of an answer served from curated answer N: "curated:N" (hit counts read it back).
SOURCE_PREFIX = "curated:"
#: Prefix of a curated answer's reference in the approvals (`A3`, next to documents' `K3`).
REF_PREFIX = "A"

METADATA = sa.MetaData()
_answers = sa.Table(
    "bot_curated_answers",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("author", sa.String(32), nullable=False),
    sa.Column("author_name", sa.String(64), nullable=False),
    sa.Column("exchange_id", sa.BigInteger),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16)),
    sa.Column("decided_by", sa.String(32)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("note", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    sa.Index("ix_bot_curated_answers_status", "status"),
)
_questions = sa.Table(
    "bot_curated_questions",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "curated_id",
        sa.Integer,
        sa.ForeignKey("bot_curated_answers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Index("ix_bot_curated_questions_curated", "curated_id"),
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
    status: str = LIVE
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None

    @property
    def ref(self) -> str:
        """The citation source of an answer served from it."""
        return f"{SOURCE_PREFIX}{self.id}"

    @property
    def change_ref(self) -> str:
        """Its reference in the approvals and in trainers' replies: A3."""
        return f"{REF_PREFIX}{self.id}"

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)

    def to_dict(self) -> dict[str, object]:
        """What the audit trail records of it."""
        return {
            "id": self.id,
            "ref": self.change_ref,
            "question": self.question,
            "questions": list(self.questions),
            "answer": self.answer,
            "source": self.source,
            "author": self.author,
            "exchange_id": self.exchange_id,
            "status": self.status,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "note": self.note,
        }


def _to_answer(m: sa.RowMapping, questions: tuple[str, ...]) -> CuratedAnswer:
    created = as_utc(m["created_at"])
    assert created is not None
    return CuratedAnswer(
        id=int(m["id"]),
        question=str(m["question"]),
        answer=str(m["answer"]),
        source=m["source"],
        author=str(m["author"]),
        author_name=str(m["author_name"]),
        exchange_id=m["exchange_id"],
        created_at=created,
        questions=questions,
        status=str(m["status"] or (LIVE if m["active"] else RETIRED)),
        decided_by=m["decided_by"],
        decided_at=as_utc(m["decided_at"]),
        note=m["note"],
    )


#: Run inside a write's transaction with the stored answer (the audit append of a four-eyes step).
Also = Callable[[Connection, "CuratedAnswer"], object]


class CuratedStore:
    """Repository of curated answers on the conversation log's (migrated) database; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

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
        status: str = PENDING,
        also: Also | None = None,
    ) -> CuratedAnswer:
        """Store an answer and the questions it answers (with their vectors), in one transaction."""
        values = {
            "question": question,
            "answer": answer,
            "source": source,
            "author": author,
            "author_name": author_name,
            "exchange_id": exchange_id,
            "active": status == LIVE,
            "created_at": at,
            "status": status,
            "updated_at": at,
        }
        with self._engine.begin() as conn:
            key = conn.execute(sa.insert(_answers), values).inserted_primary_key
            assert key is not None
            curated_id = int(key[0])
            conn.execute(
                sa.insert(_questions),
                [{"curated_id": curated_id, "question": q, "vector": to_bytes(v)} for q, v in questions],
            )
            found = self._get_in(conn, curated_id)
            assert found is not None
            if also is not None:
                also(conn, found)
        return found

    def transition(
        self,
        *,
        curated_id: int,
        old: Sequence[str],
        new: str,
        at: datetime,
        decided_by: str | None = None,
        note: str | None = None,
        also: Also | None = None,
    ) -> CuratedAnswer | None:
        """Move the answer from one of `old` to `new`; None when it was in none of them (someone else won).
        `also` runs inside the same transaction with the changed answer (the audit append)."""
        values: dict[str, object] = {"status": new, "active": new == LIVE, "updated_at": at}
        if decided_by is not None:
            values.update(decided_by=decided_by, decided_at=at)
        if note is not None:
            values["note"] = note
        stmt = (
            sa.update(_answers)
            .where(_answers.c.id == curated_id, _answers.c.status.in_(tuple(old)))
            .values(**values)
        )
        with self._engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                return None
            done = self._get_in(conn, curated_id)
            assert done is not None
            if also is not None:
                also(conn, done)
        return done

    def deactivate(self, *, curated_id: int, at: datetime | None = None, also: Also | None = None) -> bool:
        """Stop serving (or withdraw a pending) answer, kept for the log's hit counts; False if none."""
        when = at or datetime.now(UTC)
        done = self.transition(curated_id=curated_id, old=(LIVE, PENDING), new=RETIRED, at=when, also=also)
        return done is not None

    def get(self, *, curated_id: int) -> CuratedAnswer | None:
        """One answer in any status, with its questions."""
        with self._engine.connect() as conn:
            return self._get_in(conn, curated_id)

    @staticmethod
    def _get_in(conn: Connection, curated_id: int) -> CuratedAnswer | None:
        row = conn.execute(sa.select(_answers).where(_answers.c.id == curated_id)).first()
        if row is None:
            return None
        asked = conn.execute(
            sa.select(_questions.c.question)
            .where(_questions.c.curated_id == curated_id)
            .order_by(_questions.c.id)
        )
        return _to_answer(row._mapping, tuple(str(q) for (q,) in asked))

    def recent(self, *, statuses: Sequence[str] = STATUSES, limit: int = 50) -> list[CuratedAnswer]:
        """Answers in `statuses`, newest first, with their questions."""
        stmt = (
            sa.select(_answers)
            .where(_answers.c.status.in_(tuple(statuses)))
            .order_by(_answers.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = list(conn.execute(stmt))
            ids = [int(r._mapping["id"]) for r in rows]
            asked: dict[int, list[str]] = {}
            if ids:
                q = sa.select(_questions.c.curated_id, _questions.c.question).where(
                    _questions.c.curated_id.in_(ids)
                )
                for cid, text in conn.execute(q.order_by(_questions.c.id)):
                    asked.setdefault(int(cid), []).append(str(text))
        return [_to_answer(r._mapping, tuple(asked.get(int(r._mapping["id"]), ()))) for r in rows]

    def list_all(self) -> list[CuratedAnswer]:
        """Every live (served) curated answer, oldest first, with its questions."""
        with self._engine.connect() as conn:
            asked: dict[int, list[str]] = {}
            for cid, q in conn.execute(sa.select(_questions.c.curated_id, _questions.c.question)):
                asked.setdefault(int(cid), []).append(str(q))
            rows = conn.execute(sa.select(_answers).where(_answers.c.active).order_by(_answers.c.id))
            return [_to_answer(r._mapping, tuple(asked.get(int(r._mapping["id"]), ()))) for r in rows]

    def vectors(self) -> list[tuple[int, int, str, np.ndarray]]:
        """(question id, answer id, question, vector) of every question of a live answer."""
        stmt = (
            sa.select(_questions.c.id, _questions.c.curated_id, _questions.c.question, _questions.c.vector)
            .join(_answers, _answers.c.id == _questions.c.curated_id)
            .where(_answers.c.active)
            .order_by(_questions.c.id)
        )
        with self._engine.connect() as conn:
            return [(int(i), int(c), str(q), from_bytes(v)) for i, c, q, v in conn.execute(stmt)]

    def version(self) -> tuple[int, int, str]:
        """(live answers, highest question id, last transition): changes whenever an answer is added,
        approved or retired, in any process."""
        active = sa.select(sa.func.count(_answers.c.id)).where(_answers.c.active).scalar_subquery()
        changed = sa.select(sa.func.max(_answers.c.updated_at)).scalar_subquery()
        stmt = sa.select(active, sa.func.max(_questions.c.id), changed)
        with self._engine.connect() as conn:
            count, top, last = conn.execute(stmt).one()
        return int(count or 0), int(top or 0), str(last or "")


__all__ = [
    "LIVE",
    "PENDING",
    "REF_PREFIX",
    "REJECTED",
    "RETIRED",
    "SOURCE_PREFIX",
    "STATUS_NAMES",
    "Also",
    "CuratedAnswer",
    "CuratedStore",
]
