"""Deterministic demo data: staff, clients, a history of contact records and a product catalogue.

Uses only the public `CRMAdapter` methods, so it works against any implementation. Idempotent: staff
are upserted, clients carry fixed ids (C0001...) and are updated on a second run, contact records carry
idempotency keys (``demo:<client>:<n>``). Dates are relative to `today` (birthdays in the next week,
overdue follow-ups), so a run on another day refreshes birthdays but never duplicates anything.
Products come from `demo_products.csv` (a few per risk level R1–R5; also a sample for
`crm import-products`). Most clients have a risk assessment within the year, some a stale or no one.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from importlib import resources

from crm_adapter.errors import InvalidInput
from crm_adapter.models import Channel, NewContact, Role, Staff, tier_for_aum
from crm_adapter.port import CRMAdapter, OnInsert

logger = logging.getLogger(__name__)

ADMIN_CODE = "ADM01"

DEMO_STAFF: tuple[Staff, ...] = (
    Staff(code="RM001", name="王敏", role=Role.RM, team="A"),
    Staff(code="RM002", name="李强", role=Role.RM, team="A"),
    Staff(code="RM003", name="刘洋", role=Role.RM, team="B"),
    Staff(code="SUP01", name="陈静", role=Role.SUPERVISOR, team="A"),
    Staff(code="SUP02", name="周涛", role=Role.SUPERVISOR, team="B"),
    Staff(code="TRN01", name="赵琳", role=Role.TRAINER),
    Staff(code="TRN02", name="孙悦", role=Role.TRAINER),  # a second pair of eyes for knowledge changes
    Staff(code="CMP01", name="周正", role=Role.COMPLIANCE),
    Staff(code=ADMIN_CODE, name="管理员", role=Role.ADMIN),
)
_RMS = ("RM001", "RM002", "RM003")

# Fixed first clients: homophones 张伟/章伟 (both "zhangwei"), a compound surname, a polyphonic surname.
_FIXED_NAMES = ("张伟", "章伟", "欧阳静怡", "曾志远", "李娜", "王建国")
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
_GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "志强",
    "晓东",
    "海燕",
    "国平",
    "文博",
    "子涵",
    "雨桐",
    "浩然",
    "思远",
    "嘉怡",
    "俊杰",
    "婉清",
    "明轩",
    "欣怡",
    "宇航",
    "梓萱",
    "振华",
    "慧敏",
    "一鸣",
    "书瑶",
    "天佑",
    "晨曦",
    "若曦",
    "立新",
]
_PREFERENCES = (
    "偏好稳健型固收产品，关注银行理财到期再投资",
    "关注权益类基金，可接受中等波动，定投沪深300指数基金",
    "重视资产传承，咨询过家族信托与大额保单",
    "偏好美元资产配置，关注QDII基金与境外债券",
    "关注私募股权与另类投资，单笔投资规模较大",
    "以流动性为先，主要配置现金管理类产品",
    "关注养老规划，考虑个人养老金账户与年金险",
    "对黄金和大宗商品配置感兴趣",
)
_FAMILY = (
    "已婚，育有一子，在英国读大学",
    "已婚，育有一女一子，父母同住",
    "单身，自主创业（制造业）",
    "已婚，配偶为企业高管，孩子上国际学校",
    "离异，育有一女，关注子女教育金",
    "已婚，子女已成家，关注养老与传承",
)
_NOTES = (
    "喜欢电话沟通，工作日晚上七点后方便",
    "每季度约一次面谈，重视资产配置报告",
    "对费率较敏感，需提前说明产品费用",
    "偏好微信沟通，注意不要在周末打扰",
    "企业主，年底资金需求较大",
    "",
)
_TOPICS = ("理财到期", "基金定投", "保险配置", "家族信托", "子女教育", "税务筹划", "养老规划", "资产配置复盘")
_SUMMARIES = {
    Channel.PHONE: "电话沟通{topic}事宜，客户表示会考虑，约定下次详谈",
    Channel.MEETING: "在网点面谈，回顾近期持仓表现并讨论{topic}",
    Channel.WECHAT: "微信发送{topic}相关资料，客户已读并提出两个问题",
    Channel.SMS: "短信提醒{topic}相关时间节点",
    Channel.EMAIL: "邮件发送{topic}方案与季度资产配置报告",
    Channel.EVENT: "邀请客户参加财富沙龙（主题：{topic}），客户到场",
}
_AUM_CHOICES: tuple[tuple[int, int], ...] = (
    (2_000_000, 9_500_000),  # 潜在
    (10_000_000, 29_000_000),  # 黄金
    (30_000_000, 49_000_000),  # 白金
    (50_000_000, 300_000_000),  # 钻石
)


@dataclass(frozen=True, slots=True)
class DemoReport:
    staff: int
    clients_created: int
    clients_updated: int
    contacts: int
    products: int = 0


def _birthday(rng: random.Random, index: int, today: date) -> date:
    year = rng.randint(1950, 1995)
    if index % 7 == 0:  # every 7th client has a birthday within the next week
        anchor = today + timedelta(days=index % 8)
        try:
            return date(year, anchor.month, anchor.day)
        except ValueError:  # Feb 29 in a common year
            return date(year, 2, 28)
    return date(year, rng.randint(1, 12), rng.randint(1, 28))


def _client_rows(count: int, seed: int, today: date) -> list[dict[str, str | None]]:
    rng = random.Random(seed)
    used: set[str] = set()
    rows: list[dict[str, str | None]] = []
    for index in range(count):
        if index < len(_FIXED_NAMES):
            name = _FIXED_NAMES[index]
        else:
            name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
            while name in used:
                name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        used.add(name)
        low, high = _AUM_CHOICES[rng.choices(range(4), weights=(35, 35, 18, 12))[0]]
        aum = Decimal(rng.randrange(low, high, 10_000))
        rm_code = "RM001" if index < 2 else _RMS[index % len(_RMS)]
        kyc_due = today + timedelta(days=rng.randint(-30, 330))
        rows.append(
            {
                "client_id": f"C{index + 1:04d}",
                "name": name,
                "gender": rng.choice(("男", "女")),
                "birthday": _birthday(rng, index, today).isoformat(),
                "phone": f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
                "aum": str(aum),
                "tier": tier_for_aum(aum).value,
                "risk_level": f"C{rng.choices(range(1, 6), weights=(10, 25, 35, 20, 10))[0]}",
                "rm_code": rm_code,
                "preferences": rng.choice(_PREFERENCES),
                "family": rng.choice(_FAMILY),
                "notes": rng.choice(_NOTES),
                "kyc_review_due": kyc_due.isoformat(),
                "aml_risk": rng.choices(("低", "中", "高"), weights=(85, 12, 3))[0],
                "pep": "是" if rng.random() < 0.03 else "否",
                "risk_assessed_on": _risk_assessed_on(index, today),
            }
        )
    return rows


def _risk_assessed_on(index: int, today: date) -> str:
    # From the index, not the random stream: the other demo values stay as they were.
    if index % 11 == 4:
        return ""  # no assessment on record
    if index % 8 == 3:
        return (today - timedelta(days=400 + index * 5 % 200)).isoformat()  # older than 12 months
    return (today - timedelta(days=10 + index * 37 % 320)).isoformat()


def demo_product_rows() -> tuple[list[dict[str, str | None]], list[int]]:
    """The bundled demo catalogue (`demo_products.csv`) as import rows and their line numbers."""
    from crm_adapter.csv_import import read_products_csv

    with resources.as_file(resources.files("crm_adapter").joinpath("demo_products.csv")) as path:
        rows, lines, errors = read_products_csv(path)
    if errors:
        raise InvalidInput(f"演示产品数据有误：第 {errors[0][0]} 行 {errors[0][1]}")
    return rows, lines


def _contacts(row: dict[str, str | None], rng: random.Random, today: date) -> list[NewContact]:
    client_id = str(row["client_id"])
    number = int(client_id[1:])
    if number % 9 == 5:  # a few clients were never contacted: due now
        return []
    contacts: list[NewContact] = []
    days_ago = rng.randint(120, 200)
    for n in range(rng.randint(1, 5)):
        channel = rng.choice(list(Channel))
        topic = rng.choice(_TOPICS)
        occurred = datetime.combine(
            today - timedelta(days=days_ago), time(rng.randint(9, 17), rng.choice((0, 30)))
        )
        agreed: date | None = None
        if rng.random() < 0.4:
            agreed = occurred.date() + timedelta(days=rng.randint(7, 45))
        contacts.append(
            NewContact(
                client_id=client_id,
                channel=channel,
                summary=_SUMMARIES[channel].format(topic=topic),
                occurred_at=occurred,
                topics=(topic,),
                next_follow_up=agreed,
                source="demo",
                idempotency_key=f"demo:{client_id}:{n}",
            )
        )
        days_ago = max(1, days_ago - rng.randint(10, 60))
    return contacts


def seed_demo(
    crm: CRMAdapter,
    *,
    clients: int = 60,
    seed: int = 7,
    today: date | None = None,
    on_contact: OnInsert | None = None,
) -> DemoReport:
    """Create (or refresh) the demo staff, `clients` clients and their contact history (`on_contact`:
    run with each new contact record inside its transaction, e.g. the bot's audit append)."""
    if not 1 <= clients <= 9999:
        raise InvalidInput("演示客户数量应为 1–9999")
    day = today or date.today()
    for staff in DEMO_STAFF:
        crm.add_staff(staff=staff)
    rows = _client_rows(clients, seed, day)
    report = crm.import_clients(actor=ADMIN_CODE, rows=rows)
    if report.errors:
        raise InvalidInput(f"演示数据导入失败：{report.errors[0][1]}")
    product_rows, product_lines = demo_product_rows()
    products = crm.import_products(actor=ADMIN_CODE, rows=product_rows, line_numbers=product_lines)
    if products.errors:
        raise InvalidInput(f"演示产品导入失败：第 {products.errors[0][0]} 行 {products.errors[0][1]}")
    rng = random.Random(seed + 1)
    contacts = 0
    for row in rows:
        for contact in _contacts(row, rng, day):
            crm.create_contact(actor=str(row["rm_code"]), contact=contact, on_insert=on_contact)
            contacts += 1
    logger.info("demo data: %d clients (%d new), %d contact records", clients, report.created, contacts)
    return DemoReport(
        staff=len(DEMO_STAFF),
        clients_created=report.created,
        clients_updated=report.updated,
        contacts=contacts,
        products=products.created + products.updated,
    )


__all__ = ["ADMIN_CODE", "DEMO_STAFF", "DemoReport", "demo_product_rows", "seed_demo"]
