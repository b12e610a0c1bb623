"""The `/log` conversation, defined once: Telegram's ConversationHandler and the console twin both
drive these steps.

A step takes the persisted draft (plain data) and the user's text and returns the replies, the next
state (None: the conversation is over) and the new draft.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot import compliance
from bot.core import Clock, Request, ServiceError
from bot.features import suitability
from bot.features.contact_log.parsing import (
    channel_choices,
    is_confirmation,
    parse_channel,
    parse_follow_up,
    parse_log_line,
)
from bot.features.contact_log.service import ContactLogService, LogDraft, LogResult
from bot.rendering import Reply, cancelled, esc, fmt_date
from crm_adapter import Channel, Client, ContactRecord

logger = logging.getLogger(__name__)

#: A /log could not be stored (the CRM or its database failed, or the bot could not take the message):
#: the record was NOT saved. Every front end says it in these words.
NOT_SAVED = "客户系统暂时不可用，联系记录未保存，请稍后重发。"

#: States of the guided /log conversation (persisted by PTB: keep the values stable).
CLIENT, CHANNEL, SUMMARY, FOLLOW_UP, CONFIRM = range(5)
STATES = (CLIENT, CHANNEL, SUMMARY, FOLLOW_UP, CONFIRM)
#: The third answer of a draft whose summary arranged a counted benefit: save and count the use.
CONFIRM_WITH_USE = "确认并登记权益"

Draft = dict[str, object]


@dataclass(frozen=True, slots=True)
class Step:
    """What one message did: replies to send, the next state (None = done) and the draft to keep;
    `record` is the contact record the step stored (or found stored before: a resend)."""

    replies: tuple[Reply, ...]
    state: int | None
    draft: Draft = field(default_factory=dict)
    record: ContactRecord | None = None


def idempotency_key(req: Request) -> str | None:
    """One contact record per message that completes it (a redelivered update writes nothing new)."""
    if req.update_id is None:
        return None
    return f"{req.frontend}:{req.chat_id or 0}:{req.update_id}"


def start(svc: ContactLogService, req: Request) -> Step:
    """`/log` with text: the one-line form; without: the first question of the guided flow."""
    if not req.args.strip():
        return Step((Reply("请输入客户姓名、拼音或客户号（/cancel 取消）："),), CLIENT, {})
    line = parse_log_line(req.args, svc.clock.today())
    draft: Draft = {
        "channel": line.channel.value,
        "summary": line.summary,
        "next_follow_up": line.next_follow_up.isoformat() if line.next_follow_up else None,
        "key": idempotency_key(req),
        "one_line": True,
    }
    found = svc.clients.resolve(req.staff, line.client_query)
    if found.client is None:
        return Step((pick_reply(found.candidates),), CLIENT, draft)
    draft["client_id"] = found.client.client_id
    return _save_or_confirm(svc, req, draft)


def step(svc: ContactLogService, req: Request, state: int, draft: Mapping[str, object]) -> Step:
    """Feed one message of the guided flow (a ServiceError leaves the state as it was)."""
    text = " ".join(req.args.split())
    new: Draft = dict(draft)
    if state == CLIENT:
        found = svc.clients.resolve(req.staff, text)
        if found.client is None:
            return Step((pick_reply(found.candidates),), CLIENT, new)
        new["client_id"] = found.client.client_id
        if new.get("one_line"):
            return _save_or_confirm(svc, req, new)
        return Step((channel_prompt(found.client),), CHANNEL, new)
    if state == CHANNEL:
        channel = parse_channel(text)
        if channel is None:
            return Step((channel_prompt(None),), CHANNEL, new)
        new["channel"] = channel.value
        return Step((Reply("请输入沟通摘要（例如：客户关注海外配置）："),), SUMMARY, new)
    if state == SUMMARY:
        if not text:
            return Step((Reply("摘要不能为空，请输入沟通摘要："),), SUMMARY, new)
        new["summary"] = text
        return Step((follow_up_prompt(),), FOLLOW_UP, new)
    if state == FOLLOW_UP:
        try:
            follow = parse_follow_up(text, svc.clock.today())
        except ServiceError as exc:
            return Step((Reply(f"⚠️ {esc(exc.message)}"), follow_up_prompt()), FOLLOW_UP, new)
        new["next_follow_up"] = follow.isoformat() if follow else None
        return _confirm(svc, req, new)
    if state == CONFIRM:
        with_use = text == CONFIRM_WITH_USE
        if not with_use and not is_confirmation(text):
            product = svc.pick_product(text)
            if product is None:
                return Step((Reply(cancelled()),), None, {})
            # A product picked while confirming joins the record and its suitability check.
            new["summary"] = f"{new.get('summary') or ''}（涉及产品：{product.name}，{product.code}）"
            return _confirm(svc, req, new)
        new["key"] = idempotency_key(req)
        return _save(svc, req, new, with_use=with_use)
    raise ServiceError("这条记录已失效，请重新发送 /log。")


def revise(
    svc: ContactLogService, req: Request, state: int, draft: Mapping[str, object], answered: int
) -> Step:
    """The RM edited their earlier answer to `answered` while the draft waits at `state`: the draft takes
    the new answer when it is valid, then the current question is asked again (the state stays; nothing
    is saved before the RM confirms)."""
    text = " ".join(req.args.split())
    new: Draft = dict(draft)
    note = "✏️ 已按您修改的消息更新草稿。"
    invalid = "⚠️ 修改后的{what}无效，草稿未改。"
    if answered == CLIENT:
        try:
            found = svc.clients.resolve(req.staff, text)
        except ServiceError as exc:
            note = f"⚠️ {esc(exc.message)}（草稿未改）"
        else:
            if found.client is None:
                note = "⚠️ 修改后的客户不唯一，草稿未改；如需更换客户，请 /cancel 后重新 /log。"
            else:
                new["client_id"] = found.client.client_id
    elif answered == CHANNEL:
        channel = parse_channel(text)
        if channel is None:
            note = invalid.format(what="联系渠道")
        else:
            new["channel"] = channel.value
    elif answered == SUMMARY:
        if text:
            new["summary"] = text
        else:
            note = invalid.format(what="摘要")
    elif answered == FOLLOW_UP:
        try:
            follow = parse_follow_up(text, svc.clock.today())
        except ServiceError as exc:
            note = f"⚠️ {esc(exc.message)}（草稿未改）"
        else:
            new["next_follow_up"] = follow.isoformat() if follow else None
    again = prompt(svc, req, state, new)
    return Step((Reply(note), *again.replies), state, new)


def prompt(svc: ContactLogService, req: Request, state: int, draft: Draft) -> Step:
    """The question of `state` asked again (the confirmation shows the draft as it is now)."""
    if state == CONFIRM:
        return _confirm(svc, req, draft)
    if state == CHANNEL:
        return Step((channel_prompt(svc.draft_from_state(req.staff, draft).client),), state, draft)
    if state == SUMMARY:
        return Step((Reply("请输入沟通摘要（例如：客户关注海外配置）："),), state, draft)
    if state == FOLLOW_UP:
        return Step((follow_up_prompt(),), state, draft)
    return Step((Reply("请输入客户姓名、拼音或客户号（/cancel 取消）："),), state, draft)


def _confirm(svc: ContactLogService, req: Request, draft: Draft) -> Step:
    """Show the draft (with any suitability warning) and ask to confirm it."""
    record = svc.draft_from_state(req.staff, draft)
    text = render_draft(record)
    details = svc.details(record).render()
    text += f"\n{esc(details)}（确认后随记录保存）" if details else ""
    warning = suitability.render_findings(svc.findings(record))
    if warning:
        text += "\n\n" + warning + "\n仍要保存这条记录吗？"
    text += "\n<i>如本次推介了产品，可发送产品名称或代码，加入记录并做适当性检查。</i>"
    offer = _benefit_offer(svc, req, record)
    if offer:  # "帮客户约了专家号": the RM decides now whether the record also counts the use
        text += (
            f"\n\n💡 {offer}：点“{CONFIRM_WITH_USE}”保存记录并记入权益台账（关联本记录，只计一次）；"
            "点“确认”只保存记录。"
        )
        return Step((Reply(text, options=("确认", CONFIRM_WITH_USE, "取消"), columns=1),), CONFIRM, draft)
    return Step((Reply(text, options=("确认", "取消"), columns=2),), CONFIRM, draft)


def _benefit_offer(svc: ContactLogService, req: Request, record: LogDraft) -> str | None:
    if svc.benefit_offer is None or record.client is None or not record.summary:
        return None
    return svc.benefit_offer(req.staff, record.client, record.summary)


def _save_or_confirm(svc: ContactLogService, req: Request, draft: Draft) -> Step:
    """The one-line form saves at once, unless a suitability finding or an arranged benefit needs the RM's
    answer."""
    record = svc.draft_from_state(req.staff, draft)
    if svc.findings(record) or _benefit_offer(svc, req, record):
        return _confirm(svc, req, draft)
    return _save(svc, req, draft)


def _save(svc: ContactLogService, req: Request, draft: Draft, *, with_use: bool = False) -> Step:
    record = svc.draft_from_state(req.staff, draft)
    key = draft.get("key")
    result = svc.save(req.staff, record, source=req.frontend, idempotency_key=str(key) if key else None)
    text = render_resent(result, svc.clock) if result.resent else render_saved(result)
    r = result.record
    if not with_use or svc.record_benefit is None:
        return Step((Reply(text),), None, {}, record=r)
    try:  # also on a resend: the use is keyed by the record, so it counts once
        used = svc.record_benefit(req.staff, result.client, r, source=req.frontend)
    except ServiceError as exc:
        used = Reply(f"⚠️ 联系记录已保存，权益使用未登记：{esc(exc.message)}")
    return Step((Reply(text), used), None, {}, record=r)


# --- renderers ----------------------------------------------------------------------------------
def pick_reply(candidates: tuple[Client, ...]) -> Reply:
    options = tuple(f"{c.name} ({c.client_id})" for c in candidates)
    return Reply(f"找到 {len(candidates)} 位客户，请选择要记录的客户：", options=options, columns=1)


def channel_prompt(client: Client | None) -> Reply:
    """The channel question; without a client it is the re-prompt after an unknown channel."""
    if client is None:
        return Reply(f"请从以下渠道中选择：{channel_choices()}", options=tuple(c.value for c in Channel))
    head = f"客户：<b>{esc(client.name)}</b>（{esc(client.client_id)}）\n"
    return Reply(f"{head}请选择联系渠道：{channel_choices()}", options=tuple(c.value for c in Channel))


def follow_up_prompt() -> Reply:
    return Reply(
        "下次跟进日期？可写 2026-12-15、12-15、明天、下周一；不需要请点“跳过”。",
        options=("明天", "下周一", "跳过"),
    )


def render_draft(draft: LogDraft) -> str:
    client = draft.client
    lines = ["<b>请确认联系记录</b>"]
    lines.append(f"客户：{esc(client.name)}（{esc(client.client_id)}）" if client else "客户：—")
    lines.append(f"渠道：{esc(draft.channel) if draft.channel else '—'}")
    lines.append(f"摘要：{esc(draft.summary) or '—'}")
    lines.append(f"下次跟进：{esc(fmt_date(draft.next_follow_up)) if draft.next_follow_up else '不设置'}")
    return "\n".join(lines)


def render_saved(result: LogResult) -> str:
    r = result.record
    lines = [f"✅ 已记录：{esc(result.client.name)}（{esc(r.client_id)}）{esc(r.channel)} — {esc(r.summary)}"]
    if r.next_follow_up:
        lines.append(f"下次跟进：{esc(fmt_date(r.next_follow_up))}")
    if result.details:
        lines.append(esc(result.details.render()))
    if result.masked:
        lines.append("🔒 摘要中的证件号、手机号或卡号已隐去：联系记录不保存这些号码，请以客户资料为准。")
    for warning in (suitability.render_findings(result.findings), compliance.render_warning(result.flags)):
        if warning:
            lines += ["", warning]
    if result.findings:
        lines.append("该记录已附适当性提示，将优先提交主管复核。")
    return "\n".join(lines)


def logged_at(created_at: datetime, clock: Clock) -> str:
    """When a record was stored, in the bank's time zone: "HH:MM" today, else with its date."""
    local = created_at.astimezone(clock.tz)
    return local.strftime("%H:%M") if local.date() == clock.today() else local.strftime("%Y-%m-%d %H:%M")


def render_resent(result: LogResult, clock: Clock) -> str:
    """The same contact sent again (e.g. after a lost confirmation): say it is stored once already."""
    r = result.record
    return (
        f"ℹ️ 该联系记录已于 {logged_at(r.created_at, clock)} 登记，本次未重复保存。\n"
        f"{esc(result.client.name)}（{esc(r.client_id)}）{esc(r.channel)} — {esc(r.summary)}"
    )


def render_edit_of_saved(created_at: datetime, clock: Clock) -> str:
    """An edited message that had stored a record: the record is never changed by an edit."""
    return (
        f"该联系记录已于 {logged_at(created_at, clock)} 登记，原记录保留；"
        "如需更正，请发送 /log 重新登记更正内容"
    )
