"""Client lookup: find by name / pinyin / id within the staff member's scope, show the card.

Scopes are the CRM adapter's: this module never filters clients itself.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from bot import roles
from bot.core import Clock, KnowledgeService, Request, ServiceError, crm_call
from bot.features.suitability import assessment_expired
from bot.rendering import Button, Reply, esc, fmt_date
from crm_adapter import Client, ClientCard, CRMAdapter, Staff
from crm_adapter.masking import mask_personal_numbers

if TYPE_CHECKING:
    from bot.audit import AuditTrail
    from knowledge import ClientFacts
    from knowledge.rules import Entitlement

logger = logging.getLogger(__name__)

#: A client's name must be this long to be found in a question: one character is an ordinary word.
MIN_MENTION_CHARS = 2
_CLIENT_CHOICE = re.compile(r"[（(]\s*([A-Za-z0-9_-]+)\s*[)）]\s*$")
#: Words that are never taken for a client's name in a question, even if the CRM holds one so called.
_NOT_NAMES = frozenset(
    [
        "钻石",
        "白金",
        "黄金",
        "潜在",
        "客户",
        "我们",
        "他们",
        "她们",
        "我的",
        "这个",
        "那个",
        "哪些",
        "什么",
        "私行",
        "私人",
        "银行",
        "本行",
        "理财",
        "客户经理",
        "主管",
        "老客户",
        "新客户",
        "高端",
        "普通",
        "贵宾",
        "家属",
        "子女",
        "配偶",
        "员工",
        "产品",
        "基金",
    ]
)


@dataclass(frozen=True, slots=True)
class ClientView:
    card: ClientCard
    entitlements: tuple[Entitlement, ...] = ()
    today: date | None = None  # the bank's today: dates on the card are shown relative to it


@dataclass(frozen=True, slots=True)
class Resolution:
    """One client, or the candidates to pick from when the query matched several."""

    client: Client | None = None
    candidates: tuple[Client, ...] = ()


class ClientService:
    """Client search, cards and the entitlement extract shown on them (thread-safe)."""

    def __init__(
        self,
        *,
        crm: CRMAdapter,
        kb: KnowledgeService | None,
        clock: Clock,
        audit: AuditTrail | None = None,
        names: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.crm = crm
        self.audit = audit
        # Every client name the CRM knows (a cached reader in the app; the CRM itself by default).
        self._names = names if names is not None else crm.client_names
        self._name_index: _NameIndex | None = None
        self.kb = kb
        self.clock = clock
        self._entitlements: dict[str, tuple[Entitlement, ...]] = {}
        self._lock = threading.Lock()

    def find(self, staff: Staff, query: str, *, limit: int = 10) -> list[Client]:
        query = query.strip()
        if not query:
            raise ServiceError("用法：/client 客户姓名、拼音或客户号，例如 /client 张伟")
        found = crm_call(lambda: self.crm.search_clients(actor=staff.code, query=query, limit=limit))
        if found and self.audit is not None:  # a list of clients is client data too; fails closed
            self.audit.append(
                kind="client_search",
                actor=staff.code,
                ref=found[0].client_id,
                payload={"query": mask_personal_numbers(query), "results": [c.client_id for c in found]},
            )
        return found

    def view(self, staff: Staff, client_id: str) -> ClientView:
        today = self.clock.today()
        card = crm_call(lambda: self.crm.client_card(actor=staff.code, client_id=client_id, today=today))
        if self.audit is not None:  # fails closed: a card whose reading cannot be audited is not shown
            self.audit.append(kind="client_read", actor=staff.code, ref=client_id, payload={"what": "card"})
        try:
            entitlements = self.tier_entitlements(str(card.client.tier))
        except Exception:  # the card is still useful without the entitlement table
            logger.exception("entitlement lookup failed for tier %s", card.client.tier)
            entitlements = ()
        return ClientView(card=card, entitlements=entitlements, today=today)

    def get(self, staff: Staff, client_id: str) -> Client:
        return crm_call(lambda: self.crm.get_client(actor=staff.code, client_id=client_id))

    def resolve(self, staff: Staff, query: str) -> Resolution:
        """Match a name / pinyin / client id (or a picked "姓名 (客户号)") to one client or candidates."""
        query = query.strip()
        picked = _CLIENT_CHOICE.search(query)
        if picked:
            query = picked.group(1)
        clients = self.find(staff, query)
        if not clients:
            raise ServiceError(f"没有找到客户“{query}”，请检查姓名、拼音或客户号。")
        exact = [c for c in clients if query.upper() == c.client_id.upper()]
        exact = exact or [
            c for c in clients if query in (c.name, c.pinyin) or query.lower() == c.pinyin.lower()
        ]
        if len(exact) == 1:
            return Resolution(client=exact[0])
        if len(clients) == 1:
            return Resolution(client=clients[0])
        return Resolution(candidates=tuple(exact or clients))

    def tier_entitlements(self, tier: str) -> tuple[Entitlement, ...]:
        """The entitlement-table rows of a tier, from the knowledge base's rule tables (cached until
        `forget_knowledge`)."""
        cached = self._entitlements.get(tier)
        if cached is not None:
            return cached
        if self.kb is None:  # opened without the knowledge base (e.g. the message check's CLI)
            return ()
        rows = tuple(self.kb.entitlements(tier))
        with self._lock:
            self._entitlements[tier] = rows
        return rows

    def forget_knowledge(self) -> None:
        """Drop cached extracts (the knowledge base changed)."""
        self._entitlements.clear()

    def mentioned_clients(self, staff: Staff, question: str) -> tuple[Client, ...]:
        """The staff member's own clients a question names, wherever the name stands ("张伟手术住院安排
        有几次", "帮欧阳静怡问下专家号"): the longest name that is one of theirs wins (张伟明 over 张伟);
        none when it names nobody in scope, several when the name is shared (the RM picks)."""
        if not roles.sees_client_data(staff):
            return ()
        try:
            names = self._names()
            index = self._name_index
            if index is None or index.source is not names:
                index = self._name_index = _NameIndex(names)
            for group in index.found_in(question):
                mine = [c for name in group for c in self._named(staff, name)]
                if mine:
                    return tuple({c.client_id: c for c in mine}.values())
        except Exception:  # the question is still answered, by the general rule
            logger.warning("client lookup for a question failed", exc_info=True)
        return ()

    def _named(self, staff: Staff, name: str) -> list[Client]:
        found = self.crm.search_clients(actor=staff.code, query=name, limit=MENTION_SEARCH_LIMIT)
        return [c for c in found if c.name.lower() == name.lower()]


#: Clients read per name found in a question (exact names sort first in the CRM's search).
MENTION_SEARCH_LIMIT = 20
#: Names looked up in the CRM per question at most (a long question may contain many).
MAX_MENTION_LOOKUPS = 12


class _NameIndex:
    """Client names by folded form, for finding them in a question (immutable once built)."""

    __slots__ = ("_lengths", "_names", "source")

    def __init__(self, source: Iterable[str]) -> None:
        self.source = source
        names: dict[str, str] = {}
        for name in source:
            name = name.strip()
            if len(name) >= MIN_MENTION_CHARS and name not in _NOT_NAMES:
                names.setdefault(name.lower(), name)
        self._names = names
        self._lengths = tuple(sorted({len(n) for n in names}, reverse=True))

    def found_in(self, question: str) -> list[list[str]]:
        """The names occurring anywhere in `question`, grouped by length, longest first."""
        text = question.lower()
        if len(text) != len(question):
            text = question
        found: dict[int, dict[str, None]] = {}
        for i in range(len(text)):
            for size in self._lengths:
                name = self._names.get(text[i : i + size])
                if name is not None and not _inside_word(text, i, i + size):
                    found.setdefault(size, {})[name] = None
        groups: list[list[str]] = []
        budget = MAX_MENTION_LOOKUPS
        for size in sorted(found, reverse=True):
            group = list(found[size])[:budget]
            budget -= len(group)
            groups.append(group)
            if budget <= 0:
                break
        return groups


def _inside_word(text: str, start: int, end: int) -> bool:
    """A latin name ("Li") inside a longer latin word ("policy") is not that name."""
    return (start > 0 and _latin(text[start - 1]) and _latin(text[start])) or (
        end < len(text) and _latin(text[end]) and _latin(text[end - 1])
    )


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def client_facts(client: Client) -> ClientFacts:
    from knowledge import ClientFacts

    return ClientFacts(name=client.name, tier=str(client.tier), aum=client.aum)


# --- handlers -----------------------------------------------------------------------------------
def client(svc: ClientService, req: Request) -> Reply:
    """Find a client by name, pinyin or id and show the card (or a pick list)."""
    matches = svc.find(req.staff, req.args)
    if len(matches) == 1:
        return Reply(render_card(svc.view(req.staff, matches[0].client_id)))
    return render_matches(matches)


def client_pick(svc: ClientService, req: Request) -> Reply:
    """Show the card of the client picked from a list (button data: the client id)."""
    return Reply(render_card(svc.view(req.staff, req.args)))


# --- renderers ----------------------------------------------------------------------------------
def _label(c: Client) -> str:
    return f"{c.name}（{c.pinyin}，{c.tier}，{c.client_id}）"


def render_matches(clients: Sequence[Client], *, prefix: str = "client", prompt: str = "请选择：") -> Reply:
    """A pick list (one button per client)."""
    if not clients:
        return Reply("没有找到匹配的客户。")
    lines = [f"找到 {len(clients)} 位客户，{prompt}"]
    lines += [f"• {esc(c.name)}（{esc(c.pinyin)}，{esc(c.tier)}，{esc(c.client_id)}）" for c in clients]
    keyboard = tuple((Button(_label(c), f"{prefix}:{c.client_id}"),) for c in clients)
    return Reply("\n".join(lines), keyboard, choose=True)


def render_card(view: ClientView) -> str:
    card = view.card
    c = card.client
    lines = [
        f"👤 <b>{esc(c.name)}</b>（{esc(c.client_id)}）",
        f"等级：<b>{esc(c.tier)}</b>　资产规模：{esc(c.aum_band)}",
        f"风险等级：{esc(c.risk_level)} {esc(c.risk_name)}（{_assessment(c, view.today)}）",
        f"反洗钱风险：{esc(c.aml_risk)}　" + ("<b>⚠️ 政治公众人物（PEP）：是</b>" if c.pep else "PEP：否"),
        f"KYC 复核到期：{_kyc_due(c, view.today)}",
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
        day = card.last_contact_day or last.occurred_at.date()
        lines.append(
            f"最近联系：{esc(f'{day:%Y-%m-%d}')} {esc(last.channel)}"
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
    if view.entitlements:
        titles = "、".join(dict.fromkeys(f"《{e.cite.title}》" for e in view.entitlements))
        lines += ["", f"<b>{esc(c.tier)}客户权益</b>（{esc(titles)}）"]
        lines += [_entitlement_line(e, c) for e in view.entitlements]
    return "\n".join(lines)


def _assessment(c: Client, today: date | None) -> str:
    if c.risk_assessed_on is None:
        return "<b>⚠️ 无风险测评记录，推介产品前须先测评</b>"
    when = f"测评于 {c.risk_assessed_on:%Y-%m-%d}"
    if today is not None and assessment_expired(c.risk_assessed_on, today):
        return f"<b>⚠️ {when}，已超过有效期，须重新测评</b>"
    return when


def _kyc_due(c: Client, today: date | None) -> str:
    if c.kyc_review_due is None:
        return "未设定"
    shown = esc(fmt_date(c.kyc_review_due))
    if today is None:
        return shown
    days = (c.kyc_review_due - today).days
    if days < 0:
        return f"{shown} <b>⚠️ 已逾期 {-days} 天</b>"
    return f"{shown}，{'今天到期' if days == 0 else f'还有 {days} 天'}" + (" ⏰" if days <= 30 else "")


def _entitlement_line(e: Entitlement, c: Client) -> str:
    """One benefit: "• 专家挂号预约：每年5次", with its conditions; one the client's assets do not
    meet yet says so (the exact assets are never shown)."""
    conditions = [text for text in (e.asset_text, e.condition) if text]
    line = f"• {esc(e.benefit)}：{esc(e.value or '见权益说明')}"
    if conditions:
        line += f"（{esc('；'.join(conditions))}）"
    if e.asset is not None and not e.asset.contains(c.aum):
        line += " — 未达资产条件"
    return line
