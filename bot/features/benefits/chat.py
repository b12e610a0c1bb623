"""`/used` and its buttons: record a use of a counted entitlement (or, with only a client, show what is
left), the confirmation of a use beyond the allowance, and the use a confirmed /log arranged."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

from bot.core import Request, ServiceError, crm_call
from bot.dates import FULL_DATE, SHORT_DATE
from bot.features.benefits import entitlements as ent
from bot.features.benefits.service import BenefitService, BenefitSheet, PreparedUse, UseResult
from bot.rendering import Button, Reply, esc
from crm_adapter import Client, ContactRecord, Staff

logger = logging.getLogger(__name__)

USAGE = "用法：/used 客户 权益 [日期] [备注]，例如 /used 张伟 专家挂号 11-03；只写客户：查看今年权益余量"
_RELATIVE = {"今天": 0, "昨天": 1, "前天": 2}
_CONTACT_REF = re.compile(r"^#(\d{1,12})$")
#: A /log summary saying a benefit was arranged or used ("帮客户约了专家号", "已安排体检").
_ARRANGED = re.compile(
    r"(?:约|预约|安排|办理|办|使用|用|领取|领|陪同|陪|订|预订|挂)(?:了|好)"
    r"|已(?:经)?(?:约|预约|安排|办理|使用|领取|挂)|帮客户(?:约|预约|安排|挂|领)"
)


def parse_day(token: str, today: date) -> date | None:
    """ "2026-11-03", "11-03", "11月3日", "今天/昨天/前天"; a month-day after today is last year's."""
    if token in _RELATIVE:
        return today - timedelta(days=_RELATIVE[token])
    try:
        m = FULL_DATE.fullmatch(token)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = SHORT_DATE.fullmatch(token)
        if m:
            day = date(today.year, int(m.group(1)), int(m.group(2)))
            return day if day <= today else date(today.year - 1, day.month, day.day)
    except ValueError:
        raise ServiceError(f"日期无效：{token}") from None
    return None


def idempotency_key(req: Request) -> str | None:
    """One use per message (a redelivered update counts nothing new)."""
    return None if req.update_id is None else f"{req.frontend}:{req.chat_id or 0}:{req.update_id}"


def resolve_client(svc: BenefitService, staff: Staff, query: str) -> Client:
    found = svc.clients.resolve(staff, query)
    if found.client is not None:
        return found.client
    ids = "、".join(f"{c.name} {c.client_id}" for c in found.candidates)
    raise ServiceError(f"有多位客户匹配“{query}”（{ids}），请改用客户号。")


# --- handlers -----------------------------------------------------------------------------------
def used(svc: BenefitService, req: Request) -> Reply:
    """`/used 张伟 专家挂号 [日期] [备注] [#联系记录]`; `/used 张伟`: this year's balances."""
    words = req.words
    if not words:
        raise ServiceError(USAGE)
    client = resolve_client(svc, req.staff, words[0])
    if len(words) == 1:
        return Reply(render_sheet(svc.sheet(req.staff, client, audit_what="benefits")))
    today = svc.clock.today()
    day: date | None = None
    contact_id: int | None = None
    note: list[str] = []
    for word in words[2:]:
        ref = _CONTACT_REF.match(word)
        parsed = None if day is not None or ref else parse_day(word, today)
        if ref:
            contact_id = int(ref.group(1))
        elif parsed is not None:
            day = parsed
        else:
            note.append(word)
    prepared = svc.prepare(
        req.staff,
        client,
        words[1],
        day=day,
        note=" ".join(note),
        contact_id=contact_id,
        source=req.frontend,
        key=idempotency_key(req),
    )
    return _record_or_ask(svc, req.staff, prepared)


def _record_or_ask(svc: BenefitService, staff: Staff, prepared: PreparedUse) -> Reply:
    if not prepared.needs_confirmation:
        return Reply(render_result(svc.record(staff, prepared)))
    token = svc.hold(staff, prepared)
    keyboard = ((Button("仍要登记", f"bu:ok:{token}"), Button("取消", f"bu:no:{token}")),)
    return Reply(render_over_allowance(prepared, svc.clock.today().year), keyboard, choose=True)


def used_button(svc: BenefitService, req: Request) -> Reply:
    """The RM's answer to the over-allowance warning (button data `ok:token` / `no:token`)."""
    choice, _, token = req.args.partition(":")
    if choice not in ("ok", "no") or not token.isdigit():
        raise ServiceError("这个按钮已失效。")
    prepared = svc.take(req.staff, int(token))
    if choice != "ok":
        return Reply(f"已取消，未登记{esc(prepared.client.name)}的{esc(prepared.entitlement.benefit)}使用。")
    return Reply(render_result(svc.record(req.staff, prepared)))


def used_from_log(svc: BenefitService, req: Request) -> Reply:
    """The button under a saved /log of earlier versions (data `client_id:contact_id`): record the use it
    arranged, dated and linked to that contact record (pressing twice counts once)."""
    client_id, _, contact = req.args.partition(":")
    if not contact.isdigit():
        raise ServiceError("这个按钮已失效。")
    records = crm_call(lambda: svc.crm.list_contacts(actor=req.staff.code, client_id=client_id, limit=200))
    record = next((r for r in records if r.id == int(contact)), None)
    if record is None:
        raise ServiceError("未找到这条联系记录，请用 /used 登记。")
    return use_from_log(svc, req.staff, svc.clients.get(req.staff, client_id), record, source=req.frontend)


def use_from_log(
    svc: BenefitService, staff: Staff, client: Client, record: ContactRecord, *, source: str
) -> Reply:
    """Record the use a saved /log arranged, dated and linked to that record. Keyed by the record and the
    benefit, so a resend, a second press or a retry after a failure counts it once."""
    found = arranged_benefit(svc, record.summary)
    if found is None:
        raise ServiceError("这条联系记录未提到可计次的权益，请用 /used 登记。")
    prepared = svc.prepare(
        staff,
        client,
        found.benefit,
        day=record.occurred_at.astimezone(svc.clock.tz).date(),
        contact_id=record.id,
        source=source,
        key=f"log:{record.id}:{found.benefit}",
    )
    return _record_or_ask(svc, staff, prepared)


def arranged_benefit(svc: BenefitService, summary: str) -> ent.Entitlement | None:
    """The counted benefit a /log summary says was arranged ("帮客户约了专家号"), if any."""
    if not _ARRANGED.search(summary):
        return None
    counted = [e for e in ent.mentioned(svc.table(), summary) if ent.yearly_allowance(e) is not None]
    return counted[0] if counted else None


def log_offer(svc: BenefitService, staff: Staff, client: Client, summary: str) -> str | None:
    """What a /log draft's summary arranged ("帮客户约了专家号"), for its confirmation: the counted benefit
    the client's tier has, with its rule; None otherwise (also when anything fails: the record can be
    confirmed either way)."""
    try:
        e = arranged_benefit(svc, summary)
        if e is None or not ent.standing(e, client).applies:
            return None
    except Exception:
        logger.warning("benefit offer for a /log failed", exc_info=True)
        return None
    return f"摘要提到已安排「{esc(e.benefit)}」（{esc(client.tier)}客户{esc(ent.allowance_phrase(e))}）"


# --- renderers ----------------------------------------------------------------------------------
def render_sheet(sheet: BenefitSheet) -> str:
    c = sheet.client
    lines = [f"🎁 <b>{esc(c.name)}</b>（{esc(c.client_id)}，{esc(c.tier)}客户）{sheet.year}年权益余量"]
    if not sheet.balances:
        lines.append("该客户等级在权益表中没有按次数计的权益。")
    lines += [f"• {esc(ent.balance_line(b))}" for b in sheet.balances]
    for t in sheet.other_uses:
        lines.append(f"• {esc(t.benefit)}：台账已登记 {t.used} 次（该客户等级的权益表中无此计次权益）")
    titles = "、".join(dict.fromkeys(f"《{b.entitlement.cite.title}》" for b in sheet.balances))
    if titles:
        lines.append(f"<i>次数依据{esc(titles)}权益表；已用次数来自 CRM 权益使用台账。</i>")
    return "\n".join(lines)


def render_over_allowance(p: PreparedUse, this_year: int) -> str:
    b = p.balance
    return (
        f"⚠️ <b>超出权益次数</b>：{esc(p.client.name)}为{esc(p.client.tier)}客户，"
        f"{esc(p.entitlement.benefit)}{esc(ent.allowance_phrase(p.entitlement))}，"
        f"{esc(ent.usage_phrase(b, this_year))}（《{esc(p.entitlement.cite.title)}》）。\n"
        f"本次（{p.use.used_on:%Y-%m-%d}）将是第 {b.used + 1} 次。仍要登记吗？"
    )


def render_result(r: UseResult) -> str:
    u = r.use
    if r.resent:
        return (
            f"ℹ️ 该权益使用已登记（{u.used_on:%Y-%m-%d}），本次未重复计数。\n"
            f"{esc(r.client.name)} {esc(ent.balance_line(r.balance))}"
        )
    linked = f"（关联联系记录 C{u.contact_id}）" if u.contact_id else ""
    return (
        f"✅ 已登记：{esc(r.client.name)}（{esc(u.client_id)}）"
        f"{esc(r.entitlement.benefit)} {u.used_on:%Y-%m-%d}{linked}\n"
        f"{esc(r.balance.year)}年已用 {r.balance.used} 次 / 每年 {r.balance.allowance} 次，"
        + (f"已超出 {r.balance.over} 次" if r.balance.over else f"还剩 {r.balance.left} 次")
    )
