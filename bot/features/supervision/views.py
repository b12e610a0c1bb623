"""What the supervision features hand to their renderers and to the chart."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.answer_flags import exchange_is_weak as is_weak
from bot.convlog import LogStats
from bot.features.suitability import TOPIC_PREFIX
from bot.features.supervision.store import CONTACT, EXCHANGE, ItemState, ReviewAction, item_ref
from crm_adapter import ContactRecord

if TYPE_CHECKING:
    from bot.convlog import Exchange, ExchangeHead, UnansweredQuestion
    from bot.features.message_check.store import StoredCheck

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FlaggedContact:
    record: ContactRecord
    flags: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    @property
    def suitability(self) -> bool:
        """A suitability finding stored with the record: shown before everything else."""
        return any(f.startswith(TOPIC_PREFIX) for f in self.flags)


@dataclass(frozen=True, slots=True)
class AnswerMix:
    """Answers split three ways: confident (grounded, not weak), weak (grounded but 依据较弱), unanswered."""

    confident: int = 0
    weak: int = 0
    unanswered: int = 0

    @property
    def total(self) -> int:
        return self.confident + self.weak + self.unanswered

    @classmethod
    def of(cls, heads: Iterable[ExchangeHead]) -> AnswerMix:
        confident = weak = unanswered = 0
        for h in heads:
            if not h.grounded:
                unanswered += 1
            elif is_weak(h):
                weak += 1
            else:
                confident += 1
        return cls(confident=confident, weak=weak, unanswered=unanswered)


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One exchange or contact record in a review; `exchange`/`contact` is filled for the shown page."""

    kind: str  # EXCHANGE | CONTACT
    id: int
    staff_code: str
    at: datetime
    flagged: bool
    state: ItemState
    exchange: Exchange | None = None
    contact: FlaggedContact | None = None

    @property
    def ref(self) -> str:
        return item_ref(self.kind, self.id)


@dataclass(frozen=True, slots=True)
class ReviewTotals:
    """Counts over the whole range (every page), the same window as /stats."""

    exchanges: int = 0
    contacts: int = 0
    reviewed: int = 0
    unreviewed_flagged: int = 0
    escalated: int = 0  # escalations still open
    mix: AnswerMix = AnswerMix()

    @property
    def items(self) -> int:
        return self.exchanges + self.contacts

    @property
    def unreviewed(self) -> int:
        return self.items - self.reviewed


@dataclass(frozen=True, slots=True)
class ReviewView:
    since: date
    until: date  # inclusive
    staff_codes: tuple[str, ...]
    names: dict[str, str]
    items: tuple[ReviewItem, ...] = ()  # this page, unreviewed first (flagged first among them)
    totals: ReviewTotals = ReviewTotals()
    rm: str | None = None  # the RM the review was narrowed to (a code), for page links
    page: int = 1
    pages: int = 1
    page_size: int = 10
    snapshot: datetime | None = None  # the order of the pages is the one at this instant
    checks: tuple[StoredCheck, ...] = ()  # message checks of the range with verdict revise, newest first
    check_states: dict[int, ItemState] = field(default_factory=dict)  # by check id (M12), when acted on

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        return tuple(i.exchange for i in self.items if i.kind == EXCHANGE and i.exchange is not None)

    @property
    def contacts(self) -> tuple[FlaggedContact, ...]:
        return tuple(i.contact for i in self.items if i.kind == CONTACT and i.contact is not None)


@dataclass(frozen=True, slots=True)
class DayCounts:
    day: date
    confident: int = 0
    weak: int = 0
    unanswered: int = 0


@dataclass(frozen=True, slots=True)
class StatsView:
    since: date
    until: date
    stats: LogStats
    contacts: int
    contacts_by_staff: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    mix: AnswerMix = AnswerMix()
    daily: tuple[DayCounts, ...] = ()
    flagged_by_staff: dict[str, int] = field(default_factory=dict)  # flagged exchanges
    flagged_contacts_by_staff: dict[str, int] = field(default_factory=dict)
    with_contacts: bool = True  # trainers see knowledge usage, not client activity
    checks_by_staff: dict[str, tuple[int, int]] = field(default_factory=dict)  # (message checks, revised)


@dataclass(frozen=True, slots=True)
class Escalation:
    """An exchange a supervisor escalated to the trainers, waiting to be resolved."""

    action: ReviewAction
    exchange: Exchange | None

    @property
    def ref(self) -> str:
        return self.action.ref


@dataclass(frozen=True, slots=True)
class UnansweredView:
    since: date
    items: tuple[UnansweredQuestion, ...]
    escalations: tuple[Escalation, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: str
    done: tuple[str, ...] = ()  # refs acted on
    skipped: tuple[str, ...] = ()  # refs already in that state
