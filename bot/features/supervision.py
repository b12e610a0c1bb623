"""Supervision: the team's exchanges and contact records (`/review`), usage figures (`/stats`) and
the questions the knowledge base could not answer (`/unanswered`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from bot import compliance
from bot.core import Clock, Request, ServiceError, crm_call
from bot.features import suitability
from bot.features.ask import stored_flags_label
from bot.features.contact_log.parsing import date_or_none
from bot.rendering import Reply, clip, esc, fmt_datetime, fmt_range
from crm_adapter import ContactRecord, CRMAdapter, Role, Staff

if TYPE_CHECKING:
    from bot.convlog import ConversationLog, Exchange, LogStats, UnansweredQuestion

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
        return any(f.startswith(suitability.TOPIC_PREFIX) for f in self.flags)


@dataclass(frozen=True, slots=True)
class ReviewView:
    since: date
    until: date  # inclusive
    staff_codes: tuple[str, ...]
    names: dict[str, str]
    exchanges: tuple[Exchange, ...]
    contacts: tuple[FlaggedContact, ...]


@dataclass(frozen=True, slots=True)
class StatsView:
    since: date
    until: date
    stats: LogStats
    contacts: int
    contacts_by_staff: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnansweredView:
    since: date
    items: tuple[UnansweredQuestion, ...]


class SupervisionService:
    """Read-only views over the conversation log and the CRM for supervisors, trainers and admins."""

    def __init__(self, *, crm: CRMAdapter, log: ConversationLog, clock: Clock) -> None:
        self.crm = crm
        self.log = log
        self.clock = clock

    def review(self, staff: Staff, args: Sequence[str] = ()) -> ReviewView:
        """The team's recent exchanges and contact records, flagged first."""
        members = self._team(staff)
        rm_arg, since, until = self._args(args)
        if rm_arg is not None:
            chosen = [m for m in members if rm_arg.upper() == m.code.upper() or rm_arg == m.name]
            if not chosen:
                raise ServiceError(f"“{rm_arg}”不在您的团队中。")
            members = chosen
        codes = tuple(m.code for m in members)
        start, end = self.clock.utc_range(since, until)
        exchanges = self.log.list_exchanges(
            staff_codes=codes, since=start, until=end, flagged_first=True, limit=20
        )
        contacts: list[FlaggedContact] = []
        for code in codes:
            records = self._contacts(staff, code, since, until, limit=50)
            contacts.extend(
                FlaggedContact(record=r, flags=suitability.labels_of(r.topics) + compliance.check(r.summary))
                for r in records
            )
        # Suitability findings first, then other flags, newest first within each.
        contacts.sort(key=lambda c: (not c.suitability, not c.flagged, -c.record.occurred_at.timestamp()))
        return ReviewView(
            since=since,
            until=until,
            staff_codes=codes,
            names={m.code: m.name for m in members},
            exchanges=tuple(exchanges),
            contacts=tuple(contacts[:20]),
        )

    def unanswered(self, staff: Staff, *, days: int = 30) -> UnansweredView:
        """Questions without a source in the knowledge base (trainers fill the gaps)."""
        today = self.clock.today()
        since = today - timedelta(days=days)
        start, _ = self.clock.utc_range(since, today)
        items = self.log.unanswered(since=start, limit=50 if staff.role == Role.SUPERVISOR else 20)
        if staff.role == Role.SUPERVISOR:
            team = {m.code for m in self._team(staff)}
            items = [u for u in items if team.intersection(u.staff_codes)]
        return UnansweredView(since=since, items=tuple(items[:20]))

    def stats(self, staff: Staff, args: Sequence[str] = ()) -> StatsView:
        """Usage figures for the team (supervisors) or everyone (trainers, admins)."""
        _, since, until = self._args(args, default_days=30, allow_staff=False)
        start, end = self.clock.utc_range(since, until)
        if staff.role == Role.SUPERVISOR:
            members = self._team(staff)
            codes: list[str] | None = [m.code for m in members]
            names = {m.code: m.name for m in members}
        else:
            codes = None
            names = {s.code: s.name for s in self.crm.list_staff()}
        log_stats = self.log.stats(staff_codes=codes, since=start, until=end)
        by_staff: dict[str, int] = {}
        if staff.role != Role.TRAINER:  # trainers see knowledge usage, not client activity
            rm_codes = (
                codes if codes is not None else [s.code for s in self.crm.list_staff() if s.role == Role.RM]
            )
            for code in rm_codes:
                records = self._contacts(staff, code, since, until, limit=1000)
                if records:
                    by_staff[code] = len(records)
        return StatsView(
            since=since,
            until=until,
            stats=log_stats,
            contacts=sum(by_staff.values()),
            contacts_by_staff=by_staff,
            names=names,
        )

    def _contacts(
        self, staff: Staff, rm_code: str, since: date, until: date, *, limit: int
    ) -> list[ContactRecord]:
        return crm_call(
            lambda: self.crm.list_contacts(
                actor=staff.code, rm_code=rm_code, since=since, until=until, limit=limit
            )
        )

    def _team(self, staff: Staff) -> list[Staff]:
        members = crm_call(lambda: self.crm.team_members(actor=staff.code))
        return [m for m in members if m.code != staff.code] or members

    def _args(
        self, args: Sequence[str], *, default_days: int = 7, allow_staff: bool = True
    ) -> tuple[str | None, date, date]:
        today = self.clock.today()
        rm: str | None = None
        since, until = today - timedelta(days=default_days - 1), today
        for raw in args:
            token = raw.strip()
            if not token:
                continue
            parsed = parse_date_range(token, today)
            if parsed is not None:
                since, until = parsed
            elif allow_staff and rm is None:
                rm = token
            else:
                raise ServiceError(
                    f"无法识别“{token}”。日期范围可写 2026-11-01~2026-11-28、"
                    "2026-11-20、7天、今天、本周 或 本月。"
                )
        if since > until:
            raise ServiceError("开始日期不能晚于结束日期。")
        return rm, since, until


def parse_date_range(token: str, today: date) -> tuple[date, date] | None:
    """`2026-11-01~2026-11-28`, `2026-11-20`, `7天`, `今天`, `昨天`, `本周`, `本月` → inclusive range."""
    token = token.strip()
    if token in {"今天", "今日"}:
        return today, today
    if token == "昨天":
        day = today - timedelta(days=1)
        return day, day
    if token == "本周":
        return today - timedelta(days=today.weekday()), today
    if token == "本月":
        return today.replace(day=1), today
    if m := re.fullmatch(r"(?:近|最近)?(\d{1,3})天", token):
        days = max(1, int(m.group(1)))
        return today - timedelta(days=days - 1), today
    parts = re.split(r"~|～|\.\.|至|到|—", token)
    dates = [_parse_iso(p) for p in parts if p]
    if len(parts) == 1 and dates[0] is not None:
        return dates[0], dates[0]
    if len(parts) == 2 and len(dates) == 2 and dates[0] is not None and dates[1] is not None:
        return dates[0], dates[1]
    return None


def _parse_iso(text: str) -> date | None:
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text.strip())
    return date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


# --- handlers -----------------------------------------------------------------------------------
def review(svc: SupervisionService, req: Request) -> Reply:
    """Show the team's recent exchanges and contact records, flagged first."""
    return Reply(render_review(svc.review(req.staff, req.words), tz=svc.clock.tz))


def unanswered(svc: SupervisionService, req: Request) -> Reply:
    """List questions the knowledge base could not answer."""
    return Reply(render_unanswered(svc.unanswered(req.staff), tz=svc.clock.tz))


def stats(svc: SupervisionService, req: Request) -> Reply:
    """Show usage figures."""
    return Reply(render_stats(svc.stats(req.staff, req.words)))


# --- renderers ----------------------------------------------------------------------------------
def _exchange_line(e: Exchange, names: dict[str, str], tz: object | None) -> str:
    marks = stored_flags_label(e)
    flag = "🚩 " if e.flagged else ""
    who = names.get(e.staff_code, e.staff_code)
    tail = f"【{esc('、'.join(marks))}】" if marks else ""
    return (
        f"{flag}{esc(fmt_datetime(e.created_at, tz))} {esc(who)}：{esc(clip(e.question, 80))} {tail}".rstrip()
    )


def _contact_line(c: FlaggedContact, names: dict[str, str], tz: object | None) -> str:
    r = c.record
    flag = "🚩 " if c.flags else ""
    who = names.get(r.rm_code, r.rm_code)
    tail = f"【{esc('、'.join(c.flags))}】" if c.flags else ""
    return (
        f"{flag}{esc(fmt_datetime(r.occurred_at, tz))} {esc(who)} → {esc(r.client_id)}"
        f" {esc(r.channel)}：{esc(clip(r.summary, 80))} {tail}"
    ).rstrip()


def render_review(view: ReviewView, *, tz: object | None = None) -> str:
    lines = [f"<b>团队复盘</b> {esc(fmt_range(view.since, view.until))}"]
    lines.append("成员：" + esc("、".join(f"{view.names.get(c, c)}({c})" for c in view.staff_codes)))
    flagged = sum(1 for e in view.exchanges if e.flagged) + sum(1 for c in view.contacts if c.flagged)
    if flagged:
        lines.append(f"🚩 需关注 {flagged} 条（无依据回答、👎、合规提示）")
    lines += ["", f"<b>问答（{len(view.exchanges)}）</b>"]
    lines += [_exchange_line(e, view.names, tz) for e in view.exchanges] or ["暂无问答记录。"]
    lines += ["", f"<b>联系记录（{len(view.contacts)}）</b>"]
    lines += [_contact_line(c, view.names, tz) for c in view.contacts] or ["暂无联系记录。"]
    return "\n".join(lines)


def render_unanswered(view: UnansweredView, *, tz: object | None = None) -> str:
    if not view.items:
        return f"自 {view.since:%Y-%m-%d} 以来没有未能回答的问题。👏"
    lines = [f"<b>知识库未能回答的问题</b>（自 {view.since:%Y-%m-%d}）"]
    for i, u in enumerate(view.items, 1):
        lines.append(
            f"{i}. {esc(u.question)}（{u.times} 次，最近 {esc(fmt_datetime(u.last_asked, tz))}，"
            f"{esc('、'.join(u.staff_codes))}）"
        )
    return "\n".join(lines)


def render_stats(view: StatsView) -> str:
    s = view.stats
    rate = f"{s.grounded / s.questions:.0%}" if s.questions else "—"
    lines = [
        f"<b>使用统计</b> {esc(fmt_range(view.since, view.until))}",
        f"提问 {s.questions} 次，有依据 {s.grounded}（{rate}），未能回答 {s.unanswered}",
        f"👍 {s.thumbs_up}　👎 {s.thumbs_down}　🚩 需关注 {s.flagged}",
    ]
    if view.contacts_by_staff or view.contacts:
        lines.append(f"联系记录 {view.contacts} 条")
    codes = sorted(set(s.by_staff) | set(view.contacts_by_staff))
    if codes:
        lines += ["", "<b>按员工</b>"]
        for code in codes:
            part = f"提问 {s.by_staff.get(code, 0)}"
            if view.contacts_by_staff:
                part += f"，联系 {view.contacts_by_staff.get(code, 0)}"
            lines.append(f"• {esc(view.names.get(code, code))}（{esc(code)}）：{part}")
    return "\n".join(lines)
