"""SupervisionService: the team's review (paged, with actions), usage figures, gaps and escalations."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from bot import compliance, roles
from bot.core import Clock, ServiceError, crm_call
from bot.dates import Window, parse_window
from bot.features import suitability
from bot.features.privacy import ClientPrivacy
from bot.features.supervision.store import (
    CHECK,
    COMMENT,
    CONTACT,
    ESCALATE,
    EXCHANGE,
    RESOLVE,
    REVIEWED,
    ItemState,
    ReviewLog,
    item_ref,
    parse_ref,
)
from bot.features.supervision.tallies import daily_counts, log_stats, merged_questions
from bot.features.supervision.views import (
    ActionResult,
    AnswerMix,
    Escalation,
    FlaggedContact,
    ReviewItem,
    ReviewTotals,
    ReviewView,
    StatsView,
    UnansweredView,
)
from crm_adapter import ContactRecord, CRMAdapter, Staff

if TYPE_CHECKING:
    from bot.audit import AuditTrail
    from bot.convlog import ConversationLog
    from bot.features.message_check.store import CheckStore, StoredCheck

logger = logging.getLogger(__name__)

#: Items per /review page.
PAGE_SIZE = 10
#: Contact records read per RM and range (the CRM's cap per call); /review and /stats use the same.
CONTACTS_PER_RM = 1000


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SupervisionService:
    """The conversation log and the CRM seen by supervisors, trainers and admins, plus review actions."""

    def __init__(
        self,
        *,
        crm: CRMAdapter,
        log: ConversationLog,
        clock: Clock,
        reviews: ReviewLog | None = None,
        privacy: ClientPrivacy | None = None,
        audit: AuditTrail | None = None,
        checks: CheckStore | None = None,
    ) -> None:
        self.crm = crm
        self.audit = audit
        self.checks = checks  # recorded message checks (/check): counted in /stats, opened from /review
        self.log = log
        self.clock = clock
        self.reviews = reviews if reviews is not None else ReviewLog(log)
        self.privacy = privacy if privacy is not None else ClientPrivacy(crm)  # what trainers may not see

    # --- review -----------------------------------------------------------------------------------
    def window(self, args: Sequence[str]) -> Window:
        return parse_window(args, self.clock.today(), default_days=7, allow_page=True)

    def review(self, staff: Staff, args: Sequence[str] = ()) -> ReviewView:
        """One page of the team's exchanges and contact records: unreviewed first, flagged first."""
        return self.review_window(staff, self.window(args))

    def review_window(self, staff: Staff, window: Window, *, snapshot: datetime | None = None) -> ReviewView:
        """Page `window.page` of the review; with `snapshot`, the pages are those of that instant (items
        stored later are left out, the order uses the actions up to then; the marks shown are current)."""
        members = self._members(staff, window.rm)
        codes = tuple(m.code for m in members)
        start, end = self.clock.utc_range(window.since, window.until)
        heads = self.log.exchange_heads(staff_codes=codes, since=start, until=end)
        contacts = [
            FlaggedContact(record=r, flags=suitability.labels_of(r.topics) + compliance.check(r.summary))
            for code in codes
            for r in self._contacts(staff, code, window.since, window.until)
        ]
        if snapshot is not None:
            heads = [h for h in heads if h.created_at <= snapshot]
            contacts = [c for c in contacts if _aware(c.record.created_at) <= snapshot]
        else:  # now, or the newest item if a clock runs ahead: the page links must find every item again
            stored = [h.created_at for h in heads] + [_aware(c.record.created_at) for c in contacts]
            snapshot = max([self.clock.utcnow(), *stored]).replace(microsecond=0) + timedelta(seconds=1)
        ex_actions = self.reviews.actions_for(EXCHANGE, [h.id for h in heads])
        ct_actions = self.reviews.actions_for(CONTACT, [c.record.id for c in contacts])
        ordered: list[tuple[tuple[bool, bool, bool, float, int, int], ReviewItem]] = []
        for h in heads:
            acts = ex_actions.get(h.id, [])
            item = ReviewItem(EXCHANGE, h.id, h.staff_code, h.created_at, h.flagged, ItemState.of(acts))
            ordered.append((_order(item, ItemState.of(acts, as_of=snapshot), urgent=False), item))
        by_id = {c.record.id: c for c in contacts}
        for c in contacts:
            acts = ct_actions.get(c.record.id, [])
            r = c.record
            item = ReviewItem(CONTACT, r.id, r.rm_code, _aware(r.occurred_at), c.flagged, ItemState.of(acts))
            ordered.append((_order(item, ItemState.of(acts, as_of=snapshot), urgent=c.suitability), item))
        ordered.sort(key=lambda pair: pair[0])
        items = [item for _, item in ordered]
        pages = max(1, math.ceil(len(items) / PAGE_SIZE))
        page = min(max(1, window.page), pages)
        shown = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        full = self.log.get_many([i.id for i in shown if i.kind == EXCHANGE])
        shown = [
            dataclasses.replace(i, exchange=full.get(i.id))
            if i.kind == EXCHANGE
            else dataclasses.replace(i, contact=by_id[i.id])
            for i in shown
        ]
        totals = ReviewTotals(
            exchanges=len(heads),
            contacts=len(contacts),
            reviewed=sum(1 for i in items if i.state.reviewed),
            unreviewed_flagged=sum(1 for i in items if i.flagged and not i.state.reviewed),
            escalated=sum(1 for i in items if i.state.escalated),
            mix=AnswerMix.of(heads),
        )
        checks = self._flagged_checks(codes, start, end)
        return ReviewView(
            since=window.since,
            until=window.until,
            staff_codes=codes,
            names={staff.code: staff.name} | {m.code: m.name for m in members},  # the reviewer's notes too
            items=tuple(i for i in shown if i.kind == CONTACT or i.exchange is not None),
            totals=totals,
            rm=codes[0] if window.rm is not None else None,
            page=page,
            pages=pages,
            page_size=PAGE_SIZE,
            snapshot=snapshot,
            checks=checks,
            check_states=self.reviews.states(CHECK, [c.id for c in checks]),
        )

    def _flagged_checks(
        self, codes: Sequence[str], start: datetime, end: datetime
    ) -> tuple[StoredCheck, ...]:
        if self.checks is None:
            return ()
        found = self.checks.between(staff_codes=codes, since=start, until=end)
        return tuple(c for c in found if c.verdict == "revise")

    def open_check(self, staff: Staff, check_id: int) -> StoredCheck:
        """A recorded message check of the supervisor's team (`/review M12`)."""
        found = self.checks.get(check_id) if self.checks is not None else None
        if found is None or (
            not roles.acts_for_anyone(staff) and found.staff_code not in {m.code for m in self._team(staff)}
        ):
            raise ServiceError(f"找不到消息检查 M{check_id}，或它不属于您的团队。")
        return found

    def check_state(self, check_id: int) -> ItemState:
        """What supervisors did with a recorded message check (/reviewed M12, /note M12 …)."""
        return ItemState.of(self.reviews.actions_for(CHECK, [check_id]).get(check_id, []))

    # --- actions ----------------------------------------------------------------------------------
    def mark(
        self, staff: Staff, refs: Sequence[str], action: str, comment: str | None = None
    ) -> ActionResult:
        """Mark items reviewed, comment on one, escalate exchanges to the trainers or resolve them."""
        parsed = [(ref, parse_ref(ref)) for ref in refs]
        bad = [ref for ref, p in parsed if p is None]
        if bad or not parsed:
            raise ServiceError(
                f"无法识别编号“{'、'.join(bad)}”。"
                if bad
                else "请写上编号，例如 Q12（问答）、C7（联系记录）或 M3（消息检查）。"
            )
        if action == COMMENT and not (comment and comment.strip()):
            raise ServiceError("请写上评论内容，例如：/note Q12 回答需补充风险提示")
        targets: list[tuple[str, int, str | None]] = []
        skipped: list[str] = []
        for kind, item_id in (p for _, p in parsed if p is not None):
            if action in (ESCALATE, RESOLVE) and kind != EXCHANGE:
                raise ServiceError("只有问答（Q 开头的编号）可以转交培训师。")
            owner = self._owner(staff, kind, item_id)
            state = ItemState.of(self.reviews.actions_for(kind, [item_id]).get(item_id, []))
            already = {
                REVIEWED: state.reviewed,
                ESCALATE: state.escalated,
                RESOLVE: not state.escalated,
            }.get(action, False)
            if action == RESOLVE and already:
                raise ServiceError(f"{item_ref(kind, item_id)} 没有待处理的主管转交。")
            if already or any(t[:2] == (kind, item_id) for t in targets):
                skipped.append(item_ref(kind, item_id))
            else:
                targets.append((kind, item_id, owner))
        if targets:
            self.reviews.add_many(
                targets, action=action, actor=staff.code, at=self.clock.utcnow(), comment=comment
            )
        return ActionResult(action, tuple(item_ref(k, i) for k, i, _ in targets), tuple(skipped))

    def mark_page(self, staff: Staff, window: Window, snapshot: datetime) -> ActionResult:
        """Mark reviewed every item of a page (as it was at `snapshot`) that is not reviewed yet."""
        view = self.review_window(staff, window, snapshot=snapshot)
        todo = [(i.kind, i.id, i.staff_code) for i in view.items if not i.state.reviewed]
        if todo:
            self.reviews.add_many(todo, action=REVIEWED, actor=staff.code, at=self.clock.utcnow())
        return ActionResult(REVIEWED, tuple(item_ref(k, i) for k, i, _ in todo))

    def _owner(self, staff: Staff, kind: str, item_id: int) -> str:
        """The staff code the item belongs to, once `staff` may act on it (ServiceError otherwise)."""
        ref = item_ref(kind, item_id)
        if kind == EXCHANGE:
            exchange = self.log.get(exchange_id=item_id)
            if exchange is None:
                raise ServiceError(f"找不到问答 {ref}。")
            if roles.sees_all_exchanges(staff):
                return exchange.staff_code
            if exchange.staff_code not in {m.code for m in self._team(staff)}:
                raise ServiceError(f"问答 {ref} 不属于您的团队。")
            return exchange.staff_code
        if kind == CHECK:  # the same team check as /review M12
            return self.open_check(staff, item_id).staff_code
        for member in self._team(staff):
            if any(r.id == item_id for r in self._contacts(staff, member.code, None, None)):
                return member.code
        raise ServiceError(f"找不到联系记录 {ref}，或它不属于您的团队。")

    # --- escalations and gaps -------------------------------------------------------------------
    def escalations(self, staff: Staff, *, limit: int = 30) -> tuple[Escalation, ...]:
        """Exchanges escalated to the trainers and not resolved (a supervisor: their team's)."""
        codes = [m.code for m in self._team(staff)] if roles.team_scoped(staff) else None
        actions = self.reviews.open_escalations(staff_codes=codes)[:limit]
        found = self.log.get_many([a.item_id for a in actions])
        items = tuple(Escalation(action=a, exchange=found.get(a.item_id)) for a in actions)
        if not roles.is_redacted(staff):
            return items
        redact = self.privacy.redact
        return tuple(_redacted(e, redact) for e in items)

    def unanswered(self, staff: Staff, *, days: int = 30) -> UnansweredView:
        """Questions without a source in the knowledge base, and the escalated ones (trainers fill gaps)."""
        today = self.clock.today()
        since = today - timedelta(days=days)
        start, _ = self.clock.utc_range(since, today)
        items = self.log.unanswered(since=start, limit=50 if roles.team_scoped(staff) else 20)
        if roles.team_scoped(staff):
            team = {m.code for m in self._team(staff)}
            items = [u for u in items if team.intersection(u.staff_codes)]
        if roles.is_redacted(staff):
            items = merged_questions(
                [dataclasses.replace(u, question=self.privacy.redact(u.question)) for u in items]
            )
        return UnansweredView(since=since, items=tuple(items[:20]), escalations=self.escalations(staff))

    # --- stats ------------------------------------------------------------------------------------
    def stats(self, staff: Staff, args: Sequence[str] = ()) -> StatsView:
        """Usage figures for the team (supervisors) or everyone (trainers, admins)."""
        window = parse_window(args, self.clock.today(), default_days=30, allow_staff=False)
        since, until = window.since, window.until
        start, end = self.clock.utc_range(since, until)
        if roles.team_scoped(staff):
            members = self._team(staff)
            codes: list[str] | None = [m.code for m in members]
            names = {m.code: m.name for m in members}
        else:
            codes = None
            names = {s.code: s.name for s in self.crm.list_staff()}
        heads = self.log.exchange_heads(staff_codes=codes, since=start, until=end)
        by_staff: dict[str, int] = {}
        flagged_contacts: dict[str, int] = {}
        with_contacts = roles.sees_client_activity(staff)
        if with_contacts:
            rm_codes = (
                codes if codes is not None else [s.code for s in self.crm.list_staff() if roles.is_rm(s)]
            )
            for code in rm_codes:
                records = self._contacts(staff, code, since, until)
                if records:
                    by_staff[code] = len(records)
                    flagged = sum(
                        1 for r in records if suitability.labels_of(r.topics) or compliance.check(r.summary)
                    )
                    if flagged:
                        flagged_contacts[code] = flagged
        flagged_by_staff: dict[str, int] = {}
        for h in heads:
            if h.flagged:
                flagged_by_staff[h.staff_code] = flagged_by_staff.get(h.staff_code, 0) + 1
        return StatsView(
            since=since,
            until=until,
            stats=log_stats(heads),
            contacts=sum(by_staff.values()),
            contacts_by_staff=by_staff,
            names=names,
            mix=AnswerMix.of(heads),
            daily=daily_counts(heads, since, until, self.clock.tz),
            flagged_by_staff=flagged_by_staff,
            flagged_contacts_by_staff=flagged_contacts,
            with_contacts=with_contacts,
            checks_by_staff=(
                self.checks.counts(staff_codes=codes, since=start, until=end)
                if self.checks is not None and with_contacts
                else {}
            ),
        )

    # --- CRM --------------------------------------------------------------------------------------
    def _contacts(
        self, staff: Staff, rm_code: str, since: date | None, until: date | None
    ) -> list[ContactRecord]:
        records = crm_call(
            lambda: self.crm.list_contacts(
                actor=staff.code, rm_code=rm_code, since=since, until=until, limit=CONTACTS_PER_RM
            )
        )
        if records and self.audit is not None:  # contact records are client data: audited, fails closed
            ids = sorted({r.client_id for r in records})
            self.audit.append(
                kind="client_list", actor=staff.code, ref=f"contacts:{rm_code}", payload={"clients": ids}
            )
        return records

    def team_codes(self, staff: Staff) -> list[str]:
        """The staff codes whose exchanges `staff` supervises (a supervisor's team)."""
        return [m.code for m in self._team(staff)]

    def _team(self, staff: Staff) -> list[Staff]:
        members = crm_call(lambda: self.crm.team_members(actor=staff.code))
        return [m for m in members if m.code != staff.code] or members

    def _members(self, staff: Staff, rm: str | None) -> list[Staff]:
        members = self._team(staff)
        if rm is None:
            return members
        chosen = [m for m in members if rm.upper() == m.code.upper() or rm == m.name]
        if not chosen:
            raise ServiceError(f"“{rm}”不在您的团队中。")
        return chosen[:1]


def _order(item: ReviewItem, then: ItemState, *, urgent: bool) -> tuple[bool, bool, bool, float, int, int]:
    """Unreviewed first; among them suitability findings, then other flags; newest first; exchanges
    before contacts on a tie."""
    kind = 0 if item.kind == EXCHANGE else 1
    return (then.reviewed, not urgent, not item.flagged, -item.at.timestamp(), kind, -item.id)


def _redacted(e: Escalation, redact: Callable[[str], str]) -> Escalation:
    """An escalation as a trainer sees it: question, answer and the supervisor's reason redacted."""
    action = dataclasses.replace(e.action, comment=redact(e.action.comment) if e.action.comment else None)
    if e.exchange is None:
        return Escalation(action=action, exchange=None)
    exchange = dataclasses.replace(
        e.exchange, question=redact(e.exchange.question), answer=redact(e.exchange.answer)
    )
    return Escalation(action=action, exchange=exchange)
