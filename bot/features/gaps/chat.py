"""Chat handlers of the gap inbox (`/unanswered`), curated answers (`/curate`) and `/kbusage`."""

from __future__ import annotations

import logging

from bot import roles
from bot.core import Request, ServiceError, parse_record_id
from bot.features.gaps.render import render_curated, render_gaps, render_usage
from bot.features.gaps.service import SHOWN_KEY, GapService, numbered
from bot.rendering import Notice, Reply, clip, esc

logger = logging.getLogger(__name__)

_CURATE_USAGE = (
    "用法：/curate 组号或问答编号 答案内容 来源：文件名（例如 /curate 1 请携带双方身份证件… 来源：开户指引）"
)


def unanswered(svc: GapService, req: Request) -> Reply:
    """Show escalated answers and the knowledge gaps, clustered by meaning, largest first."""
    raw = req.args.strip().removeprefix("第").removesuffix("页")
    page = parse_record_id(raw) if raw else 1
    if page is None:
        raise ServiceError("用法：/unanswered [页码]，例如 /unanswered 2")
    view = svc.inbox(req.staff, page=page)
    req.state[SHOWN_KEY] = numbered(view.clusters)  # `/curate 2`: the second group of this page
    names = {}
    if view.escalations and svc.supervision is not None:
        names = {s.code: s.name for s in svc.supervision.crm.list_staff()}
    return Reply(render_gaps(view, names=names, tz=svc.clock.tz))


def curate(svc: GapService, req: Request) -> Reply:
    """Submit a trainer's curated answer for a gap cluster or an exchange (served once approved)."""
    target, _, text = req.args.strip().partition(" ")
    if not target or not text.strip():
        raise ServiceError(_CURATE_USAGE)
    curated = svc.curate(req.staff, target.lstrip("#"), text, shown=req.state.get(SHOWN_KEY))
    req.state.pop(SHOWN_KEY, None)  # the groups changed: `/unanswered` numbers them anew
    waiting = (
        f"🔔 {esc(req.staff.name)}（{esc(req.staff.code)}）提交了审定答案 <b>{curated.change_ref}</b>"
        f"（{esc(clip(curated.questions[0], 40)) if curated.questions else ''}），等待审批："
        f"/changes {curated.change_ref} 查看全文（读完后可批准）"
    )
    notice = Notice(roles.APPROVERS, waiting, exclude=req.staff.code)  # every other approver is told
    return Reply(render_curated(curated), notices=(notice,))


def uncurate(svc: GapService, req: Request) -> Reply:
    """Stop serving a curated answer."""
    retired = svc.uncurate(req.staff, req.args)
    return Reply(
        f"已停用审定答案 {retired.change_ref}（{esc(clip(retired.question, 40))}），之后按知识库回答。"
    )


def kbusage(svc: GapService, req: Request) -> Reply:
    """Show how often curated answers and documents served answers, and documents never used."""
    return Reply(render_usage(svc.usage()))
