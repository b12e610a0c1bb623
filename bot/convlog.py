"""Conversation log: every question/answer exchange, its feedback, and the updates already handled.

Stored in the same database as the CRM (own tables, own Alembic version table) so supervisors review
conversations next to contact records. Personal numbers are masked before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from bot.convlog_types import Exchange, ExchangeHead, FeedbackError, LogStats, UnansweredQuestion
from bot.core import as_utc
from crm_adapter.engines import create_database_engine
from crm_adapter.masking import mask_personal_numbers

if TYPE_CHECKING:
    from knowledge import Answer

logger = logging.getLogger(__name__)

FEEDBACK_VALUES = ("up", "down")


class _Base(DeclarativeBase):
    pass


class _ExchangeRow(_Base):
    __tablename__ = "bot_exchanges"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    staff_code: Mapped[str] = mapped_column(sa.String(32))
    channel: Mapped[str] = mapped_column(sa.String(16))
    chat_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    update_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    question: Mapped[str] = mapped_column(sa.Text)
    answer: Mapped[str] = mapped_column(sa.Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    grounded: Mapped[bool] = mapped_column(sa.Boolean)
    composer: Mapped[str] = mapped_column(sa.String(16))
    flags: Mapped[list[str]] = mapped_column(sa.JSON)
    feedback: Mapped[str | None] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    feedback_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("channel", "chat_id", "update_id", name="uq_bot_exchanges_update"),
        sa.Index("ix_bot_exchanges_staff_created", "staff_code", "created_at"),
        sa.Index("ix_bot_exchanges_created", "created_at"),
        sa.Index("ix_bot_exchanges_grounded", "grounded", "created_at"),
    )


class _ProcessedUpdateRow(_Base):
    __tablename__ = "bot_processed_updates"

    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


#: The conversation log's tables (gathered into the application's one schema by `bot.schema`).
METADATA = _Base.metadata

# Core inserts for the per-update writes: no Session / unit-of-work overhead on the hot path.
_INSERT_EXCHANGE = sa.insert(_ExchangeRow)
_INSERT_PROCESSED = sa.insert(_ProcessedUpdateRow)


def _to_exchange(row: _ExchangeRow) -> Exchange:
    created = as_utc(row.created_at)
    assert created is not None
    return Exchange(
        id=row.id,
        staff_code=row.staff_code,
        channel=row.channel,
        chat_id=row.chat_id,
        update_id=row.update_id,
        question=row.question,
        answer=row.answer,
        citations=tuple(row.citations or ()),
        grounded=row.grounded,
        composer=row.composer,
        flags=tuple(row.flags or ()),
        feedback=row.feedback,
        created_at=created,
        feedback_at=as_utc(row.feedback_at),
    )


def create_store_engine(database_url: str) -> Engine:
    """An engine for our tables: the application's one factory (same URL normalisation, SQLite PRAGMAs
    and PostgreSQL settings as the CRM; every commit durable, connections pre-pinged)."""
    return create_database_engine(database_url, durable=True)


def upgrade_schema(engine: Engine) -> None:
    """Bring the application database to the head of the one Alembic tree (`bot.migrations`)."""
    from bot import migrations

    migrations.upgrade(engine)


class ConversationLog:
    """Repository of exchanges. Safe to share between threads (one session per call)."""

    def __init__(self, database_url: str) -> None:
        self._engine = create_store_engine(database_url)
        upgrade_schema(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        self._engine.dispose()

    @property
    def engine(self) -> Engine:
        """The migrated engine of these tables (the Telegram inbox and state share it: one database)."""
        return self._engine

    # --- writing ------------------------------------------------------------------------------
    def record(
        self,
        *,
        staff_code: str,
        channel: str,
        question: str,
        answer: Answer,
        chat_id: int | None = None,
        update_id: int | None = None,
        flags: Sequence[str] = (),
        also: Callable[[Connection, Exchange], object] | None = None,
    ) -> Exchange:
        """Store one exchange; a redelivered update returns the row already stored.

        `also` runs inside the same transaction with the new exchange (the audit trail's append): if it
        fails, the exchange is not stored either.
        """
        if update_id is not None and chat_id is None:
            # The unique constraint does not cover a NULL chat_id (NULLs are distinct): look first.
            existing = self._by_update(channel=channel, chat_id=chat_id, update_id=update_id)
            if existing is not None:
                return existing
        created_at = datetime.now(UTC)
        values: dict[str, Any] = {
            "staff_code": staff_code,
            "channel": channel,
            "chat_id": chat_id,
            "update_id": update_id,
            "question": mask_personal_numbers(question),
            "answer": mask_personal_numbers(answer.answer),
            "citations": [_mask_citation(c.to_dict()) for c in answer.citations],
            "grounded": answer.grounded,
            "composer": answer.composer,
            "flags": list(flags),
            "feedback": None,
            "created_at": created_at,
            "feedback_at": None,
        }
        try:
            # Core insert, no pre-select: the (channel, chat_id, update_id) unique constraint catches a
            # redelivery, which is rare (the gate already drops claimed updates).
            with self._engine.begin() as conn:
                key = conn.execute(_INSERT_EXCHANGE, values).inserted_primary_key
                assert key is not None
                exchange = _stored_exchange(int(key[0]), values, answer)
                if also is not None:
                    also(conn, exchange)
        except IntegrityError:
            # A redelivered update (or two deliveries racing): the first one won.
            existing = (
                None
                if update_id is None
                else self._by_update(channel=channel, chat_id=chat_id, update_id=update_id)
            )
            if existing is None:
                raise
            return existing
        return exchange

    def set_feedback(self, *, exchange_id: int, staff_code: str, value: str) -> Exchange:
        """Record 👍 ("up") or 👎 ("down") from the staff member who asked."""
        if value not in FEEDBACK_VALUES:
            raise FeedbackError("无效的反馈")
        with self._sessions.begin() as session:
            row = session.get(_ExchangeRow, exchange_id)
            if row is None:
                raise FeedbackError("找不到这条问答记录")
            if row.staff_code != staff_code:
                raise FeedbackError("只能对自己的提问进行评价")
            row.feedback = value
            row.feedback_at = datetime.now(UTC)
            session.flush()
            return _to_exchange(row)

    def claim_update(self, *, channel: str, update_id: int) -> bool:
        """Mark an update as handled; False if it was handled before (a redelivery)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    _INSERT_PROCESSED,
                    {"channel": channel, "update_id": update_id, "processed_at": datetime.now(UTC)},
                )
        except IntegrityError:
            return False
        return True

    # --- reading ------------------------------------------------------------------------------
    def get(self, *, exchange_id: int) -> Exchange | None:
        with self._sessions() as session:
            row = session.get(_ExchangeRow, exchange_id)
            return _to_exchange(row) if row else None

    def _by_update(self, *, channel: str, chat_id: int | None, update_id: int | None) -> Exchange | None:
        stmt = sa.select(_ExchangeRow).where(
            _ExchangeRow.channel == channel,
            _ExchangeRow.update_id == update_id,
            _ExchangeRow.chat_id.is_(None) if chat_id is None else _ExchangeRow.chat_id == chat_id,
        )
        with self._sessions() as session:
            row = session.scalars(stmt).first()
            return _to_exchange(row) if row else None

    @staticmethod
    def _window(
        *, staff_codes: Sequence[str] | None, since: datetime | None, until: datetime | None
    ) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if staff_codes is not None:
            conditions.append(_ExchangeRow.staff_code.in_(list(staff_codes)))
        if since is not None:
            conditions.append(_ExchangeRow.created_at >= since)
        if until is not None:
            conditions.append(_ExchangeRow.created_at < until)
        return conditions

    def list_exchanges(
        self,
        *,
        staff_codes: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        flagged_first: bool = True,
        limit: int = 50,
    ) -> list[Exchange]:
        """Exchanges newest first; with flagged_first, flagged ones lead (each group newest first)."""
        stmt = sa.select(_ExchangeRow).where(*self._window(staff_codes=staff_codes, since=since, until=until))
        if flagged_first:
            flagged = sa.or_(
                _ExchangeRow.grounded.is_(False),
                _ExchangeRow.feedback == "down",
                # An empty JSON list renders as '[]' on both SQLite and PostgreSQL.
                sa.cast(_ExchangeRow.flags, sa.Text) != "[]",
            )
            stmt = stmt.order_by(sa.case((flagged, 0), else_=1), _ExchangeRow.created_at.desc())
        else:
            stmt = stmt.order_by(_ExchangeRow.created_at.desc())
        stmt = stmt.order_by(_ExchangeRow.id.desc()).limit(limit)
        with self._sessions() as session:
            return [_to_exchange(r) for r in session.scalars(stmt)]

    def exchange_heads(
        self,
        *,
        staff_codes: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[ExchangeHead]:
        """Every exchange of the window without its texts, newest first: light enough to count, sort and
        page a team's month in memory (the same window as `stats`, so the totals agree)."""
        row = _ExchangeRow
        stmt = (
            sa.select(row.id, row.staff_code, row.created_at, row.grounded, row.feedback, row.flags)
            .where(*self._window(staff_codes=staff_codes, since=since, until=until))
            .order_by(row.created_at.desc(), row.id.desc())
        )
        with self._sessions() as session:
            return [
                ExchangeHead(i, code, as_utc(at) or at, bool(grounded), feedback, tuple(flags or ()))
                for i, code, at, grounded, feedback, flags in session.execute(stmt)
            ]

    def get_many(self, ids: Sequence[int]) -> dict[int, Exchange]:
        """The exchanges with these ids (unknown ids are left out)."""
        found: dict[int, Exchange] = {}
        wanted = sorted(set(ids))
        with self._sessions() as session:
            for i in range(0, len(wanted), 500):
                stmt = sa.select(_ExchangeRow).where(_ExchangeRow.id.in_(wanted[i : i + 500]))
                found.update((r.id, _to_exchange(r)) for r in session.scalars(stmt))
        return found

    def iter_exchanges(self, *, since: datetime | None = None, batch: int = 500) -> Iterator[Exchange]:
        """All exchanges oldest first, streamed in batches (for exports)."""
        last_id = 0
        while True:
            stmt = sa.select(_ExchangeRow).where(
                _ExchangeRow.id > last_id, *self._window(staff_codes=None, since=since, until=None)
            )
            with self._sessions() as session:
                rows = [_to_exchange(r) for r in session.scalars(stmt.order_by(_ExchangeRow.id).limit(batch))]
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id

    def unanswered(self, *, since: datetime | None = None, limit: int = 50) -> list[UnansweredQuestion]:
        """Questions the knowledge base had no source for, most asked first."""
        stmt = sa.select(_ExchangeRow.question, _ExchangeRow.staff_code, _ExchangeRow.created_at).where(
            _ExchangeRow.grounded.is_(False), *self._window(staff_codes=None, since=since, until=None)
        )
        groups: dict[str, tuple[int, datetime, set[str]]] = {}
        with self._sessions() as session:
            for question, staff_code, created in session.execute(stmt):
                key = " ".join(question.split())
                asked = as_utc(created) or datetime.now(UTC)
                times, last, staff = groups.get(key, (0, asked, set()))
                groups[key] = (times + 1, max(last, asked), staff | {staff_code})
        items = [
            UnansweredQuestion(question=q, times=t, last_asked=last, staff_codes=tuple(sorted(s)))
            for q, (t, last, s) in groups.items()
        ]
        items.sort(key=lambda u: (-u.times, -u.last_asked.timestamp()))
        return items[:limit]

    def stats(
        self,
        *,
        staff_codes: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> LogStats:
        stmt = sa.select(
            _ExchangeRow.staff_code, _ExchangeRow.grounded, _ExchangeRow.feedback, _ExchangeRow.flags
        ).where(*self._window(staff_codes=staff_codes, since=since, until=until))
        questions = grounded = up = down = flagged = 0
        by_staff: dict[str, int] = {}
        with self._sessions() as session:
            for staff_code, is_grounded, feedback, flags in session.execute(stmt):
                questions += 1
                grounded += bool(is_grounded)
                up += feedback == "up"
                down += feedback == "down"
                flagged += (not is_grounded) or feedback == "down" or bool(flags)
                by_staff[staff_code] = by_staff.get(staff_code, 0) + 1
        return LogStats(
            questions=questions,
            grounded=grounded,
            unanswered=questions - grounded,
            thumbs_up=up,
            thumbs_down=down,
            flagged=flagged,
            by_staff=by_staff,
        )


def iter_all_exchanges(engine: Engine, *, batch: int = 5000) -> Iterator[Exchange]:
    """Every exchange, oldest first (the audit check; nothing if the table does not exist). Core rows,
    no ORM: this reads the whole table."""
    table = _ExchangeRow.__table__
    last: int | None = None
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(_ExchangeRow.__tablename__):
            return
        while True:
            stmt = sa.select(table).order_by(table.c.id).limit(batch)
            if last is not None:
                stmt = stmt.where(table.c.id > last)
            rows = [_to_exchange(r) for r in conn.execute(stmt)]  # type: ignore[arg-type]
            if not rows:
                return
            yield from rows
            last = rows[-1].id


def _stored_exchange(exchange_id: int, values: dict[str, Any], answer: Answer) -> Exchange:
    return Exchange(
        id=exchange_id,
        staff_code=values["staff_code"],
        channel=values["channel"],
        chat_id=values["chat_id"],
        update_id=values["update_id"],
        question=values["question"],
        answer=values["answer"],
        citations=tuple(values["citations"]),
        grounded=answer.grounded,
        composer=answer.composer,
        flags=tuple(values["flags"]),
        feedback=None,
        created_at=values["created_at"],
        feedback_at=None,
    )


def _mask_citation(citation: dict[str, object]) -> dict[str, object]:
    return {k: mask_personal_numbers(v) if isinstance(v, str) else v for k, v in citation.items()}
