"""`/brief 张伟`: one screen before a meeting. Every line is a CRM record (card, contact records, the
benefit ledger) or a cited rule (the entitlement table, the suitability rules); talking points carry the
record or rule they come from, and none suggests a product. Reading a brief is a client-data read:
audited first, and not shown when the audit trail cannot record it (fails closed, like the card)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.core import Clock, Request, ServiceError, crm_call
from bot.features import suitability
from bot.features.benefits import entitlements as ent
from bot.features.benefits.chat import resolve_client
from bot.features.benefits.service import BenefitService, BenefitSheet, build_sheet
from bot.rendering import Reply, clip, esc, fmt_date
from crm_adapter import ClientCard, ContactRecord, CRMAdapter, Staff
from crm_adapter.masking import mask_personal_numbers
from crm_adapter.schedule import add_months  # the one month arithmetic (risk-assessment validity)

if TYPE_CHECKING:
    from bot.audit import AuditTrail

logger = logging.getLogger(__name__)

#: Contact records scanned for products pitched and suitability findings.
PITCH_LOOKBACK = 50
#: A risk assessment expiring within this many days, a KYC review due within it, a birthday within it:
#: each is worth raising in the meeting.
SOON_DAYS = 30
ASSESSMENT_SOON_DAYS = 60


@dataclass(frozen=True, slots=True)
class TalkingPoint:
    text: str
    reason: str  # the record or rule it comes from
    urgency: int  # lower first


@dataclass(frozen=True, slots=True)
class Pitch:
    """Products named in one contact record and the suitability findings stored with it."""

    day: date
    products: tuple[str, ...]
    findings: tuple[str, ...]
    contact_id: int


@dataclass(frozen=True, slots=True)
class Brief:
    card: ClientCard
    today: date
    sheet: BenefitSheet
    contacts: tuple[ContactRecord, ...]
    pitches: tuple[Pitch, ...]
    assessment_valid_until: date | None
    points: tuple[TalkingPoint, ...]


class BriefService:
    def __init__(
        self, *, crm: CRMAdapter, benefits: BenefitService, clock: Clock, audit: AuditTrail | None = None
    ) -> None:
        self.crm = crm
        self.benefits = benefits
        self.clock = clock
        self.audit = audit
        self.catalogue = suitability.ProductCatalogue(crm.list_products)

    def view(self, staff: Staff, client_id: str) -> Brief:
        today = self.clock.today()
        since, until = self.benefits.year_bounds(today.year)
        read = crm_call(
            lambda: self.crm.client_brief(
                actor=staff.code,
                client_id=client_id,
                since=since,
                until=until,
                contacts=PITCH_LOOKBACK,
                today=today,
            )
        )
        card, recent, tallies = read.card, list(read.contacts), list(read.tallies)
        client = card.client
        if self.audit is not None:  # fails closed: a brief whose reading cannot be audited is not shown
            self.audit.append(
                kind="client_read", actor=staff.code, ref=client.client_id, payload={"what": "brief"}
            )
        sheet = build_sheet(
            client, today.year, self.benefits.clients.tier_entitlements(str(client.tier)), tallies
        )
        months = int(suitability.rules()["assessment"]["validity_months"])
        valid_until = add_months(client.risk_assessed_on, months) if client.risk_assessed_on else None
        pitches = tuple(p for p in (self._pitch(r) for r in recent) if p is not None)
        # Contact times in the bank's time zone (a record at 00:30 local is stored the previous UTC day).
        last = tuple(
            r.model_copy(update={"occurred_at": r.occurred_at.astimezone(self.clock.tz)}) for r in recent[:3]
        )
        brief = Brief(card, today, sheet, last, pitches, valid_until, ())
        return Brief(card, today, sheet, last, pitches, valid_until, talking_points(brief))

    def _pitch(self, record: ContactRecord) -> Pitch | None:
        products = tuple(
            f"{p.name}（{p.code}，{p.risk_level}）" for p in self.catalogue.mentioned(record.summary)
        )
        findings = suitability.labels_of(record.topics)
        if not products and not findings:
            return None
        return Pitch(record.occurred_at.astimezone(self.clock.tz).date(), products, findings, record.id)


def talking_points(b: Brief, limit: int = 3) -> tuple[TalkingPoint, ...]:
    """Up to `limit` points, most urgent first; each names the record or rule behind it."""
    c, card, today = b.card.client, b.card, b.today
    points: list[TalkingPoint] = []
    if card.next_follow_up is not None and card.follow_up_overdue:
        late = (today - card.next_follow_up).days
        points.append(
            TalkingPoint(f"回访已逾期 {late} 天", f"客户卡片：下次跟进 {card.next_follow_up:%Y-%m-%d}", 0)
        )
    if c.kyc_review_due is not None and (c.kyc_review_due - today).days <= SOON_DAYS:
        days = (c.kyc_review_due - today).days
        text = f"KYC 复核已逾期 {-days} 天" if days < 0 else f"KYC 复核 {c.kyc_review_due:%m-%d} 到期"
        points.append(TalkingPoint(text, f"客户资料：KYC 复核到期日 {c.kyc_review_due:%Y-%m-%d}", 1))
    rule = suitability.rules()["assessment"]
    source = f"《{suitability.rules()['source']['title']}》{rule['article']}"
    if c.risk_assessed_on is None:
        points.append(TalkingPoint("请客户完成风险测评", f"客户资料无风险测评记录；{source}", 1))
    elif (
        b.assessment_valid_until is not None
        and (b.assessment_valid_until - today).days <= ASSESSMENT_SOON_DAYS
    ):
        until = b.assessment_valid_until
        text = "风险测评已过期，须重新测评" if until <= today else f"风险测评 {until.month} 月到期"
        reason = f"测评于 {c.risk_assessed_on:%Y-%m-%d}，有效期 {rule['validity_months']} 个月（{source}）"
        points.append(TalkingPoint(text, reason, 2))
    if (
        card.upcoming_birthday is not None
        and card.days_to_birthday is not None
        and card.days_to_birthday <= SOON_DAYS
    ):
        when = "今天" if card.days_to_birthday == 0 else f"还有 {card.days_to_birthday} 天"
        points.append(TalkingPoint(f"{card.upcoming_birthday:%m-%d} 生日（{when}）", "客户资料：生日", 3))
    for bal in b.sheet.balances:
        if bal.used == 0:
            e = bal.entitlement
            points.append(
                TalkingPoint(
                    f"{e.benefit}{'未领取' if '卡' in e.benefit else '今年未使用'}",
                    f"《{e.cite.title}》：{e.value}；权益使用台账 {bal.year} 年 0 次",
                    4,
                )
            )
    points.sort(key=lambda p: p.urgency)
    return tuple(points[:limit])


# --- handler ------------------------------------------------------------------------------------
def brief(svc: BriefService, req: Request) -> Reply:
    """`/brief 张伟`: the meeting brief of one of the staff member's clients."""
    query = req.args.strip()
    if not query:
        raise ServiceError("用法：/brief 客户姓名、拼音或客户号，例如 /brief 张伟")
    client = resolve_client(svc.benefits, req.staff, query)
    return Reply(render_brief(svc.view(req.staff, client.client_id)))


# --- renderers ----------------------------------------------------------------------------------
def _assessment(b: Brief) -> str:
    c = b.card.client
    if c.risk_assessed_on is None or b.assessment_valid_until is None:
        return "⚠️ 无风险测评记录"
    state = (
        "⚠️ 已过期" if b.assessment_valid_until <= b.today else f"有效至 {b.assessment_valid_until:%Y-%m-%d}"
    )
    return f"测评于 {c.risk_assessed_on:%Y-%m-%d}，{state}"


def render_brief(b: Brief) -> str:
    card, c = b.card, b.card.client
    flags = [f"反洗钱风险 {c.aml_risk}", "⚠️ PEP：是" if c.pep else "PEP：否"]
    flags.append(f"KYC 复核 {fmt_date(c.kyc_review_due)}" if c.kyc_review_due else "KYC 复核 未设定")
    if c.kyc_review_due is not None and c.kyc_review_due < b.today:
        flags[-1] += "（⚠️ 已逾期）"
    lines = [
        f"📋 <b>会前简报：{esc(c.name)}</b>（{esc(c.client_id)}）",
        f"等级：<b>{esc(c.tier)}</b>　资产规模：{esc(c.aum_band)}",
        f"风险等级：{esc(c.risk_level)} {esc(c.risk_name)}（{esc(_assessment(b))}）",
        "合规：" + esc("　".join(flags)),
        "",
        f"<b>权益余量（{b.sheet.year}年）</b>",
    ]
    lines += [f"• {esc(ent.balance_line(bal))}" for bal in b.sheet.balances]
    if not b.sheet.balances:
        lines.append("• 该等级无按次数计的权益")
    lines += ["", "<b>最近联系</b>"]
    for r in b.contacts:
        summary = clip(mask_personal_numbers(r.summary), 60)
        lines.append(f"• {r.occurred_at.date():%Y-%m-%d} {esc(r.channel)} — {esc(summary)}")
    if not b.contacts:
        lines.append("• 暂无联系记录")
    follow = "未设定"
    if card.next_follow_up is not None:
        follow = fmt_date(card.next_follow_up) + ("（⚠️ 已逾期）" if card.follow_up_overdue else "")
    lines.append(f"待跟进：{esc(follow)}")
    if (
        card.upcoming_birthday is not None
        and card.days_to_birthday is not None
        and card.days_to_birthday <= SOON_DAYS
    ):
        lines.append(f"🎂 生日：{esc(fmt_date(card.upcoming_birthday))}（还有 {card.days_to_birthday} 天）")
    if b.pitches:
        lines += ["", "<b>推介产品与适当性</b>"]
        for p in b.pitches[:5]:
            what = "、".join(p.products) or "（未识别产品）"
            found = "；⚠️ " + "；".join(p.findings) if p.findings else "；无适当性提示"
            lines.append(f"• {p.day:%Y-%m-%d} {esc(what)}{esc(found)}")
    for label, value in (("偏好", c.preferences), ("家庭", c.family), ("备注", c.notes)):
        if value:
            lines.append(f"{label}：{esc(mask_personal_numbers(value))}")
    lines += ["", "<b>💬 话题建议</b>"]
    for n, point in enumerate(b.points, 1):
        lines.append(f"{n}. {esc(point.text)} — <i>依据：{esc(point.reason)}</i>")
    if not b.points:
        lines.append("暂无（资料中没有到期事项或未使用的权益）")
    titles = "、".join(dict.fromkeys(f"《{bal.entitlement.cite.title}》" for bal in b.sheet.balances))
    rules = f"；{esc(titles)}权益表" if titles else ""
    lines.append(f"<i>资料来源：CRM 客户资料、联系记录、权益使用台账{rules}</i>")
    return "\n".join(lines)


def brief_json(b: Brief) -> dict[str, Any]:
    c = b.card.client
    return {
        "client_id": c.client_id,
        "name": c.name,
        "tier": str(c.tier),
        "aum_band": c.aum_band,
        "risk_level": c.risk_level,
        "risk_assessed_on": c.risk_assessed_on.isoformat() if c.risk_assessed_on else None,
        "risk_assessment_valid_until": b.assessment_valid_until.isoformat()
        if b.assessment_valid_until
        else None,
        "aml_risk": c.aml_risk,
        "pep": c.pep,
        "kyc_review_due": c.kyc_review_due.isoformat() if c.kyc_review_due else None,
        "benefits": [balance_json(bal) for bal in b.sheet.balances],
        "contacts": [
            {
                "id": r.id,
                "date": r.occurred_at.date().isoformat(),
                "channel": str(r.channel),
                "summary": mask_personal_numbers(r.summary),
            }
            for r in b.contacts
        ],
        "next_follow_up": b.card.next_follow_up.isoformat() if b.card.next_follow_up else None,
        "follow_up_overdue": b.card.follow_up_overdue,
        "upcoming_birthday": b.card.upcoming_birthday.isoformat() if b.card.upcoming_birthday else None,
        "pitches": [
            {
                "date": p.day.isoformat(),
                "products": list(p.products),
                "findings": list(p.findings),
                "contact_id": p.contact_id,
            }
            for p in b.pitches
        ],
        "preferences": c.preferences,
        "family": c.family,
        "notes": c.notes,
        "talking_points": [{"text": p.text, "reason": p.reason} for p in b.points],
    }


def balance_json(bal: ent.Balance) -> dict[str, Any]:
    e = bal.entitlement
    return {
        "benefit": e.benefit,
        "year": bal.year,
        "allowance": bal.allowance,
        "used": bal.used,
        "left": bal.left,
        "last_used_on": bal.last_used_on.isoformat() if bal.last_used_on else None,
        "rule": {"source": e.cite.source, "title": e.cite.title, "text": e.cite.text},
    }
