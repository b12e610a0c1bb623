"""The RM's day: follow-ups due or overdue, birthdays this week and KYC reviews overdue or due within
30 days (`/today` and the morning digest). Supervisors see their team's clients: the CRM's scopes
decide, this module never filters."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from bot.core import Clock, Request, crm_call
from bot.rendering import Reply, esc, fmt_date
from crm_adapter import BirthdayReminder, Client, CRMAdapter, FollowUp, Staff
from crm_adapter.models import KycReview

if TYPE_CHECKING:
    from bot.audit import AuditTrail

logger = logging.getLogger(__name__)

#: KYC reviews falling due within this many days are listed (overdue ones always).
KYC_HORIZON_DAYS = 30


@dataclass(frozen=True, slots=True)
class TodayView:
    staff: Staff
    today: date
    follow_ups: tuple[FollowUp, ...]
    birthdays: tuple[BirthdayReminder, ...]
    kyc_reviews: tuple[KycReview, ...] = ()


class TodayService:
    def __init__(self, *, crm: CRMAdapter, clock: Clock, audit: AuditTrail | None = None) -> None:
        self.crm = crm
        self.clock = clock
        self.audit = audit

    def view(self, staff: Staff) -> TodayView:
        today = self.clock.today()
        follow_ups = crm_call(lambda: self.crm.follow_ups(actor=staff.code, today=today))
        birthdays = crm_call(lambda: self.crm.upcoming_birthdays(actor=staff.code, days=7, today=today))
        kyc = crm_call(
            lambda: self.crm.kyc_reviews_due(actor=staff.code, today=today, horizon_days=KYC_HORIZON_DAYS)
        )
        view = TodayView(
            staff=staff,
            today=today,
            follow_ups=tuple(follow_ups),
            birthdays=tuple(birthdays),
            kyc_reviews=tuple(kyc),
        )
        clients = [f.client for f in view.follow_ups] + [b.client for b in view.birthdays]
        ids = sorted({c.client_id for c in clients + [k.client for k in view.kyc_reviews]})
        if ids and self.audit is not None:  # a list of clients is client data: audited, fails closed
            self.audit.append(kind="client_list", actor=staff.code, ref="today", payload={"clients": ids})
        return view


def today(svc: TodayService, req: Request) -> Reply:
    """List follow-ups due or overdue, birthdays this week and KYC reviews due within 30 days."""
    return Reply(render_today(svc.view(req.staff)))


def render_today(view: TodayView, *, greeting: str | None = None) -> str:
    lines: list[str] = []
    if greeting:
        lines += [greeting, ""]
    lines.append(f"📅 <b>{esc(fmt_date(view.today))}</b>")
    overdue = [f for f in view.follow_ups if f.overdue]
    due = [f for f in view.follow_ups if not f.overdue]
    if overdue:
        lines += ["", f"<b>已逾期回访（{len(overdue)}）</b>"]
        lines += [_follow_up_line(f.client, f.due, f.reason, view.today) for f in overdue]
    if due:
        lines += ["", f"<b>今日待回访（{len(due)}）</b>"]
        lines += [_follow_up_line(f.client, f.due, f.reason, view.today) for f in due]
    if not view.follow_ups:
        lines += ["", "今天没有到期的回访。"]
    if view.birthdays:
        lines += ["", f"<b>本周生日（{len(view.birthdays)}）</b>"]
        for b in view.birthdays:
            when = "今天" if b.days_until == 0 else f"{b.days_until} 天后"
            lines.append(
                f"🎂 {esc(b.client.name)}（{esc(b.client.tier)}）{esc(fmt_date(b.birthday))}，{when}"
            )
    kyc_overdue = [k for k in view.kyc_reviews if k.overdue]
    kyc_due = [k for k in view.kyc_reviews if not k.overdue]
    if kyc_overdue:
        lines += ["", f"<b>KYC 复核已逾期（{len(kyc_overdue)}）</b>"]
        lines += [_kyc_line(k, view.staff) for k in kyc_overdue]
    if kyc_due:
        lines += ["", f"<b>{KYC_HORIZON_DAYS} 天内 KYC 复核（{len(kyc_due)}）</b>"]
        lines += [_kyc_line(k, view.staff) for k in kyc_due]
    return "\n".join(lines)


def _kyc_line(k: KycReview, staff: Staff) -> str:
    when = f"逾期 {-k.days} 天" if k.overdue else "今天到期" if k.days == 0 else f"{k.days} 天后到期"
    # A supervisor sees the team's clients: name the RM who owns each one.
    owner = f" · {esc(k.client.rm_code)}" if k.client.rm_code != staff.code else ""
    return (
        f"🪪 {esc(k.client.name)}（{esc(k.client.tier)}，{esc(k.client.client_id)}）"
        f"{esc(fmt_date(k.due))}，{when}{owner}"
    )


def _follow_up_line(client: Client, due: date, reason: str, today_: date) -> str:
    late = (today_ - due).days
    when = f"逾期 {late} 天" if late > 0 else "今天"
    return f"• {esc(client.name)}（{esc(client.tier)}，{esc(client.client_id)}）{when} · {esc(reason)}"


def render_digest(view: TodayView) -> str:
    return render_today(view, greeting=f"早上好，{esc(view.staff.name)}！今天的工作提醒：")
