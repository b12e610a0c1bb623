"""Chat handlers of the supervision features: commands and inline buttons of the command table.

Button data stays within Telegram's 64 bytes by carrying the view itself, compactly, instead of state
kept on the server: `rv:<snapshot>:<page>:<since>:<span>:<rm>` shows a page (snapshot = the instant
whose order the pages keep, base 36 seconds; since = yyyymmdd; span = days to the last day; rm = the
code the review is narrowed to, or empty); `rvall:` with the same payload marks that page reviewed;
`rvok:<ref>[:<page>:<since>:<span>:<rm>]` and `rvup:…` mark one item reviewed / escalate it and show
the page again; `rvfix:<ref>` resolves an escalation (trainers).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta

from bot import roles
from bot.core import Request, ServiceError
from bot.dates import Window
from bot.features.message_check.render import render_stored
from bot.features.supervision.charts import render_stats_chart
from bot.features.supervision.render import (
    render_check_state,
    render_escalated,
    render_result,
    render_review,
    render_stats,
    render_unanswered,
)
from bot.features.supervision.service import SupervisionService
from bot.features.supervision.store import COMMENT, ESCALATE, EXCHANGE, RESOLVE, REVIEWED
from bot.features.supervision.views import ReviewView
from bot.rendering import Button, Keyboard, Reply

logger = logging.getLogger(__name__)

#: Telegram's limit on a button's callback data.
CALLBACK_LIMIT = 64
_EXPIRED = "这个按钮已失效，请重新发送 /review。"


# --- button data ------------------------------------------------------------------------------------
def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _ctx(view: ReviewView, page: int) -> str:
    return f"{page}:{view.since:%Y%m%d}:{(view.until - view.since).days}:{view.rm or ''}"


def _fits(data: str) -> bool:
    return len(data.encode()) <= CALLBACK_LIMIT


def page_data(prefix: str, view: ReviewView, page: int) -> str:
    snapshot = int((view.snapshot or datetime.now(UTC)).timestamp())
    return f"{prefix}:{_b36(snapshot)}:{_ctx(view, page)}"


def item_data(prefix: str, ref: str, view: ReviewView) -> str:
    data = f"{prefix}:{ref}:{_ctx(view, view.page)}"
    return data if _fits(data) else f"{prefix}:{ref}"  # too long: no page to show again afterwards


def _window(parts: list[str]) -> Window:
    page, since, span, rm = parts
    start = date(int(since[:4]), int(since[4:6]), int(since[6:8]))
    return Window(rm=rm or None, since=start, until=start + timedelta(days=int(span)), page=int(page))


def decode_page(payload: str) -> tuple[datetime, Window]:
    try:
        snapshot, *rest = payload.split(":")
        return datetime.fromtimestamp(int(snapshot, 36), UTC), _window(rest)
    except (ValueError, IndexError, OverflowError):  # a forged button: dates or numbers out of range
        raise ServiceError(_EXPIRED) from None


def decode_item(payload: str) -> tuple[str, Window | None]:
    ref, *rest = payload.split(":")
    if not rest:
        return ref, None
    try:
        return ref, _window(rest)
    except (ValueError, IndexError, OverflowError):  # a forged button: dates or numbers out of range
        raise ServiceError(_EXPIRED) from None


def review_keyboard(view: ReviewView) -> Keyboard:
    rows: list[tuple[Button, ...]] = []
    todo = [i for i in view.items if not i.state.reviewed]
    for item in todo:
        row = [Button(f"✅ {item.ref} 已复核", item_data("rvok", item.ref, view))]
        if item.kind == EXCHANGE and not item.state.escalated:
            row.append(Button(f"⬆️ {item.ref} 转交培训师", item_data("rvup", item.ref, view)))
        rows.append(tuple(row))
    whole = page_data("rvall", view, view.page)
    if todo and _fits(whole):
        rows.append((Button(f"✅ 本页 {len(todo)} 条全部已复核", whole),))
    nav = []
    if view.page > 1:
        nav.append(Button("◀ 上一页", page_data("rv", view, view.page - 1)))
    if view.page < view.pages:
        nav.append(Button("下一页 ▶", page_data("rv", view, view.page + 1)))
    if nav and all(_fits(b.data) for b in nav):
        rows.append(tuple(nav))
    return tuple(rows)


def _review_reply(svc: SupervisionService, view: ReviewView, notice: str = "") -> Reply:
    text = render_review(view, tz=svc.clock.tz)
    return Reply(f"{notice}\n\n{text}" if notice else text, keyboard=review_keyboard(view) or None)


# --- /review and its buttons -------------------------------------------------------------------------
def review(svc: SupervisionService, req: Request) -> Reply:
    """One page of the team's exchanges and contact records: unreviewed first, flagged first (`/review
    M12` opens a recorded message check)."""
    opened = _CHECK_REF.fullmatch(req.args.strip())
    if opened is not None:
        check = svc.open_check(req.staff, int(opened.group(1)))
        names = {s.code: s.name for s in svc.crm.list_staff()}
        who = f"{names.get(check.staff_code, check.staff_code)}（{check.staff_code}）"
        notes = render_check_state(svc.check_state(check.id), check.ref, names)
        return Reply(render_stored(check, who=who, tz=svc.clock.tz, notes=notes))
    return _review_reply(svc, svc.review(req.staff, req.words))


_CHECK_REF = re.compile(r"[Mm](\d{1,12})")


def review_page(svc: SupervisionService, req: Request) -> Reply:
    """Button 上一页/下一页: another page of the same review, in the order it had when first shown."""
    snapshot, window = decode_page(req.args)
    return _review_reply(svc, svc.review_window(req.staff, window, snapshot=snapshot))


def review_page_done(svc: SupervisionService, req: Request) -> Reply:
    """Button: mark the page's unreviewed items reviewed, then show the page again (the next ones)."""
    snapshot, window = decode_page(req.args)
    result = svc.mark_page(req.staff, window, snapshot)
    return _review_reply(svc, svc.review_window(req.staff, window), render_result(result))


def _item_button(svc: SupervisionService, req: Request, action: str) -> Reply:
    ref, window = decode_item(req.args)
    result = svc.mark(req.staff, [ref], action)
    if window is None:
        return Reply(render_result(result))
    return _review_reply(svc, svc.review_window(req.staff, window), render_result(result))


def review_item_done(svc: SupervisionService, req: Request) -> Reply:
    """Button ✅: mark one item reviewed."""
    return _item_button(svc, req, REVIEWED)


def review_item_escalate(svc: SupervisionService, req: Request) -> Reply:
    """Button ⬆️: escalate one exchange to the trainers (wrong or incomplete answer)."""
    return _item_button(svc, req, ESCALATE)


# --- action commands ---------------------------------------------------------------------------------
def reviewed(svc: SupervisionService, req: Request) -> Reply:
    """/reviewed Q12 C7 M3 …: mark items reviewed."""
    if not req.words:
        raise ServiceError("用法：/reviewed Q12 C7 M3（/review 列表中的编号，可写多个）")
    return Reply(render_result(svc.mark(req.staff, req.words, REVIEWED)))


def _ref_and_text(req: Request, usage: str) -> tuple[str, str]:
    ref, _, text = req.args.strip().partition(" ")
    if not ref:
        raise ServiceError(usage)
    return ref, text.strip()


def note(svc: SupervisionService, req: Request) -> Reply:
    """/note Q12 文字: comment on an item (an exchange, a contact record or a message check)."""
    ref, text = _ref_and_text(req, "用法：/note Q12 评论内容（或 C7、M3）")
    return Reply(render_result(svc.mark(req.staff, [ref], COMMENT, comment=text)))


def escalate(svc: SupervisionService, req: Request) -> Reply:
    """/escalate Q12 原因: hand a wrong or incomplete answer to the trainers."""
    ref, reason = _ref_and_text(req, "用法：/escalate Q12 原因（例如：回答遗漏了风险提示）")
    return Reply(render_result(svc.mark(req.staff, [ref], ESCALATE, comment=reason or None)))


def resolved(svc: SupervisionService, req: Request) -> Reply:
    """/resolved Q12 说明: a trainer closes an escalation."""
    ref, text = _ref_and_text(req, "用法：/resolved Q12 说明（例如：已更新知识库）")
    return Reply(render_result(svc.mark(req.staff, [ref], RESOLVE, comment=text or None)))


def _escalated_reply(svc: SupervisionService, req: Request, notice: str = "") -> Reply:
    items = svc.escalations(req.staff)
    names = {s.code: s.name for s in svc.crm.list_staff()}
    text = render_escalated(items, names=names, tz=svc.clock.tz)
    keyboard: Keyboard | None = None
    if roles.sees_all_exchanges(req.staff):
        buttons = [Button(f"🛠 {e.ref} 已处理", f"rvfix:{e.ref}") for e in items[:20]]
        keyboard = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)) or None
    return Reply(f"{notice}\n\n{text}" if notice else text, keyboard=keyboard)


def handoffs(svc: SupervisionService, req: Request) -> Reply:
    """/handoffs: exchanges supervisors escalated to the trainers, not resolved yet."""
    return _escalated_reply(svc, req)


def resolve_button(svc: SupervisionService, req: Request) -> Reply:
    """Button 🛠: resolve an escalation, then show the ones left."""
    result = svc.mark(req.staff, [req.args], RESOLVE)
    return _escalated_reply(svc, req, render_result(result))


# --- gaps and figures ------------------------------------------------------------------------------
def unanswered(svc: SupervisionService, req: Request) -> Reply:
    """List escalated answers and questions the knowledge base could not answer."""
    view = svc.unanswered(req.staff)
    names = {s.code: s.name for s in svc.crm.list_staff()} if view.escalations else {}
    return Reply(render_unanswered(view, names=names, tz=svc.clock.tz))


def stats(svc: SupervisionService, req: Request) -> Reply:
    """Show usage figures, with a chart."""
    view = svc.stats(req.staff, req.words)
    try:
        photo: bytes | None = render_stats_chart(view)
    except Exception:  # the chart is a companion of the figures: never lose the text over it
        logger.exception("could not draw the /stats chart")
        photo = None
    return Reply(render_stats(view), photo=photo)
