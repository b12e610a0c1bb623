"""Chat side of four-eyes knowledge changes: `/changes`, `/approve K3`, `/reject K3 理由` and their buttons.

Documents are `K3`, trainers' curated answers `A3`: the same commands, buttons and four-eyes workflow
(`foureyes.FourEyes`) decide both. Handlers parse, call the workflow of the ref's kind and render; the
renderers are pure functions shared by the console twin and the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

from bot import roles
from bot.core import Request, ServiceError
from bot.features.approvals.foureyes import FourEyes
from bot.features.approvals.review import Content
from bot.features.approvals.service import Decision, KnowledgeChangeService
from bot.features.approvals.store import PENDING, KnowledgeChange
from bot.features.gaps.curated_store import PENDING as CURATED_PENDING
from bot.features.gaps.curated_store import REF_PREFIX, CuratedAnswer
from bot.rendering import Button, Notice, Reply, clip, esc, fmt_datetime
from crm_adapter import Staff

logger = logging.getLogger(__name__)


def _workflow(svc: KnowledgeChangeService, ref: str) -> tuple[FourEyes[Any], int]:
    """The four-eyes workflow deciding `ref` (documents K3, curated answers A3) and its id."""
    if ref.strip().upper().startswith(REF_PREFIX):
        if svc.curated is None:
            raise ServiceError("审定答案审批未启用")
        flow: FourEyes[Any] = svc.curated.four_eyes
    else:
        flow = svc.four_eyes
    return flow, flow.parse_ref(ref)


def changes(svc: KnowledgeChangeService, req: Request) -> Reply:
    """List knowledge changes and curated answers: pending first, then recent decisions. `/changes K3 [页]`
    shows the whole of one (what an approver must read before approving)."""
    if req.words:
        page = req.words[1] if len(req.words) > 1 else "1"
        digits = "".join(ch for ch in page if ch.isdigit())
        if not digits:
            raise ServiceError("用法：/changes K3 [页码]，例如 /changes K3 2")
        return _view(svc, req, req.words[0], int(digits))
    curated = svc.curated.recent(limit=20) if svc.curated is not None else ()
    return render_changes(svc.recent(limit=20), viewer=req.staff.code, tz=svc.clock.tz, curated=curated)


def _view(svc: KnowledgeChangeService, req: Request, ref: str, page: int, *, note: str = "") -> Reply:
    """One page of a change's full text; the page counts as read by this staff member."""
    flow, item_id = _workflow(svc, ref)
    content = flow.content(item_id)
    page = min(max(page, 1), len(content.pages))
    flow.shown.mark(req.staff.code, content.key, page)
    return render_page(content, page, viewer=req.staff.code, note=note)


def view_button(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Show a page of a change's full text (`K3:2`)."""
    ref, _, page = req.args.partition(":")
    return _view(svc, req, ref, int(page) if page.isdigit() else 1)


def content_of(svc: KnowledgeChangeService, ref: str) -> Content:
    """The whole of change `ref` (K3 or A3) as an approver reads it."""
    flow, item_id = _workflow(svc, ref)
    return flow.content(item_id)


def check_approvable(svc: KnowledgeChangeService, staff: Staff, ref: str) -> None:
    """Refuse (ServiceError) when `staff` may not approve `ref` now, whatever they have read."""
    flow, item_id = _workflow(svc, ref)
    flow.check_approvable(staff, item_id)


def read_whole(svc: KnowledgeChangeService, staff: Staff, ref: str) -> Content:
    """The whole of `ref`, shown at once to an approver who may approve it (the command line prints it
    all): every page counts as read. ServiceError first when `staff` may not approve it now."""
    flow, item_id = _workflow(svc, ref)
    flow.check_approvable(staff, item_id)
    content = flow.content(item_id)
    flow.shown.mark_all(staff.code, content)
    return content


def _unread(svc: KnowledgeChangeService, req: Request, ref: str) -> Reply | None:
    """The first page of the change not shown to this approver yet (approval waits for it); None when the
    whole of it was shown. Whoever may not approve it at all hears why first."""
    flow, item_id = _workflow(svc, ref)
    flow.check_approvable(req.staff, item_id)
    content, page = flow.first_unread(req.staff, item_id)
    if page is None:
        return None
    note = (
        f"⚠️ 批准前请先阅读全文（共 {len(content.pages)} 页）。"
        f"读完最后一页后即可批准（其下方的按钮或 /approve {content.ref}）。"
    )
    return _view(svc, req, ref, page, note=note)


def _approve(svc: KnowledgeChangeService, req: Request, ref: str) -> Reply:
    unread = _unread(svc, req, ref)
    if unread is not None:
        return unread
    flow, item_id = _workflow(svc, ref)
    if flow is not svc.four_eyes:
        approved = flow.approve(req.staff, item_id)
        outcome = render_curated_decision(approved)
        return Reply(outcome, notices=_tell_submitter(approved.author, req, outcome))
    decision = svc.approve(req.staff, item_id)
    live = decision.change.status == "live" and decision.report is not None
    # Published means searchable; the front end may follow its vectors (Telegram edits a status line).
    return Reply(
        render_decision(decision),
        progress=svc.publisher.progress(decision.change.file_name, decision.report)
        if live and decision.report is not None
        else None,
        notices=_tell_submitter(decision.change.submitted_by, req, render_decision(decision)),
    )


def _tell_submitter(submitter: str, req: Request, outcome: str) -> tuple[Notice, ...]:
    """The submitter hears what became of their change (unless they decided it themselves)."""
    if submitter == req.staff.code:
        return ()
    text = f"📣 您提交的变更已由 {esc(req.staff.name)}（{esc(req.staff.code)}）处理：\n{outcome}"
    return (Notice(frozenset(), text, only=submitter),)


def _reject(svc: KnowledgeChangeService, req: Request, ref: str, reason: str) -> Reply:
    flow, item_id = _workflow(svc, ref)
    if flow is not svc.four_eyes:
        rejected = flow.reject(req.staff, item_id, reason)
        outcome = render_curated_rejected(rejected)
        return Reply(outcome, notices=_tell_submitter(rejected.author, req, outcome))
    change = svc.reject(req.staff, item_id, reason)
    outcome = render_rejected(change)
    return Reply(outcome, notices=_tell_submitter(change.submitted_by, req, outcome))


def approve(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Approve a pending knowledge change (K3) or curated answer (A3) submitted by someone else."""
    if not req.words:
        raise ServiceError("用法：/approve K3 或 /approve A3（/changes 查看待审批的变更）")
    return _approve(svc, req, req.words[0])


def reject(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Reject (or, for your own, withdraw) a pending knowledge change or curated answer."""
    if not req.words:
        raise ServiceError("用法：/reject K3 理由（审定答案：/reject A3 理由）")
    ref, _, reason = req.args.strip().partition(" ")
    return _reject(svc, req, ref, reason)


def upload(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Submit a local file as a knowledge change (console twin: `/upload PATH`)."""
    raw = req.args.strip().strip("\"'")
    if not raw:
        raise ServiceError("用法：/upload 文件路径，例如 /upload ~/Downloads/高尔夫权益.docx")
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ServiceError(f"找不到文件：{raw}")
    return submitted_reply(svc.submit(req.staff, path), submitter=req.staff)


def approve_button(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Approve the change whose button was pressed."""
    return _approve(svc, req, req.args)


def reject_button(svc: KnowledgeChangeService, req: Request) -> Reply:
    """Reject the change whose button was pressed (no reason given: say so in the record)."""
    return _reject(svc, req, req.args, "")


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


def submitted_reply(change: KnowledgeChange, *, submitter: Staff) -> Reply:
    """The submitter's confirmation, and a notice to every other approver."""
    notice = Notice(roles.APPROVERS, render_waiting(change, submitter=submitter), exclude=submitter.code)
    return Reply(render_submitted(change), notices=(notice,))


def render_waiting(change: KnowledgeChange, *, submitter: Staff) -> str:
    """The notice other approvers get when a change is submitted: it links to the full text."""
    return (
        f"🔔 {esc(submitter.name)}（{esc(submitter.code)}）提交了知识库变更 <b>{change.ref}</b>"
        f"《{esc(change.file_name)}》{esc(_dates(change))}，等待审批：/changes {change.ref} 查看全文"
        "（读完后可批准）"
    )


def render_full(content: Content) -> str:
    """Every page of a change at once (the command line), as HTML like the chat's pages."""
    head = f"<b>{esc(content.title)}</b> — {esc(content.submitter)} 提交"
    return "\n".join([head, "", *(esc(p) for p in content.pages), "", "— 全文完 —"])


def render_page(content: Content, page: int, *, viewer: str, note: str = "") -> Reply:
    """Page `page` of a change's full text. Navigation buttons between pages; the approve and reject
    buttons only under the last page, for a pending change someone else submitted."""
    total = len(content.pages)
    pages = f"（第 {page}/{total} 页）" if total > 1 else ""
    lines = [note] if note else []
    lines += [
        f"<b>{esc(content.title)}</b> — {esc(content.submitter)} 提交{pages}",
        "",
        esc(content.pages[page - 1]),
    ]
    row: list[Button] = []
    if page > 1:
        row.append(Button("上一页", f"kcv:{content.ref}:{page - 1}"))
    if page < total:
        row.append(Button("下一页", f"kcv:{content.ref}:{page + 1}"))
        lines += ["", f"下一页：/changes {content.ref} {page + 1}"]
    buttons: list[tuple[Button, ...]] = [tuple(row)] if row else []
    if page == total and content.pending and content.submitter != viewer:
        lines += [
            "",
            f"— 全文完 — 批准：点击下方按钮或 /approve {content.ref}；驳回：/reject {content.ref} 理由",
        ]
        ref = content.ref
        buttons.append((Button(f"批准 {ref}", f"kcok:{ref}"), Button(f"驳回 {ref}", f"kcno:{ref}")))
    elif page == total:
        lines += ["", "— 全文完 —"]
    return Reply("\n".join(lines), keyboard=tuple(buttons) or None)


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


def render_curated_decision(c: CuratedAnswer) -> str:
    return (
        f"✅ 已批准审定答案 {c.change_ref}（{esc(c.author_name)} 编写：{esc(clip(c.question, 40))}），"
        "现已启用：客户经理问到相同或相近的问题将直接收到此答案。"
    )


def render_curated_rejected(c: CuratedAnswer) -> str:
    verb = "撤回" if c.decided_by == c.author else "驳回"
    return f"已{verb}审定答案 {c.change_ref}（{esc(clip(c.question, 40))}）：{esc(c.note or '')}"


def _curated_lines(c: CuratedAnswer, tz: tzinfo) -> list[str]:
    """A pending curated answer as the approver must read it: the questions, the answer, its source."""
    source = f"（来源：{esc(c.source)}）" if c.source else ""
    return [
        f"• <b>{c.change_ref}</b> 审定答案 — {esc(c.author_name)} 编写于 {fmt_datetime(c.created_at, tz)}",
        f"　问题（{len(c.questions)} 种问法）：" + esc("；".join(clip(q, 40) for q in c.questions[:3])),
        f"　答案：{esc(clip(c.answer, 300))}{source}",
        f"　全文：/changes {c.change_ref}（{len(c.answer)} 字；读完全文后才能批准）",
    ]


def render_changes(
    items: Sequence[KnowledgeChange],
    *,
    viewer: str,
    tz: tzinfo,
    curated: Sequence[CuratedAnswer] = (),
) -> Reply:
    if not items and not curated:
        return Reply("目前没有知识库变更。培训师上传的文档和编写的审定答案会在这里等待审批。")
    pending = [c for c in items if c.status == PENDING]
    others = [c for c in items if c.status != PENDING]
    waiting = [c for c in curated if c.status == CURATED_PENDING]
    decided = [c for c in curated if c.status != CURATED_PENDING and c.decided_by]
    total = len(pending) + len(waiting)
    lines = [f"<b>待审批（{total}）</b>" if total else "没有待审批的变更。"]
    buttons: list[tuple[Button, ...]] = []
    for c in pending:
        lines.append(
            f"• <b>{c.ref}</b>《{esc(c.file_name)}》{esc(_dates(c))} — {esc(c.submitted_by)} 提交于 "
            f"{fmt_datetime(c.submitted_at, tz)}，全文：/changes {c.ref}"
        )
        # The approve buttons are under the full text only: approvers read what they approve.
        buttons.append((Button(f"查看 {c.ref} 全文", f"kcv:{c.ref}:1"),))
    for a in waiting:
        lines += _curated_lines(a, tz)
        buttons.append((Button(f"查看 {a.change_ref} 全文", f"kcv:{a.change_ref}:1"),))
    if others or decided:
        lines += ["", "<b>最近的决定</b>"]
        for c in others[:10]:
            who = f"，{esc(c.decided_by)}" if c.decided_by else ""
            note = f"：{esc(c.note)}" if c.note else ""
            lines.append(f"• {c.ref}《{esc(c.file_name)}》{c.status_name}{who}{esc(_dates(c))}{note}")
        for a in decided[:10]:
            note = f"：{esc(a.note)}" if a.note else ""
            who = f"，{esc(a.decided_by)}" if a.decided_by and a.status != "retired" else ""
            lines.append(
                f"• {a.change_ref} 审定答案（{esc(clip(a.question, 30))}）{a.status_name}{who}{note}"
            )
    return Reply("\n".join(lines), keyboard=tuple(buttons) or None)


__all__ = [
    "approve",
    "approve_button",
    "changes",
    "check_approvable",
    "content_of",
    "read_whole",
    "reject",
    "reject_button",
    "render_changes",
    "render_curated_decision",
    "render_curated_rejected",
    "render_decision",
    "render_full",
    "render_page",
    "render_rejected",
    "render_submitted",
    "render_waiting",
    "submitted_reply",
    "upload",
    "view_button",
]
