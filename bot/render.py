"""Pure renderers: service results → Telegram HTML (plus a keyboard description) or console text.

Every piece of user or knowledge-base text goes through `esc` (html.escape) before it is placed in a
message, because Telegram's HTML parse mode rejects — or worse, interprets — stray `<`, `>` and `&`.
Tags never span lines, so `split_html` can pack whole lines into messages of at most 4096 characters.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot import compliance
from crm_adapter import Client, ContactRecord, Role, Staff

if TYPE_CHECKING:
    from bot.convlog import Exchange
    from bot.services import (
        AskResult,
        ClientView,
        LogDraft,
        LogResult,
        ReviewView,
        StatsView,
        TodayView,
        UnansweredView,
    )
    from knowledge import Hit, IngestReport

#: Telegram's limit on one message's text.
TELEGRAM_LIMIT = 4096
#: Longest quote shown under an answer for one source.
EXCERPT_CHARS = 120
_SOURCES_MARKER = "\n\n参考依据："

_WEEKDAY_NAMES = "一二三四五六日"
_ROLE_NAMES = {Role.RM: "客户经理", Role.SUPERVISOR: "团队主管", Role.TRAINER: "培训师", Role.ADMIN: "管理员"}


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: a label and the callback data sent back when pressed (≤ 64 bytes)."""

    text: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """One rendered reply: HTML text and an optional inline keyboard."""

    text: str
    keyboard: Keyboard | None = None


def esc(value: object) -> str:
    """Escape any text for Telegram HTML (quotes too, so it is also safe inside attributes)."""
    return html.escape(str(value), quote=True)


def fmt_date(value: date | None) -> str:
    if value is None:
        return "—"
    return f"{value:%Y-%m-%d}（周{_WEEKDAY_NAMES[value.weekday()]}）"


def fmt_datetime(value: datetime, tz: object | None = None) -> str:
    local = value.astimezone(tz) if tz is not None else value  # type: ignore[arg-type]
    return f"{local:%m-%d %H:%M}"


def role_name(role: Role) -> str:
    return _ROLE_NAMES.get(role, str(role))


# --- fixed texts -----------------------------------------------------------------------------------
def refusal_unregistered() -> str:
    return "您好！本助手仅供本行已登记的员工使用。如需开通，请联系您的团队管理员登记 Telegram 账号。"


def group_refusal() -> str:
    return "为保护客户信息，客户相关功能只能在与我的私聊中使用，请私聊我。"


def error_text() -> str:
    return "抱歉，处理您的请求时出了点问题，请稍后再试。"


def service_error(message: str) -> str:
    return f"⚠️ {esc(message)}"


def cancelled() -> str:
    return "已取消。"


def start(staff: Staff) -> str:
    return (
        f"您好，<b>{esc(staff.name)}</b>（{esc(role_name(staff.role))}，工号 {esc(staff.code)}）！\n"
        "我是客户经理助手：直接发问题，我会从知识库中查找答案并标注出处。\n"
        "发送 /help 查看全部功能。"
    )


def help_text(staff: Staff, *, console: bool = False) -> str:
    lines = ["<b>使用说明</b>", "直接输入问题：从知识库回答并标注出处（可 👍/👎 评价）"]
    lines += [
        "/client 姓名或拼音 — 查看客户卡片",
        "/log — 记录客户联系（引导填写）",
        "/log 张伟 电话 客户关注海外配置 下次:2026-12-15 — 一行快速记录",
        "/today — 今日待回访与本周生日",
    ]
    if staff.role in (Role.SUPERVISOR, Role.ADMIN):
        lines += [
            "/review [工号] [日期范围] — 团队问答与联系记录复盘（需关注的在前）",
            "/stats [日期范围] — 使用统计",
        ]
    if staff.role in (Role.SUPERVISOR, Role.TRAINER, Role.ADMIN):
        lines.append("/unanswered — 知识库未能回答的问题")
    if staff.role in (Role.TRAINER, Role.ADMIN):
        lines.append("/kb 查询 — 查看检索原文与得分")
        if not console:
            lines.append("发送 .md/.txt/.docx/.pdf/.csv 文档 — 加入知识库")
    lines.append("/cancel — 取消当前操作")
    if console:
        lines.append("/quit — 退出")
    return "\n".join(lines)


def compliance_warning(flags: Sequence[str]) -> str:
    if not flags:
        return ""
    lines = ["⚠️ <b>合规提示</b>：" + esc("、".join(flags))]
    lines += [f"• {esc(compliance.describe(f))}" for f in flags]
    return "\n".join(lines)


# --- knowledge ---------------------------------------------------------------------------------
def answer(result: AskResult) -> Reply:
    """A grounded answer with numbered sources and 👍/👎 buttons."""
    ans = result.answer
    # The extractive composer appends its own plain-text source list; we render the sources ourselves.
    body = ans.answer.split(_SOURCES_MARKER, 1)[0].strip() if ans.citations else ans.answer.strip()
    lines = [esc(line) for line in body.splitlines()]
    if not ans.grounded and lines:
        lines[0] = "🤔 " + lines[0]
        if result.exchange_id is not None:  # it is in the log, where trainers see unanswered questions
            lines.append("（该问题已记录，培训老师会据此补充知识库。）")
    if ans.citations:
        lines.append("")
        lines.append("<b>参考依据</b>")
        for c in ans.citations:
            where = f"《{c.title}》" + (f" · {c.heading}" if c.heading else "")
            lines.append(f"[{c.n}] {esc(where)}")
            quote = " ".join(c.text.split())
            if quote:
                if len(quote) > EXCERPT_CHARS:
                    quote = quote[:EXCERPT_CHARS] + "…"
                lines.append(f"<i>“{esc(quote)}”</i>")
    warning = compliance_warning(result.flags)
    if warning:
        lines += ["", warning]
    keyboard: Keyboard | None = None
    if result.exchange_id is not None:
        keyboard = (
            (
                Button("👍 有帮助", f"fb:up:{result.exchange_id}"),
                Button("👎 没帮助", f"fb:down:{result.exchange_id}"),
            ),
        )
    return Reply("\n".join(lines).strip(), keyboard)


def feedback_ack(value: str) -> str:
    return "感谢反馈！" if value == "up" else "已记录，我们会改进这类回答。"


def kb_hits(query: str, hits: Sequence[Hit]) -> str:
    if not hits:
        return f"“{esc(query)}”没有检索到任何内容。"
    lines = [f"<b>检索：</b>{esc(query)}（共 {len(hits)} 条）"]
    for i, h in enumerate(hits, 1):
        where = f"{h.title} · {h.heading}" if h.heading else h.title
        lines.append("")
        lines.append(f"<b>{i}.</b> {esc(where)}  <i>得分 {h.score:.3f}</i>")
        lines.append(f"<code>{esc(h.source)}</code>")
        snippet = " ".join(h.text.split())
        if len(snippet) > 300:
            snippet = snippet[:300] + "…"
        lines.append(esc(snippet))
    return "\n".join(lines)


def ingest_report(filename: str, report: IngestReport) -> str:
    if report.failed:
        reasons = "；".join(reason for _, reason in report.failed)
        return f"❌ 文档《{esc(filename)}》未能加入知识库：{esc(reasons)}"
    if report.unchanged and not (report.added or report.updated):
        return f"文档《{esc(filename)}》内容未变化，知识库无需更新。"
    verb = "更新" if report.updated else "加入"
    return f"✅ 文档《{esc(filename)}》已{verb}知识库（{report.chunks_added} 个段落）。"


# --- clients ------------------------------------------------------------------------------------
def _client_label(c: Client) -> str:
    return f"{c.name} · {c.tier} · {c.client_id}"


def client_matches(clients: Sequence[Client], *, prefix: str = "client") -> Reply:
    """A pick list (one button per client)."""
    if not clients:
        return Reply("没有找到匹配的客户。")
    lines = [f"找到 {len(clients)} 位客户，请选择："]
    lines += [f"• {esc(c.name)}（{esc(c.pinyin)}，{esc(c.tier)}，{esc(c.client_id)}）" for c in clients]
    keyboard = tuple((Button(_client_label(c), f"{prefix}:{c.client_id}"),) for c in clients)
    return Reply("\n".join(lines), keyboard)


def client_card(view: ClientView) -> str:
    card = view.card
    c = card.client
    lines = [
        f"👤 <b>{esc(c.name)}</b>（{esc(c.client_id)}）",
        f"等级：<b>{esc(c.tier)}</b>　资产规模：{esc(c.aum_band)}",
        f"风险等级：{esc(c.risk_level)} {esc(c.risk_name)}",
    ]
    if c.phone:
        lines.append(f"电话：{esc(c.phone_masked)}")
    if c.preferences:
        lines.append(f"偏好：{esc(c.preferences)}")
    if c.family:
        lines.append(f"家庭：{esc(c.family)}")
    if c.notes:
        lines.append(f"备注：{esc(c.notes)}")
    if card.last_contact is not None:
        last = card.last_contact
        lines.append(
            f"最近联系：{esc(f'{last.occurred_at:%Y-%m-%d}')} {esc(last.channel)}"
            f"（{card.days_since_contact} 天前）— {esc(last.summary)}"
        )
    else:
        lines.append("最近联系：暂无记录")
    if card.next_follow_up is not None:
        overdue = " <b>⚠️ 已逾期</b>" if card.follow_up_overdue else ""
        lines.append(f"下次跟进：{esc(fmt_date(card.next_follow_up))}{overdue}")
    if card.upcoming_birthday is not None and card.days_to_birthday is not None:
        soon = "🎂 " if card.days_to_birthday <= 7 else ""
        lines.append(
            f"{soon}生日：{esc(fmt_date(card.upcoming_birthday))}（还有 {card.days_to_birthday} 天）"
        )
    if c.kyc_review_due is not None:
        lines.append(f"KYC 复核到期：{esc(fmt_date(c.kyc_review_due))}")
    if view.entitlements:
        lines.append("")
        lines.append(f"<b>{esc(c.tier)}客户权益（知识库）</b>")
        for h in view.entitlements:
            snippet = " ".join(h.text.split())
            if len(snippet) > 160:
                snippet = snippet[:160] + "…"
            lines.append(f"• {esc(snippet)}（{esc(h.title)}）")
    return "\n".join(lines)


# --- contact records ----------------------------------------------------------------------------
def channel_prompt() -> str:
    return "请选择联系渠道：电话、面谈、微信、短信、邮件、活动"


def log_draft(draft: LogDraft) -> str:
    client = draft.client
    lines = ["<b>请确认联系记录</b>"]
    lines.append(f"客户：{esc(client.name)}（{esc(client.client_id)}）" if client else "客户：—")
    lines.append(f"渠道：{esc(draft.channel) if draft.channel else '—'}")
    lines.append(f"摘要：{esc(draft.summary) or '—'}")
    lines.append(f"下次跟进：{esc(fmt_date(draft.next_follow_up)) if draft.next_follow_up else '不设置'}")
    return "\n".join(lines)


def log_saved(result: LogResult) -> str:
    r = result.record
    lines = [
        f"✅ 已记录：{esc(result.client.name)}（{esc(r.client_id)}）{esc(r.channel)} — {esc(r.summary)}",
    ]
    if r.next_follow_up:
        lines.append(f"下次跟进：{esc(fmt_date(r.next_follow_up))}")
    warning = compliance_warning(result.flags)
    if warning:
        lines += ["", warning]
    return "\n".join(lines)


def log_pick(candidates: Sequence[Client]) -> Reply:
    reply = client_matches(candidates, prefix="logpick")
    return Reply(reply.text.replace("请选择：", "请选择要记录的客户："), reply.keyboard)


# --- today / digest -----------------------------------------------------------------------------
def today(view: TodayView, *, greeting: str | None = None) -> str:
    lines: list[str] = []
    if greeting:
        lines += [greeting, ""]
    lines.append(f"📅 <b>{esc(fmt_date(view.today))}</b>")
    overdue = [f for f in view.follow_ups if f.overdue]
    due = [f for f in view.follow_ups if not f.overdue]
    if overdue:
        lines.append("")
        lines.append(f"<b>已逾期回访（{len(overdue)}）</b>")
        lines += [_follow_up_line(f.client, f.due, f.reason, view.today) for f in overdue]
    if due:
        lines.append("")
        lines.append(f"<b>今日待回访（{len(due)}）</b>")
        lines += [_follow_up_line(f.client, f.due, f.reason, view.today) for f in due]
    if not view.follow_ups:
        lines += ["", "今天没有到期的回访。"]
    if view.birthdays:
        lines.append("")
        lines.append(f"<b>本周生日（{len(view.birthdays)}）</b>")
        for b in view.birthdays:
            when = "今天" if b.days_until == 0 else f"{b.days_until} 天后"
            lines.append(
                f"🎂 {esc(b.client.name)}（{esc(b.client.tier)}）{esc(fmt_date(b.birthday))}，{when}"
            )
    return "\n".join(lines)


def _follow_up_line(client: Client, due: date, reason: str, today_: date) -> str:
    late = (today_ - due).days
    when = f"逾期 {late} 天" if late > 0 else "今天"
    return f"• {esc(client.name)}（{esc(client.tier)}，{esc(client.client_id)}）{when} · {esc(reason)}"


def digest(view: TodayView) -> str:
    return today(view, greeting=f"早上好，{esc(view.staff.name)}！今天的工作提醒：")


# --- supervision -----------------------------------------------------------------------------------
def _range(since: date, until: date) -> str:
    return f"{since:%Y-%m-%d}" if since == until else f"{since:%Y-%m-%d} ~ {until:%Y-%m-%d}"


def _exchange_line(e: Exchange, names: dict[str, str], tz: object | None) -> str:
    marks: list[str] = []
    if not e.grounded:
        marks.append("无依据")
    if e.feedback == "down":
        marks.append("👎")
    elif e.feedback == "up":
        marks.append("👍")
    marks += list(e.flags)
    flag = "🚩 " if e.flagged else ""
    who = names.get(e.staff_code, e.staff_code)
    question = e.question if len(e.question) <= 80 else e.question[:80] + "…"
    tail = f"【{esc('、'.join(marks))}】" if marks else ""
    return f"{flag}{esc(fmt_datetime(e.created_at, tz))} {esc(who)}：{esc(question)} {tail}".rstrip()


def _contact_line(
    record: ContactRecord, flags: Sequence[str], names: dict[str, str], tz: object | None
) -> str:
    flag = "🚩 " if flags else ""
    who = names.get(record.rm_code, record.rm_code)
    summary = record.summary if len(record.summary) <= 80 else record.summary[:80] + "…"
    tail = f"【{esc('、'.join(flags))}】" if flags else ""
    return (
        f"{flag}{esc(fmt_datetime(record.occurred_at, tz))} {esc(who)} → {esc(record.client_id)}"
        f" {esc(record.channel)}：{esc(summary)} {tail}"
    ).rstrip()


def review(view: ReviewView, *, tz: object | None = None) -> str:
    lines = [f"<b>团队复盘</b> {esc(_range(view.since, view.until))}"]
    lines.append("成员：" + esc("、".join(f"{view.names.get(c, c)}({c})" for c in view.staff_codes)))
    flagged = sum(1 for e in view.exchanges if e.flagged) + sum(1 for c in view.contacts if c.flagged)
    if flagged:
        lines.append(f"🚩 需关注 {flagged} 条（无依据回答、👎、合规提示）")
    lines.append("")
    lines.append(f"<b>问答（{len(view.exchanges)}）</b>")
    lines += [_exchange_line(e, view.names, tz) for e in view.exchanges] or ["暂无问答记录。"]
    lines.append("")
    lines.append(f"<b>联系记录（{len(view.contacts)}）</b>")
    lines += [_contact_line(c.record, c.flags, view.names, tz) for c in view.contacts] or ["暂无联系记录。"]
    return "\n".join(lines)


def unanswered(view: UnansweredView, *, tz: object | None = None) -> str:
    if not view.items:
        return f"自 {view.since:%Y-%m-%d} 以来没有未能回答的问题。👏"
    lines = [f"<b>知识库未能回答的问题</b>（自 {view.since:%Y-%m-%d}）"]
    for i, u in enumerate(view.items, 1):
        lines.append(
            f"{i}. {esc(u.question)}（{u.times} 次，最近 {esc(fmt_datetime(u.last_asked, tz))}，"
            f"{esc('、'.join(u.staff_codes))}）"
        )
    return "\n".join(lines)


def stats(view: StatsView) -> str:
    s = view.stats
    rate = f"{s.grounded / s.questions:.0%}" if s.questions else "—"
    lines = [
        f"<b>使用统计</b> {esc(_range(view.since, view.until))}",
        f"提问 {s.questions} 次，有依据 {s.grounded}（{rate}），未能回答 {s.unanswered}",
        f"👍 {s.thumbs_up}　👎 {s.thumbs_down}　🚩 需关注 {s.flagged}",
    ]
    if view.contacts_by_staff or view.contacts:
        lines.append(f"联系记录 {view.contacts} 条")
    codes = sorted(set(s.by_staff) | set(view.contacts_by_staff))
    if codes:
        lines.append("")
        lines.append("<b>按员工</b>")
        for code in codes:
            name = view.names.get(code, code)
            part = f"提问 {s.by_staff.get(code, 0)}"
            if view.contacts_by_staff:
                part += f"，联系 {view.contacts_by_staff.get(code, 0)}"
            lines.append(f"• {esc(name)}（{esc(code)}）：{part}")
    return "\n".join(lines)


# --- message splitting ---------------------------------------------------------------------------
_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|\n|[^<&\n]+|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split HTML into messages of at most `limit` UTF-16 units, never inside a tag or an entity.

    Cuts at the last paragraph break, else line break, else anywhere in plain text; tags still open at
    a cut are closed at its end and re-opened at the start of the next part.
    """
    if _units(text) <= limit:
        return [text] if text else []
    atoms: list[str] = []
    for tok in _TOKEN.findall(text):
        if tok.startswith(("<", "&")) or tok == "\n":
            atoms.append(tok)
        else:
            atoms.extend(tok)  # plain text may be cut between any two characters
    parts: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, opening tag) of tags open at the current point
    cur: list[str] = []
    cur_units = 0
    # best cut so far: (index in cur, stack at that point, priority)
    best: tuple[int, list[tuple[str, str]], int] | None = None

    def closing(open_tags: list[tuple[str, str]]) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(open_tags))

    def reopening(open_tags: list[tuple[str, str]]) -> list[str]:
        return [tag for _, tag in open_tags]

    i = 0
    while i < len(atoms):
        atom = atoms[i]
        size = _units(atom)
        # Reserve room for closing the tags that would be open after this atom.
        after = list(stack)
        m = _TAG.fullmatch(atom)
        if m:
            name = m.group(2).lower()
            if m.group(1):
                for k in range(len(after) - 1, -1, -1):
                    if after[k][0] == name:
                        del after[k]
                        break
            elif not atom.endswith("/>"):
                after.append((name, atom))
        if cur_units + size + _units(closing(after)) > limit and cur:
            if best is not None and best[0] > 0:
                cut, cut_stack, _ = best
            else:
                cut, cut_stack = len(cur), list(stack)
            head = "".join(cur[:cut]) + closing(cut_stack)
            tail = cur[cut:]
            parts.append(head.strip("\n"))
            cur = reopening(cut_stack) + [t for t in tail]
            # Drop leading newlines of the new part (they came right after the cut).
            while len(cur) > len(cut_stack) and cur[len(cut_stack)] == "\n":
                del cur[len(cut_stack)]
            cur_units = sum(_units(t) for t in cur)
            best = None
            continue  # retry the same atom against the new part
        cur.append(atom)
        cur_units += size
        stack = after
        if atom == "\n":
            paragraph = len(cur) >= 2 and cur[-2] == "\n"
            priority = 2 if paragraph else 1
            if best is None or priority >= best[2] or best[0] < len(cur) // 2:
                best = (len(cur), list(stack), priority)
        elif not m and not atom.startswith("&") and (best is None or best[2] == 0):
            best = (len(cur), list(stack), 0)
        i += 1
    tail_text = "".join(cur).strip("\n")
    if tail_text:
        parts.append(tail_text)
    return [p for p in parts if p.strip()]


def to_plain(text: str) -> str:
    """Console variant of a rendered HTML message: links as `text (url)`, tags dropped, entities decoded."""
    text = re.sub(r'<a\s+href="([^"]*)"[^>]*>(.*?)</a>', lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


def keyboard_plain(keyboard: Keyboard | None) -> Iterable[str]:
    """Console lines for buttons (numbered)."""
    if not keyboard:
        return []
    buttons = [b for row in keyboard for b in row]
    return [f"  [{i}] {b.text}" for i, b in enumerate(buttons, 1)]
