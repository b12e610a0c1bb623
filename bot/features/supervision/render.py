"""Chat texts of the supervision features (Telegram HTML; the console shows them through `to_plain`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.answer_flags import stored_flags_label
from bot.features.supervision.store import (
    COMMENT,
    ESCALATE,
    EXCHANGE,
    RESOLVE,
    REVIEWED,
    ItemState,
    ReviewAction,
)
from bot.features.supervision.views import (
    ActionResult,
    Escalation,
    ReviewItem,
    ReviewView,
    StatsView,
    UnansweredView,
)
from bot.rendering import clip, esc, fmt_datetime, fmt_range

logger = logging.getLogger(__name__)

_ACTION_MARK = {REVIEWED: "✅", COMMENT: "💬", ESCALATE: "⬆️", RESOLVE: "🛠"}


def _status(item: ReviewItem) -> str:
    if item.state.escalated:
        return "⬆️"
    if item.state.reviewed:
        return "✅"
    return "🚩" if item.flagged else "⬜"


def _item_line(item: ReviewItem, names: dict[str, str], tz: object | None) -> str:
    who = esc(names.get(item.staff_code, item.staff_code))
    head = f"{_status(item)} <code>{item.ref}</code> {esc(fmt_datetime(item.at, tz))} {who}"
    if item.exchange is not None:
        marks = stored_flags_label(item.exchange)
        tail = f"【{esc('、'.join(marks))}】" if marks else ""
        line = f"{head}：{esc(clip(item.exchange.question, 80))} {tail}"
    elif item.contact is not None:
        r, flags = item.contact.record, item.contact.flags
        tail = f"【{esc('、'.join(flags))}】" if flags else ""
        line = f"{head} → {esc(r.client_id)} {esc(r.channel)}：{esc(clip(r.summary, 80))} {tail}"
    else:
        line = head
    notes = [_note(a, names) for a in item.state.comments[-2:]]
    return "\n".join([line.rstrip(), *notes])


def _note(action: ReviewAction, names: dict[str, str]) -> str:
    mark = _ACTION_MARK.get(action.action, "💬")
    who = esc(names.get(action.actor, action.actor))
    return f"　{mark} {who}：{esc(clip(action.comment or '', 80))}"


def render_check_state(state: ItemState, ref: str, names: dict[str, str]) -> list[str]:
    """A message check's review state and comments, under the check as `/review M12` opens it."""
    head = "✅ 已复核" if state.reviewed else f"⬜ 待复核（标记已复核：/reviewed {esc(ref)}）"
    return [f"复核：{head}　评论：/note {esc(ref)} 内容", *(_note(a, names) for a in state.comments)]


def range_words(view: ReviewView) -> str:
    """The /review words that show the same range (and RM) again."""
    words = f"{view.since:%Y-%m-%d}~{view.until:%Y-%m-%d}"
    return f"{view.rm} {words}" if view.rm else words


def render_review(view: ReviewView, *, tz: object | None = None) -> str:
    t = view.totals
    mix = t.mix
    lines = [f"<b>团队复盘</b> {esc(fmt_range(view.since, view.until))}"]
    lines.append("成员：" + esc("、".join(f"{view.names.get(c, c)}({c})" for c in view.staff_codes)))
    lines.append(
        f"问答 {t.exchanges} 条（有把握 {mix.confident}，依据较弱 {mix.weak}，未能回答 {mix.unanswered}）；"
        f"联系记录 {t.contacts} 条"
    )
    progress = f"已复核 {t.reviewed}/{t.items}，待复核 {t.unreviewed}"
    if t.unreviewed_flagged:
        progress += f"（🚩 需关注 {t.unreviewed_flagged}：无依据、依据较弱、👎、合规提示）"
    if t.escalated:
        progress += f"；⬆️ 已转交培训师待处理 {t.escalated}"
    lines.append(progress)
    lines += ["", f"<b>第 {view.page}/{view.pages} 页</b>（未复核的在前，需关注的优先）"]
    if view.items:
        lines += [_item_line(i, view.names, tz) for i in view.items]
    else:
        lines.append("该时间段内没有问答或联系记录。")
    lines.append("")
    if view.pages > 1:
        turn = []
        if view.page > 1:
            turn.append(f"上一页 /review {esc(range_words(view))} 第{view.page - 1}页")
        if view.page < view.pages:
            turn.append(f"下一页 /review {esc(range_words(view))} 第{view.page + 1}页")
        lines.append("翻页：" + "　".join(turn))
    if view.checks:
        lines.append(f"<b>消息检查：建议修改 {len(view.checks)} 条</b>（打开：/review M编号）")
        for c in view.checks[:5]:
            labels = "、".join(dict.fromkeys(f.get("label", "") for f in c.findings))
            who = esc(view.names.get(c.staff_code, c.staff_code))
            state = view.check_states.get(c.id)
            mark = "✅" if state is not None and state.reviewed else "🚩"
            lines.append(
                f"{mark} <code>{esc(c.ref)}</code> {esc(fmt_datetime(c.created_at, tz))} {who}："
                f"{esc(clip(c.text, 60))}【{esc(labels)}】"
            )
            if state is not None:
                lines += [_note(a, view.names) for a in state.comments[-2:]]
        lines.append("（标记已复核：/reviewed M编号　评论：/note M编号 内容）")
        lines.append("")
    todo = [i for i in view.items if not i.state.reviewed]
    some = " ".join(i.ref for i in todo[:2]) or "Q12 C7"
    ask = next((i.ref for i in todo if i.kind == EXCHANGE), "Q12")
    lines.append(
        f"标记已复核：/reviewed {some}（可写多个）　评论：/note {ask} 内容　转交培训师：/escalate {ask} 原因"
    )
    return "\n".join(lines)


def render_result(result: ActionResult) -> str:
    done = esc("、".join(result.done))
    skipped = esc("、".join(result.skipped))
    if result.action == REVIEWED:
        text = f"✅ 已标记为已复核：{done}" if result.done else "没有需要标记的条目。"
        return text + (f"（之前已复核：{skipped}）" if result.skipped else "")
    if result.action == COMMENT:
        return f"💬 已记录对 {done} 的评论。"
    if result.action == ESCALATE:
        if not result.done:
            return f"{skipped} 已转交过培训师，正在等待处理。"
        return f"⬆️ 已转交培训师：{done}（培训师可在 /handoffs 与 /unanswered 中看到）。"
    return f"🛠 已标记为已处理：{done}"


def escalation_lines(e: Escalation, i: int, names: dict[str, str], tz: object | None) -> list[str]:
    a = e.action
    who = esc(names.get(a.staff_code or "", a.staff_code or ""))
    question = esc(clip(e.exchange.question, 80)) if e.exchange else "（问答已不存在）"
    lines = [f"{i}. <code>{a.ref}</code> {who}：{question}"]
    if e.exchange is not None:
        lines.append(f"　答：{esc(clip(e.exchange.answer, 100))}")
    reason = f"：{esc(clip(a.comment, 80))}" if a.comment else ""
    actor = esc(names.get(a.actor, a.actor))
    lines.append(f"　⬆️ {actor} 于 {esc(fmt_datetime(a.created_at, tz))} 转交{reason}")
    return lines


def render_escalated(
    items: Sequence[Escalation], *, names: dict[str, str] | None = None, tz: object | None = None
) -> str:
    if not items:
        return "目前没有待处理的主管转交。👏"
    lines = [f"<b>主管转交（{len(items)}）</b>：主管认为回答有误或不完整的问答"]
    for i, e in enumerate(items, 1):
        lines += escalation_lines(e, i, names or {}, tz)
    lines += ["", "处理后发送 /resolved Q12 说明（例如已更新知识库）。"]
    return "\n".join(lines)


def render_unanswered(
    view: UnansweredView, *, names: dict[str, str] | None = None, tz: object | None = None
) -> str:
    if not view.items and not view.escalations:
        return f"自 {view.since:%Y-%m-%d} 以来没有未能回答的问题。👏"
    lines: list[str] = []
    if view.escalations:
        lines.append(f"<b>主管转交（{len(view.escalations)}）</b>")
        for i, e in enumerate(view.escalations[:10], 1):
            lines += escalation_lines(e, i, names or {}, tz)
        lines += ["处理后发送 /resolved Q12 说明；全部转交：/handoffs", ""]
    if view.items:
        lines.append(f"<b>知识库未能回答的问题</b>（自 {view.since:%Y-%m-%d}）")
        for i, u in enumerate(view.items, 1):
            lines.append(
                f"{i}. {esc(u.question)}（{u.times} 次，最近 {esc(fmt_datetime(u.last_asked, tz))}，"
                f"{esc('、'.join(u.staff_codes))}）"
            )
    else:
        lines.append(f"自 {view.since:%Y-%m-%d} 以来没有未能回答的问题。")
    return "\n".join(lines)


def _flagged_line(view: StatsView) -> str:
    """🚩 as /review counts it: flagged exchanges plus contact records with a warning."""
    contacts = sum(view.flagged_contacts_by_staff.values()) if view.with_contacts else 0
    if not contacts:
        return f"🚩 需关注 {view.stats.flagged}"
    return f"🚩 需关注 {view.stats.flagged + contacts}（问答 {view.stats.flagged}，联系记录 {contacts}）"


def render_stats(view: StatsView) -> str:
    s, mix = view.stats, view.mix
    rate = f"{s.grounded / s.questions:.0%}" if s.questions else "—"
    lines = [
        f"<b>使用统计</b> {esc(fmt_range(view.since, view.until))}",
        f"提问 {s.questions} 次：有把握 {mix.confident}，依据较弱 {mix.weak}，未能回答 {mix.unanswered}"
        f"（有依据 {s.grounded}，{rate}）",
        f"👍 {s.thumbs_up}　👎 {s.thumbs_down}　{_flagged_line(view)}",
    ]
    if view.checks_by_staff:
        checked = sum(n for n, _ in view.checks_by_staff.values())
        revised = sum(r for _, r in view.checks_by_staff.values())
        lines.append(f"消息检查 {checked} 次（建议修改 {revised}）")
    if view.with_contacts and (view.contacts_by_staff or view.contacts):
        flagged = sum(view.flagged_contacts_by_staff.values())
        lines.append(f"联系记录 {view.contacts} 条" + (f"（合规提示 {flagged} 条）" if flagged else ""))
    codes = sorted(set(s.by_staff) | set(view.contacts_by_staff) | set(view.checks_by_staff))
    if codes:
        lines += ["", "<b>按员工</b>"]
        for code in codes:
            part = f"提问 {s.by_staff.get(code, 0)}"
            if view.contacts_by_staff:
                part += f"，联系 {view.contacts_by_staff.get(code, 0)}"
            flagged = view.flagged_by_staff.get(code, 0) + view.flagged_contacts_by_staff.get(code, 0)
            if flagged:
                part += f"，🚩 {flagged}"
            if code in view.checks_by_staff:
                n, r = view.checks_by_staff[code]
                part += f"，消息检查 {n}（需修改 {r}）"
            lines.append(f"• {esc(view.names.get(code, code))}（{esc(code)}）：{part}")
    return "\n".join(lines)
