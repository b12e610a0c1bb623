"""Pure renderers of answers to the knowledge base (split from `ask.py`, which answers and records)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot import compliance
from bot.answer_flags import answer_is_weak as is_weak
from bot.rendering import Button, Keyboard, Reply, clip, esc, plain_quote

if TYPE_CHECKING:
    from bot.features.ask_result import AskResult

logger = logging.getLogger(__name__)

#: Longest quote shown under an answer for one source.
EXCERPT_CHARS = 120


def render_answer(result: AskResult) -> Reply:
    """The answer (direct reply first), its numbered sources, warnings and 👍/👎 buttons."""
    ans = result.answer
    if result.curated is not None:
        return _render_curated(result)
    lines: list[str] = []
    body = ans.answer.strip()
    if not ans.grounded:
        lines.append("🤔 " + esc(body))
        if result.exchange_id is not None:  # it is in the log, where trainers see unanswered questions
            lines.append("（该问题已记录，培训老师会据此补充知识库。）")
    else:
        if is_weak(ans):
            lines.append("⚠️ <b>依据较弱</b>：以下内容仅供参考，请核实后再答复客户。")
        lines += [esc(line) for line in body.splitlines()]
    if result.client is not None:
        c = result.client
        lines.append(f"（依据客户卡片：{esc(c.name)}，{esc(c.tier)}客户，{esc(c.aum_band)}）")
    if ans.citations:
        lines += ["", "<b>参考依据</b>"]
        for cit in ans.citations:
            where = f"《{cit.title}》" + (f" · {cit.heading}" if cit.heading else "")
            lines.append(f"[{cit.n}] {esc(where)}")
            quote = clip(plain_quote(cit.text), EXCERPT_CHARS)
            if quote:
                lines.append(f"<i>“{esc(quote)}”</i>")
    if result.answer_flags:
        lines += [
            "",
            "⚠️ <b>回答依据含有需注意的表述</b>：" + esc("、".join(result.answer_flags)),
            "请勿直接转述给客户；已提交主管复核。",
        ]
    warning = compliance.render_warning(result.flags)
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


def _feedback_keyboard(result: AskResult) -> Keyboard | None:
    if result.exchange_id is None:
        return None
    return (
        (
            Button("👍 有帮助", f"fb:up:{result.exchange_id}"),
            Button("👎 没帮助", f"fb:down:{result.exchange_id}"),
        ),
    )


def _render_curated(result: AskResult) -> Reply:
    """A curated answer: marked 培训师审定 with its author and date, the question it was approved for."""
    c = result.curated
    assert c is not None
    lines = [f"✅ <b>培训师审定</b>（{esc(c.author_name)}，{c.created_at:%Y-%m-%d}）"]
    lines += [esc(line) for line in c.answer.strip().splitlines()]
    if c.source:
        lines.append(f"来源：{esc(c.source)}")
    lines.append(f"<i>（审定问题：{esc(clip(c.question, 60))}）</i>")
    if result.answer_flags:
        lines += ["", "⚠️ <b>回答含有需注意的表述</b>：" + esc("、".join(result.answer_flags))]
    warning = compliance.render_warning(result.flags)
    if warning:
        lines += ["", warning]
    return Reply("\n".join(lines).strip(), _feedback_keyboard(result))


def feedback_ack(value: str) -> str:
    return "感谢反馈！" if value == "up" else "已记录，我们会改进这类回答。"


__all__ = ["EXCERPT_CHARS", "feedback_ack", "render_answer"]
