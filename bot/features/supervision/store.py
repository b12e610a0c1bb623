"""Review actions: what supervisors and trainers did with an exchange or a contact record.

One row per action in `bot_review_actions` (migration 0003, applied by `ConversationLog` with the rest of
our tables); an item's state (reviewed, escalated, its comments) is derived from its actions, so nothing
is overwritten and the table is also the audit trail that `list_actions` exports.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.core import as_utc, parse_record_id
from crm_adapter.masking import mask_personal_numbers

if TYPE_CHECKING:
    from bot.convlog import ConversationLog

logger = logging.getLogger(__name__)

EXCHANGE, CONTACT, CHECK = "exchange", "contact", "check"
KINDS = (EXCHANGE, CONTACT, CHECK)
REVIEWED, COMMENT, ESCALATE, RESOLVE = "reviewed", "comment", "escalate", "resolve"
ACTIONS = (REVIEWED, COMMENT, ESCALATE, RESOLVE)
#: How an item is named in chat: Q12 is exchange 12 (问答), C7 is contact record 7 (联系记录), M3 is
#: recorded message check 3 (消息检查, `bot/features/message_check/store.py`).
_REF_PREFIX = {EXCHANGE: "Q", CONTACT: "C", CHECK: "M"}
_REF_KIND = {prefix: kind for kind, prefix in _REF_PREFIX.items()}
_REF_RE = re.compile(r"#?([QqCcMm])(\d{1,12})")
#: Ids per IN (...) list: well under SQLite's oldest limit of 999 bound parameters.
_CHUNK = 500

METADATA = sa.MetaData()
_actions = sa.Table(
    "bot_review_actions",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_kind", sa.String(16), nullable=False),
    sa.Column("item_id", sa.BigInteger, nullable=False),
    sa.Column("staff_code", sa.String(32)),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("actor", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_bot_review_actions_item", "item_kind", "item_id"),
    sa.Index("ix_bot_review_actions_created", "created_at"),
    sa.Index("ix_bot_review_actions_action", "action", "created_at"),
)


def item_ref(kind: str, item_id: int) -> str:
    return f"{_REF_PREFIX[kind]}{item_id}"


def parse_ref(text: str) -> tuple[str, int] | None:
    """`Q12` → ("exchange", 12), `C7` → ("contact", 7), `M3` → ("check", 3); None when it is not a
    reference."""
    m = _REF_RE.fullmatch(text.strip())
    number = parse_record_id(m.group(2)) if m is not None else None
    if m is None or number is None:
        return None
    return _REF_KIND[m.group(1).upper()], number


@dataclass(frozen=True, slots=True)
class ReviewAction:
    id: int
    item_kind: str
    item_id: int
    staff_code: str | None
    action: str
    comment: str | None
    actor: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return item_ref(self.item_kind, self.item_id)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "item_kind": self.item_kind,
            "item_id": self.item_id,
            "ref": self.ref,
            "staff_code": self.staff_code,
            "action": self.action,
            "comment": self.comment,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ItemState:
    """An item's review state, folded from its actions (oldest first)."""

    reviewed: bool = False  # marked reviewed, or escalated (the supervisor looked at it)
    escalated: bool = False  # escalated to a trainer and not resolved yet
    resolved: bool = False  # an escalation a trainer closed
    comments: tuple[ReviewAction, ...] = ()

    @classmethod
    def of(cls, actions: Iterable[ReviewAction], *, as_of: datetime | None = None) -> ItemState:
        reviewed = escalated = resolved = False
        comments: list[ReviewAction] = []
        for a in actions:
            if as_of is not None and a.created_at > as_of:
                continue
            if a.action in (REVIEWED, ESCALATE):
                reviewed = True
            if a.action == ESCALATE:
                escalated, resolved = True, False
            elif a.action == RESOLVE and escalated:
                escalated, resolved = False, True
            if a.comment:
                comments.append(a)
        return cls(reviewed=reviewed, escalated=escalated, resolved=resolved, comments=tuple(comments))


def _to_action(row: sa.Row[tuple[object, ...]]) -> ReviewAction:
    m = row._mapping
    return ReviewAction(
        id=int(m["id"]),
        item_kind=str(m["item_kind"]),
        item_id=int(m["item_id"]),
        staff_code=m["staff_code"],
        action=str(m["action"]),
        comment=m["comment"],
        actor=str(m["actor"]),
        created_at=as_utc(m["created_at"]),
    )


class ReviewLog:
    """Repository of review actions on the conversation log's (migrated) database; thread-safe."""

    def __init__(self, store: ConversationLog | Engine) -> None:
        self._engine = store if isinstance(store, Engine) else store.engine

    # --- writing ------------------------------------------------------------------------------
    def add(
        self,
        *,
        kind: str,
        item_id: int,
        action: str,
        actor: str,
        staff_code: str | None,
        at: datetime,
        comment: str | None = None,
    ) -> ReviewAction:
        [added] = self.add_many(
            [(kind, item_id, staff_code)], action=action, actor=actor, at=at, comment=comment
        )
        return added

    def add_many(
        self,
        items: Sequence[tuple[str, int, str | None]],
        *,
        action: str,
        actor: str,
        at: datetime,
        comment: str | None = None,
    ) -> list[ReviewAction]:
        """Store one action on each (kind, id, owner's staff code) item, in one transaction."""
        if action not in ACTIONS:
            raise ValueError(f"unknown review action {action!r}")
        text = mask_personal_numbers(comment.strip()) if comment and comment.strip() else None
        rows = [
            {
                "item_kind": kind,
                "item_id": item_id,
                "staff_code": staff_code,
                "action": action,
                "comment": text,
                "actor": actor,
                "created_at": at,
            }
            for kind, item_id, staff_code in items
        ]
        if any(r["item_kind"] not in KINDS for r in rows):
            raise ValueError("unknown item kind")
        added: list[ReviewAction] = []
        with self._engine.begin() as conn:
            for values in rows:
                key = conn.execute(sa.insert(_actions), values).inserted_primary_key
                assert key is not None
                added.append(ReviewAction(id=int(key[0]), **values))  # type: ignore[arg-type]
        return added

    # --- reading ------------------------------------------------------------------------------
    def actions_for(self, kind: str, ids: Iterable[int]) -> dict[int, list[ReviewAction]]:
        """Every action on these items, oldest first, by item id."""
        wanted = sorted(set(ids))
        found: dict[int, list[ReviewAction]] = {}
        with self._engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                stmt = (
                    sa.select(_actions)
                    .where(_actions.c.item_kind == kind, _actions.c.item_id.in_(wanted[i : i + _CHUNK]))
                    .order_by(_actions.c.id)
                )
                for row in conn.execute(stmt):
                    action = _to_action(row)
                    found.setdefault(action.item_id, []).append(action)
        return found

    def states(self, kind: str, ids: Iterable[int]) -> dict[int, ItemState]:
        return {item: ItemState.of(actions) for item, actions in self.actions_for(kind, ids).items()}

    def list_actions(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[ReviewAction]:
        """Every action with since <= created_at < until (either bound optional), oldest first: the export."""
        stmt = sa.select(_actions)
        if since is not None:
            stmt = stmt.where(_actions.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(_actions.c.created_at < until)
        with self._engine.connect() as conn:
            return [_to_action(r) for r in conn.execute(stmt.order_by(_actions.c.created_at, _actions.c.id))]

    def open_escalations(self, *, staff_codes: Sequence[str] | None = None) -> list[ReviewAction]:
        """The escalation of each exchange still waiting for a trainer, newest first."""
        stmt = (
            sa.select(_actions)
            .where(_actions.c.item_kind == EXCHANGE, _actions.c.action.in_([ESCALATE, RESOLVE]))
            .order_by(_actions.c.id)
        )
        if staff_codes is not None:
            stmt = stmt.where(_actions.c.staff_code.in_(list(staff_codes)))
        latest: dict[int, ReviewAction] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(stmt):
                action = _to_action(row)
                latest[action.item_id] = action
        open_ = [a for a in latest.values() if a.action == ESCALATE]
        return sorted(open_, key=lambda a: a.id, reverse=True)
