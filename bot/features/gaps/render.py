"""Chat texts of the gap inbox, curated answers and knowledge usage (Telegram HTML)."""

from __future__ import annotations

import logging

from bot.features.gaps.curated import CuratedAnswer
from bot.features.gaps.service import GapCluster, GapsView, UsageView
from bot.features.supervision.render import escalation_lines
from bot.rendering import clip, esc

logger = logging.getLogger(__name__)

#: How many documents the usage report lists per section.
USAGE_LINES = 15


def _current(c: GapCluster) -> str:
    if c.current_kind == "curated":
        return f"✅ 已有审定答案 A{c.curated_id}：{esc(clip(c.current, 60))}"
    if c.pending_id is not None:
        return f"⏳ 审定答案 A{c.pending_id} 待审批（/changes）"
    if c.current_kind == "grounded":
        return f"现在的回答：{esc(clip(c.current, 60))}"
    if c.current_kind == "weak":
        return f"现在的回答（依据较弱）：{esc(clip(c.current, 60))}"
    if c.current_kind == "none":
        return "现在的回答：🤔 仍未能回答"
    return ""


def render_gaps(view: GapsView, *, names: dict[str, str] | None = None, tz: object | None = None) -> str:
    lines: list[str] = []
    if view.escalations:
        lines.append(f"<b>主管转交（{len(view.escalations)}）</b>")
        for i, e in enumerate(view.escalations[:10], 1):
            lines += escalation_lines(e, i, names or {}, tz)
        lines += ["处理后发送 /resolved Q12 说明；全部转交：/handoffs", ""]
    if not view.clusters:
        lines.append(f"自 {view.since:%Y-%m-%d} 以来没有未能回答、依据较弱或 👎 的问题。👏")
        return "\n".join(lines)
    lines.append(
        f"<b>知识缺口</b>（自 {view.since:%Y-%m-%d}：{view.questions} 个未能回答、依据较弱或 👎 的问题，"
        "按含义归组，问得最多的在前）"
    )
    if view.redacted:
        lines.append("（客户姓名以“某客户”代替，个人号码已隐藏）")
    for c in view.clusters:
        signals = "、".join(f"{k} {v}" for k, v in c.signals.items())
        lines.append(f"\n<b>{c.n}.</b> {c.count} 次【{esc(signals)}】")
        for q in c.examples[:3]:
            lines.append(f"　• {esc(clip(q, 60))}")
        if len(c.examples) > 3:
            lines.append(f"　…另有 {len(c.examples) - 3} 种问法")
        current = _current(c)
        if current:
            lines.append(f"　{current}")
    if view.more:
        lines += ["", f"还有 {view.more} 组，发送 /unanswered {view.page + 1} 查看下一页"]
    if view.can_curate:
        lines += ["", "写审定答案：/curate 组号 答案内容 来源：文件名（也可 /curate Q12 答案内容）"]
    return "\n".join(lines)


def render_curated(c: CuratedAnswer) -> str:
    """The trainer's receipt for a submitted curated answer: pending until a second person approves."""
    lines = [
        f"📝 已提交审定答案 <b>{c.change_ref}</b>（{esc(c.author_name)}，{c.created_at:%Y-%m-%d}），待审批",
        f"适用问题（{len(c.questions)} 种问法）：" + esc("；".join(clip(q, 40) for q in c.questions[:3])),
        f"答案：{esc(clip(c.answer, 200))}",
    ]
    if c.source:
        lines.append(f"来源：{esc(c.source)}")
    lines.append(
        "按四眼原则，须由另一位培训师、合规人员或管理员批准后才会启用："
        f"/approve {c.change_ref}（驳回：/reject {c.change_ref} 理由）。启用后客户经理问到相同或相近的问题，"
        "将直接收到此答案（标注“培训师审定”）。"
    )
    return "\n".join(lines)


def render_usage(view: UsageView) -> str:
    lines = [f"<b>知识库使用情况</b>（自 {view.since:%Y-%m-%d}，共 {view.answers} 次问答）"]
    lines.append("")
    if view.curated:
        lines.append(f"<b>审定答案（{len(view.curated)}）</b>：命中次数")
        for c, hits in view.curated[:USAGE_LINES]:
            lines.append(f"• {c.change_ref} {hits} 次：{esc(clip(c.question, 40))}（{esc(c.author_name)}）")
        lines.append("停用：/uncurate 编号")
    else:
        lines.append("还没有审定答案：在 /unanswered 中用 /curate 编写。")
    lines.append("")
    if view.documents:
        lines.append("<b>被回答引用的文档</b>：引用次数")
        for _source, title, n in view.documents[:USAGE_LINES]:
            lines.append(f"• {esc(title)}：{n} 次")
        if len(view.documents) > USAGE_LINES:
            lines.append(f"…另有 {len(view.documents) - USAGE_LINES} 篇")
    else:
        lines.append("这段时间没有回答引用过文档。")
    if view.unused:
        lines += ["", f"<b>这段时间从未被引用的文档（{len(view.unused)}）</b>"]
        lines += [f"• {esc(title)}" for _source, title in view.unused[:USAGE_LINES]]
        if len(view.unused) > USAGE_LINES:
            lines.append(f"…另有 {len(view.unused) - USAGE_LINES} 篇")
    return "\n".join(lines)
