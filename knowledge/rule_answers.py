"""Stage 4a — compose from the rule book: questions that need a lookup or arithmetic.

"日均4000万算什么等级", "日均2000万能免费洗车吗", "白金客户专家号几次", "还差多少到钻石", "张伟能约几次专家号"
are answered by applying the rule tables (`knowledge.rules`) to the tier/amount/client of the question,
never by quoting the nearest sentence. Returns None when the rule book does not cover the question; the
retrieval path answers it then. The bank's documents define no tier standard (no tier table): questions
that need one ("日均4000万算什么等级", "多少资产算钻石") are answered not_stated, the tier being CRM data.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal

from knowledge import conditions, listing
from knowledge import question as q_mod
from knowledge.amounts import format_amount
from knowledge.entitlement_status import Status as _Status
from knowledge.entitlement_status import covers as _covers
from knowledge.entitlement_status import pick as _pick
from knowledge.entitlement_status import proposes_threshold as _proposes_threshold
from knowledge.entitlement_status import status as _status
from knowledge.entitlement_status import table_source as _table_source
from knowledge.entitlement_status import tables as _tables
from knowledge.entitlement_status import threshold_status as _threshold_status
from knowledge.entitlement_status import unstated_slot as _unstated_slot
from knowledge.lexicon import PB_TIERS, TIERS
from knowledge.question import MAX_CHARS, Question
from knowledge.rule_leads import Citations as _Citations
from knowledge.rule_leads import done as _done
from knowledge.rule_leads import proposed_threshold as _proposed_threshold
from knowledge.rule_leads import rule_sentence as _rule_sentence
from knowledge.rules import Entitlement, RuleBook, TierRule
from knowledge.types import Answer

logger = logging.getLogger(__name__)

CONFIRM = "请向分行私人银行部门确认"
NO_TIER_STANDARD = "资料未规定客户等级（钻石、白金、黄金客户）的资产标准"
NO_ENTRY_STANDARD = "资料未规定本行私人银行客户的准入门槛（资产标准）"
CRM_TIER = "客户等级以CRM系统中的记录为准"
#: A benefit named this fully ("免费洗车", "专家挂号") is what a yes/no question asks about.
_FULL_NAME = 4
# Slots an entitlement lookup answers; "where/when/who" questions go to the documents' text.
_ENTITLEMENT_SLOTS = (None, "count", "discount", "condition", "price", "threshold", "frequency")


def answer(q: Question, book: RuleBook) -> Answer | None:
    """The rule-book answer to `q`, or None when the rules do not cover it."""
    if not book:
        return None
    if q.kind in (q_mod.PROCEDURE, q_mod.DEFINITION) and q.slot is None:
        return None
    amount = q.subject_amount
    if q.slot == "gap" and amount is not None and (q.tiers or q.private_bank):
        return _gap(q, book, amount) if book.tiers else _no_tier_standard(q)
    matches = book.matching(q.text)
    # A benefit named in a question about someone (a tier, an amount, a client, 私行客户) or about a count,
    # discount, price or condition; "客户请我吃饭可以去吗" is about the RM's conduct, not an entitlement.
    # A yes/no question naming a benefit by its full name ("免费洗车能上门吗") or holding the card asks
    # about the benefit too, when the row settles it (entitlement_status.covers).
    named = q.kind == q_mod.YES_NO and bool(matches) and matches[0][1] >= _FULL_NAME and _covers(q, matches)
    subject = bool(q.subject_tier) or amount is not None or q.private_bank or named or "私行卡" in q.text
    if matches and q.slot in _ENTITLEMENT_SLOTS and (q.slot is not None or subject):
        if listing.wants_list(q.text[:MAX_CHARS]) and not listing.is_enumeration(_pick(q, matches).value):
            # "柜面哪些业务免手续费": the table row says 全部免收, the document's text names the items.
            return None
        return _entitlement(q, book, matches)
    if matches:
        return None
    if q.slot is None and len(q.tiers) == 2 and q.client is None and _COMPARES.search(q.text[:MAX_CHARS]):
        return _compare(q, book, q.tiers[0], q.tiers[1])
    if (
        q.slot is None
        and (q.subject_tier or amount is not None)
        and _ASKS_BENEFITS.search(q.text[:MAX_CHARS])
    ):
        return _benefits(q, book, amount)
    if q.slot == "tier" and amount is not None:
        return _tier_of(q, book, amount) if book.tiers else _no_tier_standard(q)
    if q.kind == q_mod.YES_NO and amount is not None and (len(q.tiers) == 1 or q.private_bank):
        return _tier_check(q, book, amount) if book.tiers else _no_tier_standard(q)
    if q.slot == "threshold" and not q.peer_bank and q.client is None:
        if len(q.tiers) == 1:
            rule = book.tier(q.tiers[0])
            return _tier_range(q, rule) if rule is not None else _no_tier_standard(q)
        if not q.tiers and any(w in q.text for w in ("准入", "门槛", "私人银行客户", "私行客户")):
            entry = book.entry_threshold()
            return _entry(q, entry) if entry is not None else _no_tier_standard(q)
    return None


def _no_tier_standard(q: Question) -> Answer:
    """A question that needs a tier standard the documents do not define: not stated (the client's tier,
    when known, is the CRM's record, never derived from an amount)."""
    crm = ""
    if q.client is not None and q.client.tier:
        crm = f"{q.client.name}在CRM系统中登记为{q.client.tier.removesuffix('客户')}客户。"
    if q.tiers or q.slot == "tier":
        missing = f"{NO_TIER_STANDARD}，无法按资产判断客户等级"
    else:
        missing = f"{NO_ENTRY_STANDARD}，无法按资产判断是否为私人银行客户"
    lead = (crm, f"{missing}；{CRM_TIER}，{CONFIRM}。")
    return Answer(
        question=q.text,
        lead=tuple(s for s in lead if s),
        citations=(),
        grounded=False,
        composer="rules",
        verdict="not_stated",
    )


_ASKS_BENEFITS = re.compile(
    r"(?:哪些|什么|啥)(?:权益|福利|待遇|增值服务)|享受(?:什么|哪些|啥)|有(?:哪些|什么|啥)(?:权益|福利|待遇)"
)


def _benefits(q: Question, book: RuleBook, amount: Decimal | None) -> Answer | None:
    """ "钻石客户有哪些权益" / "日均3500万能享受什么": every entitlement the tables give this client, one
    sentence (and one citation: the table) per table."""
    tier = q.subject_tier
    if tier is None and amount is not None:
        found = book.tier_of(amount)
        tier = found.tier if found else None
        if tier is None and not book.tiers:
            return _benefits_by_amount(q, book, amount)
    if tier is None:
        return None
    status = {e.benefit: _status(e, tier, amount, book).verdict for e in book.entitlements}
    # Rules with an asset condition the tier alone does not settle (no tier standard) are listed apart.
    shown = ("yes", "depends") if amount is None else ("yes",)
    by_table = _tables([e for e in book.entitlements if status[e.benefit] in shown])
    prefix = _subject(q, tier, used_amount=amount is not None) or (
        f"日均{format_amount(amount)}（{tier}客户）：" if amount is not None else f"{tier}客户："
    )
    cites = _Citations()
    entry = book.entry_threshold()
    if not by_table and tier not in PB_TIERS and entry is not None:
        n = cites.n(entry.cite)
        return _done(
            q,
            [
                f"{prefix}尚未达到私人银行准入门槛（日均{format_amount(entry.range.low)}），"
                f"本行私人银行客户的权益不适用。[{n}]"
            ],
            cites,
            None,
        )
    lead: list[str] = []
    for rows in by_table:
        n = cites.n(_table_source(rows))
        items = "；".join(
            e.benefit if e.value in ("提供", "可享受") else f"{e.benefit}（{e.value}）"
            for e in rows
            if status[e.benefit] == "yes"
        )
        if items:
            lead.append(f"{prefix}按本行规定可享受{items}。[{n}]" if not lead else f"另可享受{items}。[{n}]")
        depends = "；".join(
            f"{e.benefit}（{e.asset_text}：{e.value}）" for e in rows if status[e.benefit] == "depends"
        )
        if depends:
            lead.append(f"按日均金融资产规定、取决于客户资产的权益：{depends}。[{n}]")
    return _done(q, lead, cites, None) if lead else None


def _benefits_by_amount(q: Question, book: RuleBook, amount: Decimal) -> Answer | None:
    """ "日均3500万能享受什么" without a tier standard: the rules whose asset condition the amount meets."""
    with_asset = [e for e in book.entitlements if e.asset is not None]
    if not with_asset:
        return None
    cites = _Citations()
    lead: list[str] = []
    for rows in _tables(with_asset):
        n = cites.n(_table_source(rows))
        items = "；".join(f"{e.benefit}（{e.value}）" for e in rows if amount >= e.asset.low)  # type: ignore[union-attr]
        if items:
            lead.append(f"日均{format_amount(amount)}满足资产条件的权益：{items}。[{n}]")
        else:
            lowest = min(format_amount(e.asset.low) for e in rows)  # type: ignore[union-attr]
            lead.append(f"日均{format_amount(amount)}未达到单项权益的资产条件（最低为{lowest}）。[{n}]")
    lead.append(f"其他权益按客户等级适用；{NO_TIER_STANDARD}，{CRM_TIER}。")
    return _done(q, lead, cites, None)


_COMPARES = re.compile(r"比.{0,8}多|区别|不同|差别|差异|独有|没有的")


def _compare(q: Question, book: RuleBook, first: str, second: str) -> Answer | None:
    """ "钻石客户比白金客户多了哪些服务": the entitlements one tier has and the other has not."""
    if first not in TIERS or second not in TIERS:
        return None
    cites = _Citations()
    lead: list[str] = []
    for a, b in ((first, second), (second, first)):
        only = [
            e
            for e in book.entitlements
            if _status(e, a, None, book).verdict == "yes" and _status(e, b, None, book).verdict != "yes"
        ]
        if only:
            tables = _tables(only)
            names = "、".join(e.benefit for rows in tables for e in rows)
            ns = "".join(f"[{cites.n(_table_source(rows))}]" for rows in tables)
            lead.append(f"{a}客户有、{b}客户没有（或资料未列明）的权益：{names}。{ns}")
    return _done(q, lead, cites, None) if lead else None


def _tier_check(q: Question, book: RuleBook, amount: Decimal) -> Answer | None:
    """ "日均5000万是钻石吗" / "800万算私行客户吗": yes or no, and the tier it is."""
    rule = book.tier_of(amount)
    target = book.tier(q.tiers[0]) if q.tiers else book.entry_threshold()
    if rule is None or target is None:
        return None
    cites = _Citations()
    n = cites.n(rule.cite)
    if q.tiers:
        yes = rule.tier == target.tier
        asked = f"{target.tier}客户"
    else:
        yes = rule.tier in PB_TIERS
        asked = "私人银行客户"
    where = f"{_whose(q)}日均{format_amount(amount)}在{rule.range.describe()}区间，为{rule.tier}客户。[{n}]"
    if yes:
        return _done(q, [f"是。{where}"], cites, "yes")
    m = cites.n(target.cite)
    need = f"{asked}需日均金融资产{format_amount(target.range.low)}及以上。[{m}]"
    return _done(q, [f"不是：{where}", need], cites, "no")


def _gap(q: Question, book: RuleBook, amount: Decimal) -> Answer | None:
    target = book.tier(q.tiers[-1]) if q.tiers else book.entry_threshold()
    if target is None:
        return None
    cites = _Citations()
    n = cites.n(target.cite)
    if amount >= target.range.low:
        first = f"已达到：{_whose(q)}日均{format_amount(amount)}已满足{target.tier}客户标准（{target.range.describe()}）。[{n}]"  # noqa: E501
    else:
        gap = target.range.low - amount
        first = (
            f"还差{format_amount(gap)}：{target.tier}客户需日均金融资产{format_amount(target.range.low)}及以上，"
            f"{_whose(q) or '目前'}日均{format_amount(amount)}。[{n}]"
        )
    return _done(q, [first], cites, None)


def _tier_of(q: Question, book: RuleBook, amount: Decimal) -> Answer | None:
    rule = book.tier_of(amount)
    if rule is None:
        return None
    cites = _Citations()
    n = cites.n(rule.cite)
    lead = [f"{rule.tier}客户（日均金融资产{rule.range.describe()}）。"]
    lead.append(
        f"{_whose(q)}日均{format_amount(amount)}在{rule.range.describe()}区间，按本行客户等级标准为{rule.tier}客户。[{n}]"
    )
    if rule.tier not in PB_TIERS:
        entry = book.entry_threshold()
        if entry is not None:
            m = cites.n(entry.cite)
            lead.append(f"尚未达到私人银行准入门槛（日均{format_amount(entry.range.low)}）。[{m}]")
    return _done(q, lead, cites, None)


def _tier_range(q: Question, rule: TierRule) -> Answer:
    cites = _Citations()
    n = cites.n(rule.cite)
    text = f"{rule.tier}客户的标准是日均金融资产{rule.range.describe(unit=True)}。[{n}]"
    return _done(q, [text], cites, None)


def _entry(q: Question, entry: TierRule) -> Answer:
    cites = _Citations()
    n = cites.n(entry.cite)
    text = (
        f"本行私人银行准入门槛为日均金融资产{format_amount(entry.range.low)}，"
        f"达到即可成为私人银行客户（{entry.tier}客户起）。[{n}]"
    )
    return _done(q, [text], cites, None)


def _whose(q: Question) -> str:
    """The client's name when the amount is the client's (the lead then says whose facts it used)."""
    return q.client.name if q.client is not None and q.client.aum is not None else ""


def _subject(q: Question, tier: str | None, used_amount: bool) -> str:
    """The prefix naming the client facts used ("张伟为钻石客户："), or ""."""
    c = q.client
    if c is None:
        return ""
    if used_amount and c.aum is not None:
        return f"{c.name}日均金融资产{format_amount(Decimal(c.aum))}（{tier or c.tier}客户）："
    return f"{c.name}为{(tier or c.tier).removesuffix('客户')}客户："


def _entitlement(q: Question, book: RuleBook, matches: list[tuple[Entitlement, int]]) -> Answer:
    e = _pick(q, matches)
    tier = q.subject_tier
    amount = q.subject_amount
    if tier is None and amount is not None:
        found = book.tier_of(amount)
        tier = found.tier if found else None
    st = _status(e, tier, amount, book)
    if amount is not None and q.kind == q_mod.YES_NO and _proposes_threshold(q):
        return _proposed_threshold(q, e, _threshold_status(e, amount), amount, [m for m, _ in matches])
    broken = conditions.violated(q.text[:MAX_CHARS], e.condition) if e.condition else None
    if st.verdict in ("yes", "depends") and broken is not None:
        # "用别家银行的信用卡付款也有折扣吗": the row's condition rules out the case the question names.
        st = _Status("no", f"{e.benefit}的条件是{e.condition}")
    elif st.verdict in ("yes", "depends") and (label := _unstated_slot(q, e)):
        st = _Status("uncounted", label)  # the row does not state what is asked
    cites = _Citations()
    n = cites.n(e.cite)
    prefix = _subject(q, tier, used_amount=e.asset is not None and amount is not None)
    who = (
        prefix.rstrip("：") if prefix else (f"日均{format_amount(amount)}的客户" if amount else f"{tier}客户")
    )
    lead: list[str]
    verdict: str | None
    if st.verdict == "yes":
        verdict = "yes"
        if q.kind == q_mod.YES_NO:
            yes = q_mod.yes_word(q)
            lead = [prefix + yes, _rule_sentence(e, n)]
            if st.reason:
                lead.append(st.reason + "。")
        else:
            # The value once: the rule sentence then only says whom it applies to.
            lead = [f"{prefix or who}可享受{e.benefit}：{e.value}。[{n}]", _rule_sentence(e, n, value=False)]
    elif st.verdict == "no":
        verdict = "no"
        lead = [f"{prefix}{q_mod.no_word(q)}：{st.reason}。[{n}]", _rule_sentence(e, n)]
        if not e.others.startswith("不享有") or "（" in e.others:
            lead.append(e.others.removeprefix("不享有").strip("（）") + "。")
    elif st.verdict == "uncounted":
        verdict = "not_stated"
        lead = [f"{prefix}资料未规定{e.benefit}的{st.reason}（规定为：{e.value}），{CONFIRM}。[{n}]"]
    elif st.verdict == "not_stated" and st.reason:
        verdict = "not_stated"
        lead = [f"{prefix}资料未规定{st.reason}，{CRM_TIER}，{CONFIRM}。", _rule_sentence(e, n)]
    elif st.verdict == "not_stated":
        verdict = "not_stated"
        lead = [
            f"{prefix}资料未规定{tier}客户的{e.benefit}（仅列明{e.who()}{e.value}），{CONFIRM}。[{n}]",
        ]
    else:
        verdict = None
        lead = [_rule_sentence(e, n)]
        if st.reason:
            lead.append(st.reason + "。")
    if verdict in ("no", "not_stated") or (verdict is None and q.kind == q_mod.YES_NO):
        # Related rules the client does get ("不能免费洗车，但洗车六折").
        for other, _ in matches:
            related = _status(other, tier, amount, book).verdict
            # Without a tier standard, an amount does not settle a rule of all private-bank clients.
            for_pb = tier is None and other.asset is None and set(other.tiers) >= set(PB_TIERS)
            if other is e or not (related == "yes" or (related == "not_stated" and for_pb)):
                continue
            m = cites.n(other.cite)
            condition = f"（{other.condition}）" if other.condition else ""
            who = "" if related == "yes" else "私人银行客户"
            lead.append(f"{who}可享受{other.benefit}{condition}：{other.value}。[{m}]")
            break
    return _done(q, [s for s in lead if s.strip("。")], cites, verdict)
