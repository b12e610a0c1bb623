"""Chat texts of the message check (Telegram HTML; the console and CLI show them through `to_plain`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.features.message_check.service import CheckResult
from bot.features.message_check.store import OK, StoredCheck
from bot.rendering import clip, esc, fmt_datetime

logger = logging.getLogger(__name__)

PROMPT = "请发送要检查的客户消息（可在开头写客户姓名以检查适当性，如：张伟 这款产品……）。发送 /cancel 取消。"


def render_check(result: CheckResult) -> str:
    head = (
        f"客户：{esc(result.client.name)}（{esc(result.client.risk_level or '未测评')}）\n"
        if result.client
        else ""
    )
    ref = f"（记录 {esc(result.stored.ref)}）" if result.stored is not None else ""
    if result.verdict == OK:
        return f"{head}✅ <b>可以发送</b>{ref}：未发现营销合规、隐私或适当性问题。"
    lines = [f"{head}⚠️ <b>建议修改后再发送</b>{ref}：发现 {len(result.findings)} 处问题"]
    for i, f in enumerate(result.findings, 1):
        lines.append(f"{i}. <b>{esc(f.label)}</b>：“{esc(clip(f.text, 60))}”")
        lines.append(f"　依据：{esc(clip(f.source, 160))}")
        lines.append(f"　建议：{esc(f.suggestion)}")
    if result.rewrite:
        mark = "✅ 改写已复查通过" if result.rewrite_verdict == OK else "⚠️ 改写仍需人工处理"
        lines += ["", f"<b>合规改写</b>（{mark}）：", f"<code>{esc(result.rewrite)}</code>"]
    return "\n".join(lines)


def render_stored(
    check: StoredCheck, *, who: str, tz: object | None = None, notes: Sequence[str] = ()
) -> str:
    """One recorded check, as a supervisor opens it from /review (`/review M12`); `notes`: its review
    state and comments, already rendered."""
    verdict = "✅ 可以发送" if check.verdict == OK else "⚠️ 建议修改"
    client = f"，客户 {esc(check.client_id)}" if check.client_id else ""
    lines = [
        f"<b>消息检查 {esc(check.ref)}</b> {esc(fmt_datetime(check.created_at, tz))} "
        f"{esc(who)}{client}：{verdict}",
        f"原文：{esc(check.text)}",
    ]
    for i, f in enumerate(check.findings, 1):
        lines.append(
            f"{i}. {esc(f.get('label', ''))}：“{esc(f.get('text', ''))}”"
            f" — {esc(clip(f.get('source', ''), 120))}"
        )
    if check.rewrite:
        lines.append(f"改写：{esc(check.rewrite)}")
    return "\n".join([*lines, *notes])
