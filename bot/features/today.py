"""The RM's day, ranked (`/today` and the morning digest): one numbered list, most urgent first, each item
with its reason — overdue follow-ups, KYC reviews overdue or due within 30 days, risk assessments
missing, expired or expiring, follow-ups due today, birthdays this week, and (in the last weeks of the
year) counted entitlements not used yet. Assessments and entitlements come from every client in scope,
not only from clients listed for another reason. `/done 3 [说明]` and `/skip 3 原因` mark an item; a
supervisor's `/today` shows the team's items, each with its RM, and every RM's completion.

Supervisors see their team's clients: the CRM's scopes decide, this module never filters. Marks are
appended to the audit trail (kind `today_mark`, ref `RM code:date`): who marked what, when and why,
tamper-evident, read back for the list and the completion."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from bot import roles
from bot.core import Clock, Request, ServiceError, crm_call
from bot.features import suitability
from bot.rendering import Reply, esc, fmt_date
from crm_adapter import BirthdayReminder, Client, CRMAdapter, FollowUp, RiskAssessmentDue, Staff, Tier
from crm_adapter.models import KycReview

if TYPE_CHECKING:
    from bot.audit import AuditTrail

logger = logging.getLogger(__name__)

#: KYC reviews falling due within this many days are listed (overdue ones always).
KYC_HORIZON_DAYS = 30
#: A risk assessment expiring within this many days is listed.
ASSESSMENT_HORIZON_DAYS = 30
#: Unused counted entitlements are listed from this many days before the year ends.
YEAR_END_DAYS = 45
#: At most this many clients (the most urgent first) are checked for unused entitlements: one ledger read
#: each, so a supervisor's long team list stays quick.
BENEFIT_HINT_CLIENTS = 20
#: Unused entitlements: the higher tiers (more counted entitlements) first, then the sooner follow-up.
_TIER_RANK = {Tier.DIAMOND: 0, Tier.PLATINUM: 1, Tier.GOLD: 2, Tier.POTENTIAL: 3}
MARK_KIND = "today_mark"

#: (client, year) → names of counted entitlements with uses left and none recorded this year.
UnusedBenefits = Callable[[Staff, Client], Sequence[str]]


@dataclass(frozen=True, slots=True)
class TodayItem:
    kind: str  # followup | kyc | assessment | birthday | benefit
    client: Client
    title: str
    reason: str
    urgency: tuple[int, int]  # (group, days): lower first
    mark: str = ""  # "done" | "skipped" | ""
    mark_note: str = ""

    @property
    def key(self) -> str:
        """Stable within a day: the same item gets the same key when the list is built again."""
        return f"{self.kind}:{self.client.client_id}:{self.title}"


@dataclass(frozen=True, slots=True)
class TodayView:
    staff: Staff
    today: date
    follow_ups: tuple[FollowUp, ...]
    birthdays: tuple[BirthdayReminder, ...]
    kyc_reviews: tuple[KycReview, ...] = ()
    assessments: tuple[RiskAssessmentDue, ...] = ()
    items: tuple[TodayItem, ...] = ()


class TodayService:
    def __init__(
        self,
        *,
        crm: CRMAdapter,
        clock: Clock,
        audit: AuditTrail | None = None,
        unused_benefits: UnusedBenefits | None = None,
    ) -> None:
        self.crm = crm
        self.clock = clock
        self.audit = audit
        self.unused_benefits = unused_benefits

    def view(self, staff: Staff) -> TodayView:
        today = self.clock.today()
        follow_ups = crm_call(lambda: self.crm.follow_ups(actor=staff.code, today=today))
        birthdays = crm_call(lambda: self.crm.upcoming_birthdays(actor=staff.code, days=7, today=today))
        kyc = crm_call(
            lambda: self.crm.kyc_reviews_due(actor=staff.code, today=today, horizon_days=KYC_HORIZON_DAYS)
        )
        validity = int(suitability.rules()["assessment"]["validity_months"])
        assessments = crm_call(
            lambda: self.crm.risk_assessments_due(
                actor=staff.code, today=today, horizon_days=ASSESSMENT_HORIZON_DAYS, validity_months=validity
            )
        )
        view = TodayView(
            staff=staff,
            today=today,
            follow_ups=tuple(follow_ups),
            birthdays=tuple(birthdays),
            kyc_reviews=tuple(kyc),
            assessments=tuple(assessments),
        )
        items = rank(view, self._benefit_items(staff, view))
        ids = sorted({i.client.client_id for i in items})
        if ids and self.audit is not None:  # a list of clients is client data: audited, fails closed
            self.audit.append(kind="client_list", actor=staff.code, ref="today", payload={"clients": ids})
        return replace(view, items=self._with_marks(items, today))

    def _benefit_items(self, staff: Staff, view: TodayView) -> list[TodayItem]:
        year_end = date(view.today.year, 12, 31)
        left = (year_end - view.today).days
        if self.unused_benefits is None or left > YEAR_END_DAYS:
            return []
        # Every client in scope (a follow-up falls due within the year for each), not only today's.
        horizon = 366
        every = crm_call(
            lambda: self.crm.follow_ups(actor=staff.code, today=view.today, horizon_days=horizon)
        )
        every.sort(key=lambda f: (_TIER_RANK.get(f.client.tier, 9), f.due, f.client.client_id))
        items: list[TodayItem] = []
        for c in [f.client for f in every[:BENEFIT_HINT_CLIENTS]]:
            try:
                names = self.unused_benefits(staff, c)
            except Exception:  # the day's list stands without this hint
                logger.warning("unused-benefit lookup failed for %s", c.client_id, exc_info=True)
                continue
            if names:
                reason = f"权益表按年计次，权益使用台账 {view.today.year} 年尚无记录；距年底 {left} 天"
                items.append(TodayItem("benefit", c, f"{'、'.join(names)}今年未使用", reason, (5, left)))
        return items

    # --- marks ------------------------------------------------------------------------------------
    def _marks(self, rm_code: str, day: date) -> dict[str, tuple[str, str]]:
        if self.audit is None:
            return {}
        marks: dict[str, tuple[str, str]] = {}
        for event in self.audit.find(kind=MARK_KIND, ref=f"{rm_code}:{day.isoformat()}"):
            marks[str(event.payload["item"])] = (
                str(event.payload["status"]),
                str(event.payload.get("note", "")),
            )
        return marks

    def _with_marks(self, items: Sequence[TodayItem], day: date) -> tuple[TodayItem, ...]:
        by_rm: dict[str, dict[str, tuple[str, str]]] = {}
        out: list[TodayItem] = []
        for item in items:
            rm = item.client.rm_code
            if rm not in by_rm:
                by_rm[rm] = self._marks(rm, day)
            status, note = by_rm[rm].get(item.key, ("", ""))
            out.append(replace(item, mark=status, mark_note=note))
        return tuple(out)

    def mark(self, staff: Staff, number: int, status: str, note: str) -> TodayItem:
        """Mark item `number` of the staff member's list as done or skipped (a skip needs its reason)."""
        if self.audit is None:
            raise ServiceError("审计记录不可用，无法标记。")
        if status == "skipped" and not note:
            raise ServiceError("跳过须写明原因，例如：/skip 3 客户出差，下周再约")
        items = self.view(staff).items
        if not 1 <= number <= len(items):
            raise ServiceError(f"今日清单中没有第 {number} 项（共 {len(items)} 项），请先发送 /today 查看。")
        item = items[number - 1]
        if item.client.rm_code != staff.code and not roles.acts_for_anyone(staff):
            raise ServiceError("只能标记自己客户的事项。")
        self.audit.append(
            kind=MARK_KIND,
            actor=staff.code,
            ref=f"{item.client.rm_code}:{self.clock.today().isoformat()}",
            payload={"item": item.key, "client": item.client.client_id, "status": status, "note": note[:200]},
        )
        return replace(item, mark=status, mark_note=note)


def rank(view: TodayView, extra: Sequence[TodayItem] = ()) -> tuple[TodayItem, ...]:
    """The day's items, most urgent first; one client may have several (each with its own reason)."""
    today = view.today
    items: list[TodayItem] = []
    for f in view.follow_ups:
        late = (today - f.due).days
        if f.overdue:
            items.append(TodayItem("followup", f.client, f"回访逾期 {late} 天", f.reason, (0, -late)))
        else:
            items.append(TodayItem("followup", f.client, "今日回访", f.reason, (3, 0)))
    for k in view.kyc_reviews:
        reason = f"客户资料：KYC 复核到期日 {k.due:%Y-%m-%d}"
        if k.overdue:
            items.append(TodayItem("kyc", k.client, f"KYC 复核逾期 {-k.days} 天", reason, (1, k.days)))
        else:
            title = "KYC 复核今天到期" if k.days == 0 else f"KYC 复核 {k.days} 天后到期"
            items.append(TodayItem("kyc", k.client, title, reason, (2, k.days)))
    for a in view.assessments:
        items.append(_assessment_item(a))
    for b in view.birthdays:
        when = "今天生日" if b.days_until == 0 else f"{b.days_until} 天后生日（{b.birthday:%m-%d}）"
        items.append(TodayItem("birthday", b.client, when, "客户资料：生日", (4, b.days_until)))
    items += extra
    items.sort(key=lambda i: (i.urgency, i.client.client_id, i.kind))
    return tuple(items)


def _assessment_item(a: RiskAssessmentDue) -> TodayItem:
    rule = suitability.rules()["assessment"]
    source = f"《{suitability.rules()['source']['title']}》{rule['article']}"
    c = a.client
    if c.risk_assessed_on is None or a.days is None:
        return TodayItem("assessment", c, "无风险测评记录", f"推介产品前须先测评（{source}）", (1, 0))
    reason = f"测评于 {c.risk_assessed_on:%Y-%m-%d}，有效期 {rule['validity_months']} 个月（{source}）"
    if a.days <= 0:
        return TodayItem("assessment", c, "风险测评已过期", reason, (1, a.days))
    return TodayItem("assessment", c, f"风险测评 {a.days} 天后到期", reason, (2, a.days))


# --- handlers -----------------------------------------------------------------------------------
def today(svc: TodayService, req: Request) -> Reply:
    """The day's items, ranked, each with its reason."""
    return Reply(render_today(svc.view(req.staff)))


def _mark(svc: TodayService, req: Request, status: str) -> Reply:
    number, _, note = req.args.strip().partition(" ")
    if not number.isdigit():
        usage = "/done 3 [说明]" if status == "done" else "/skip 3 原因"
        raise ServiceError(f"用法：{usage}（编号见 /today）")
    item = svc.mark(req.staff, int(number), status, note.strip())
    word = "✅ 已完成" if status == "done" else "⏭ 已跳过"
    return Reply(
        f"{word}：{esc(item.client.name)} {esc(item.title)}"
        + (f"（{esc(note.strip())}）" if note.strip() else "")
    )


def done(svc: TodayService, req: Request) -> Reply:
    """`/done 3 [说明]`: item 3 of today's list is done."""
    return _mark(svc, req, "done")


def skip(svc: TodayService, req: Request) -> Reply:
    """`/skip 3 原因`: item 3 of today's list is skipped, with its reason."""
    return _mark(svc, req, "skipped")


# --- renderers ----------------------------------------------------------------------------------
def _counts(view: TodayView) -> list[str]:
    """The section counts (also what the digest's first glance needs)."""
    parts: list[str] = []
    overdue = [f for f in view.follow_ups if f.overdue]
    if overdue:
        parts.append(f"已逾期回访（{len(overdue)}）")
    due = len(view.follow_ups) - len(overdue)
    if due:
        parts.append(f"今日待回访（{due}）")
    kyc_overdue = sum(k.overdue for k in view.kyc_reviews)
    if kyc_overdue:
        parts.append(f"KYC 复核已逾期（{kyc_overdue}）")
    if len(view.kyc_reviews) - kyc_overdue:
        parts.append(f"{KYC_HORIZON_DAYS} 天内 KYC 复核（{len(view.kyc_reviews) - kyc_overdue}）")
    if view.birthdays:
        parts.append(f"本周生日（{len(view.birthdays)}）")
    return parts


def render_today(view: TodayView, *, greeting: str | None = None) -> str:
    lines: list[str] = []
    if greeting:
        lines += [greeting, ""]
    lines.append(f"📅 <b>{esc(fmt_date(view.today))}</b>")
    counts = _counts(view)
    if counts:
        lines.append(esc(" · ".join(counts)))
    if not view.follow_ups:
        lines.append("今天没有到期的回访。")
    items = view.items or rank(view)
    if items:
        lines += ["", f"<b>今日待办（按紧急程度，共 {len(items)} 项）</b>"]
        lines += [_item_line(n, item, view.staff) for n, item in enumerate(items, 1)]
        if roles.marks_day_items(view.staff):
            lines.append("<i>完成后发送 /done 编号；跳过请写原因：/skip 编号 原因</i>")
    if roles.team_scoped(view.staff) and items:
        lines += ["", "<b>完成情况</b>"]
        lines += [f"• {esc(rm)}：{n_done}/{total}" for rm, n_done, total in completion(items)]
    return "\n".join(lines)


def completion(items: Sequence[TodayItem]) -> list[tuple[str, int, int]]:
    """(RM code, items marked, items) per RM."""
    per: dict[str, list[int]] = {}
    for item in items:
        counts = per.setdefault(item.client.rm_code, [0, 0])
        counts[0] += bool(item.mark)
        counts[1] += 1
    return [(rm, marked, total) for rm, (marked, total) in sorted(per.items())]


def _item_line(n: int, item: TodayItem, staff: Staff) -> str:
    c = item.client
    owner = f" · {esc(c.rm_code)}" if c.rm_code != staff.code else ""
    mark = {"done": "✅ ", "skipped": "⏭ "}.get(item.mark, "")
    note = f"（{esc(item.mark_note)}）" if item.mark_note else ""
    return (
        f"{n}. {mark}{esc(c.name)}（{esc(c.tier)}，{esc(c.client_id)}）{esc(item.title)}{note}{owner}"
        f" — <i>{esc(item.reason)}</i>"
    )


def render_digest(view: TodayView) -> str:
    return render_today(view, greeting=f"早上好，{esc(view.staff.name)}！今天的工作提醒（按紧急程度）：")
