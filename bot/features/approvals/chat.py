"""Chat side of four-eyes knowledge changes: `/changes`, `/approve K3`, `/reject K3 理由` and their buttons.

Handlers parse, call `KnowledgeChangeService` and render; the renderers are pure functions shared by the
console twin and the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import tzinfo

from bot.core import Request, ServiceError
from bot.features.approvals.service import Decision, KnowledgeChangeService, parse_change_ref
from bot.features.approvals.store import PENDING, KnowledgeChange
from bot.rendering import Button, Reply, esc, fmt_datetime

logger = logging.getLogger(__name__)


def changes(svc: KnowledgeChangeService, req: Request) -> Reply:
    """List knowledge changes: pending first, then recent decisions."""
    return render_changes(svc.recent(limit=20), viewer=req.staff.code, tz=svc.clock.tz)


def approve(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Approve a pending knowledge change submitted by someone else."""
    if not req.words:
        raise ServiceError("用法：/approve K3（/changes 查看待审批的变更）")
    return Reply(render_decision(svc.approve(req.staff, parse_change_ref(req.words[0]))))


def reject(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Reject (or, for your own, withdraw) a pending knowledge change."""
    if not req.words:
        raise ServiceError("用法：/reject K3 理由")
    ref, _, reason = req.args.strip().partition(" ")
    return Reply(render_rejected(svc.reject(req.staff, parse_change_ref(ref), reason)))


def approve_button(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Approve the change whose button was pressed."""
    return Reply(render_decision(svc.approve(req.staff, parse_change_ref(req.args))))


def reject_button(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Reject the change whose button was pressed (no reason given: say so in the record)."""
    return Reply(render_rejected(svc.reject(req.staff, parse_change_ref(req.args), "")))


# --- rendering -----------------------------------------------------------------------------------
def _dates(change: KnowledgeChange) -> str:
    parts = []
    if change.effective_date:
        parts.append(f"{change.effective_date} 生效")
    if change.expiry_date:
        parts.append(f"{change.expiry_date} 起失效")
    return "（" + "，".join(parts) + "）" if parts else ""


def render_submitted(change: KnowledgeChange) -> str:
    return (
        f"📝 已提交知识库变更 <b>{change.ref}</b>《{esc(change.file_name)}》{esc(_dates(change))}。\n"
        "按四眼原则，须由另一位培训师或合规人员批准后才会加入知识库："
        f"/approve {change.ref}（驳回：/reject {change.ref} 理由）。"
    )


def render_decision(decision: Decision) -> str:
    change, report = decision.change, decision.report
    name = f"{change.ref}《{esc(change.file_name)}》"
    if change.status == "live":
        chunks = f"（{report.chunks_added} 个段落）" if report is not None and report.chunks_added else ""
        return f"✅ 已批准并发布 {name}{chunks}，现已可被检索。"
    if change.status == "approved":
        return f"✅ 已批准 {name}，将于 {change.effective_date} 零时（本行时区）生效。"
    reason = change.note or "原因未知"
    return f"❌ 已批准 {name}，但未能加入知识库：{esc(reason)}。请修正后重新上传。"


def render_rejected(change: KnowledgeChange) -> str:
    verb = "撤回" if change.decided_by == change.submitted_by else "驳回"
    return f"已{verb}知识库变更 {change.ref}《{esc(change.file_name)}》：{esc(change.note or '')}"


def render_changes(items: Sequence[KnowledgeChange], *, viewer: str, tz: tzinfo) -> Reply:
    if not items:
        return Reply("目前没有知识库变更。培训师上传的文档会在这里等待审批。")
    pending = [c for c in items if c.status == PENDING]
    others = [c for c in items if c.status != PENDING]
    lines = [f"<b>待审批（{len(pending)}）</b>" if pending else "没有待审批的变更。"]
    buttons: list[tuple[Button, ...]] = []
    for c in pending:
        lines.append(
            f"• <b>{c.ref}</b>《{esc(c.file_name)}》{esc(_dates(c))} — {esc(c.submitted_by)} 提交于 "
            f"{fmt_datetime(c.submitted_at, tz)}"
        )
        if c.submitted_by != viewer:  # nobody approves their own change
            buttons.append((Button(f"批准 {c.ref}", f"kcok:{c.id}"), Button(f"驳回 {c.ref}", f"kcno:{c.id}")))
    if others:
        lines += ["", "<b>最近的决定</b>"]
        for c in others[:10]:
            who = f"，{esc(c.decided_by)}" if c.decided_by else ""
            note = f"：{esc(c.note)}" if c.note else ""
            lines.append(f"• {c.ref}《{esc(c.file_name)}》{c.status_name}{who}{esc(_dates(c))}{note}")
    return Reply("\n".join(lines), keyboard=tuple(buttons) or None)


__all__ = [
    "approve",
    "approve_button",
    "changes",
    "reject",
    "reject_button",
    "render_changes",
    "render_decision",
    "render_rejected",
    "render_submitted",
]
