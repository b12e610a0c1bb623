"""Input validation shared by every adapter operation and the CSV import. Raises `InvalidInput` with
Chinese messages; pure functions, no database."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_adapter.errors import InvalidInput
from crm_adapter.models import (
    AML_RISKS,
    CONTACT_SOURCES,
    RISK_LEVELS,
    Channel,
    NewContact,
    Role,
    Tier,
    tier_for_aum,
)
from crm_adapter.pinyin import normalize_text

logger = logging.getLogger(__name__)

MAX_NAME_LEN = 200
MAX_SUMMARY_LEN = 2000
MAX_TEXT_LEN = 2000
MAX_QUERY_LEN = 50
MAX_TOPICS = 10
MAX_TOPIC_LEN = 30
MAX_KEY_LEN = 128

_CODE_RE = re.compile(r"[A-Z0-9_-]{1,32}")
# Chinese (incl. extension A / compatibility), latin letters, the middle dots of transliterated names,
# spaces, hyphen, apostrophe and period ("O'Brien", "J. Smith"). No digits, emoji or SQL punctuation.
_NAME_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffA-Za-z·•・.'\- ]+")
_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
#: A contact may be logged up to this far in the future (clock skew between devices).
_FUTURE_TOLERANCE = timedelta(minutes=10)


# The zero-width joiner binds emoji sequences (👨‍👩‍👧); other format characters (bidi overrides) stay refused.
_ALLOWED_INVISIBLE = "\n\t\u200d"


def _control_free(value: str) -> bool:
    return not any(
        unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value if ch not in _ALLOWED_INVISIBLE
    )


def staff_code(value: str, *, what: str = "员工编号") -> str:
    code = (value or "").strip().upper()
    if not code:
        raise InvalidInput(f"{what}不能为空")
    if not _CODE_RE.fullmatch(code):
        raise InvalidInput(f"{what}格式无效：只能包含字母、数字、下划线和连字符，最长 32 位")
    return code


def client_id(value: str) -> str:
    return staff_code(value, what="客户编号")


def person_name(value: str, *, what: str = "姓名", max_len: int = MAX_NAME_LEN) -> str:
    name = normalize_text(value or "")
    if not name:
        raise InvalidInput(f"{what}不能为空")
    if len(name) > max_len:
        raise InvalidInput(f"{what}过长（最多 {max_len} 个字符）")
    if not _NAME_RE.fullmatch(name):
        raise InvalidInput(f"{what}包含不支持的字符（只允许中文、英文字母、空格和 · ' - .）")
    return name


def free_text(value: str | None, *, what: str, max_len: int = MAX_TEXT_LEN, required: bool = False) -> str:
    text = unicodedata.normalize("NFC", value or "").strip()
    if required and not text:
        raise InvalidInput(f"{what}不能为空")
    if len(text) > max_len:
        raise InvalidInput(f"{what}过长（最多 {max_len} 个字符）")
    if not _control_free(text):
        raise InvalidInput(f"{what}包含不可见的控制字符")
    return text


def search_query(value: str) -> str:
    query = normalize_text(value or "")
    if not query:
        raise InvalidInput("请输入搜索关键词")
    if len(query) > MAX_QUERY_LEN:
        raise InvalidInput(f"搜索关键词过长（最多 {MAX_QUERY_LEN} 个字符）")
    if not _control_free(query):
        raise InvalidInput("搜索关键词包含不可见的控制字符")
    return query


def line_numbers(rows: Sequence[object], given: Sequence[int] | None) -> list[int]:
    """The source line of each import row: as given, or 2, 3, ... (line 1 is the CSV header)."""
    lines = list(given) if given is not None else [i + 2 for i in range(len(rows))]
    if len(lines) != len(rows):
        raise InvalidInput("行号数量与数据行数不一致")
    return lines


def timezone(value: str | tzinfo | None) -> tzinfo:
    """The bank's time zone: a name, a tzinfo, or None for the machine's own."""
    if value is None:
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"未知时区：{value}") from None
    return value


def bounded_int(value: int, *, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what}应为 {low}–{high} 的整数")
    return value


def role(value: str | Role) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        names = "、".join(r.value for r in Role)
        raise InvalidInput(f"未知角色：{value}（可选：{names}）") from None


def team(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > 32 or not _control_free(text):
        raise InvalidInput("团队名称无效（最多 32 个字符）")
    return text


def telegram_id(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise InvalidInput("Telegram 用户 ID 无效")
    return value


def parse_date(value: str, *, what: str) -> date:
    text = (value or "").strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidInput(f"{what}日期无效：{text!r}（格式应为 YYYY-MM-DD）")


def phone(value: str | None) -> str | None:
    """Digits only; a leading +86/86 is dropped from mainland mobiles. Empty → None."""
    text = re.sub(r"[\s()（）-]", "", value or "")
    if not text:
        return None
    if text.startswith("+"):
        text = text[1:]
    if not text.isdigit() or not text.isascii():
        raise InvalidInput(f"电话号码无效：{value!r}")
    if len(text) == 13 and text.startswith("86") and _MOBILE_RE.fullmatch(text[2:]):
        text = text[2:]
    if not 5 <= len(text) <= 20:
        raise InvalidInput(f"电话号码长度无效：{value!r}")
    return text


def aum(value: str | Decimal | int) -> Decimal:
    """Yuan, ≥ 0, at most 2 decimals; accepts "12,000,000", "1200万", "1.5亿"."""
    if isinstance(value, Decimal | int):
        amount = Decimal(value)
    else:
        text = re.sub(r"[,，\s元¥￥]", "", value or "")
        factor = Decimal(1)
        if text.endswith("亿"):
            factor, text = Decimal(100_000_000), text[:-1]
        elif text.endswith("万"):
            factor, text = Decimal(10_000), text[:-1]
        if not text:
            raise InvalidInput("日均金融资产不能为空")
        try:
            amount = Decimal(text) * factor
        except InvalidOperation:
            raise InvalidInput(f"日均金融资产无效：{value!r}") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e15"):
        raise InvalidInput(f"日均金融资产无效：{value!r}")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"日均金融资产最多保留两位小数：{value!r}")
    return amount.quantize(Decimal("0.01"))


def risk_level(value: str) -> str:
    text = (value or "").strip().upper()
    if text in RISK_LEVELS:
        return text
    for code, name in RISK_LEVELS.items():
        if (value or "").strip() == name:
            return code
    raise InvalidInput(f"风险等级无效：{value!r}（应为 C1–C5）")


def tier(value: str) -> Tier:
    text = (value or "").strip()
    for candidate in Tier:
        if text in (candidate.value, candidate.name, candidate.name.lower()):
            return candidate
    raise InvalidInput(f"客户等级无效：{value!r}（应为 钻石/白金/黄金/潜在）")


def gender(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in ("男", "m", "male"):
        return "男"
    if text in ("女", "f", "female"):
        return "女"
    raise InvalidInput(f"性别无效：{value!r}（应为 男/女）")


def aml_risk(value: str | None) -> str:
    text = (value or "").strip() or "低"
    if text not in AML_RISKS:
        raise InvalidInput(f"反洗钱风险等级无效：{value!r}（应为 低/中/高）")
    return text


def boolean(value: str | bool | None, *, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = (value or "").strip().lower()
    if text in ("", "0", "否", "n", "no", "false"):
        return False
    if text in ("1", "是", "y", "yes", "true"):
        return True
    raise InvalidInput(f"{what}无效：{value!r}（应为 是/否）")


@dataclass(frozen=True, slots=True)
class ClientFields:
    """One validated import row. `present` lists the optional columns the row actually carried."""

    client_id: str | None
    name: str
    birthday: date | None
    phone: str | None
    aum: Decimal
    tier: Tier
    risk_level: str
    rm_code: str
    optional: Mapping[str, object]


REQUIRED_COLUMNS: tuple[str, ...] = ("name", "birthday", "phone", "aum", "risk_level", "rm_code")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "client_id",
    "gender",
    "tier",
    "preferences",
    "notes",
    "family",
    "kyc_review_due",
    "aml_risk",
    "pep",
    "risk_assessed_on",
)


def client_row(row: Mapping[str, str | None], *, today: date) -> ClientFields:
    """Validate one import row (column → text). Empty birthday/phone cells mean "unknown"."""

    def cell(key: str) -> str:
        return (row.get(key) or "").strip()

    name = person_name(cell("name"), what="客户姓名")
    birthday = parse_date(cell("birthday"), what="生日") if cell("birthday") else None
    if birthday is not None and (birthday > today or birthday.year < 1900):
        raise InvalidInput(f"生日不合理：{birthday.isoformat()}")
    amount = aum(cell("aum"))
    derived = tier_for_aum(amount)
    if cell("tier"):
        given = tier(cell("tier"))
        if given is not derived:
            # Tiers are derived from AUM in one place; a contradicting column signals bad source data.
            raise InvalidInput(f"客户等级「{given.value}」与日均金融资产对应的等级「{derived.value}」不符")
    optional: dict[str, object] = {}
    if "gender" in row:
        optional["gender"] = gender(row.get("gender"))
    for key, what in (("preferences", "投资偏好"), ("notes", "备注"), ("family", "家庭情况")):
        if key in row:
            optional[key] = free_text(row.get(key), what=what)
    if "kyc_review_due" in row:
        optional["kyc_review_due"] = (
            parse_date(cell("kyc_review_due"), what="KYC 复核") if cell("kyc_review_due") else None
        )
    if "aml_risk" in row:
        optional["aml_risk"] = aml_risk(row.get("aml_risk"))
    if "pep" in row:
        optional["pep"] = boolean(row.get("pep"), what="PEP 标记")
    if "risk_assessed_on" in row:
        assessed = parse_date(cell("risk_assessed_on"), what="风险测评") if cell("risk_assessed_on") else None
        if assessed is not None and (assessed > today or assessed.year < 2000):
            raise InvalidInput(f"风险测评日期不合理：{assessed.isoformat()}")
        optional["risk_assessed_on"] = assessed
    return ClientFields(
        client_id=client_id(cell("client_id")) if cell("client_id") else None,
        name=name,
        birthday=birthday,
        phone=phone(cell("phone")),
        aum=amount,
        tier=derived,
        risk_level=risk_level(cell("risk_level")),
        rm_code=staff_code(cell("rm_code"), what="客户经理编号"),
        optional=optional,
    )


def new_contact(contact: NewContact, *, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """The column values of a contact record to insert (without author and creation time).

    Naive datetimes are read in `tz`, which also decides the calendar day of the contact.
    """
    cid = client_id(contact.client_id)
    try:
        channel = Channel(contact.channel)
    except ValueError:
        raise InvalidInput(f"联系渠道无效：{contact.channel}") from None
    summary = free_text(contact.summary, what="联系摘要", max_len=MAX_SUMMARY_LEN, required=True)
    topics: list[str] = []
    for topic in contact.topics:
        cleaned = free_text(topic, what="话题标签", max_len=MAX_TOPIC_LEN)
        if cleaned and cleaned not in topics:
            topics.append(cleaned)
    if len(topics) > MAX_TOPICS:
        raise InvalidInput(f"话题标签最多 {MAX_TOPICS} 个")
    if contact.source not in CONTACT_SOURCES:
        raise InvalidInput(f"来源无效：{contact.source!r}（可选：{'/'.join(CONTACT_SOURCES)}）")
    occurred = contact.occurred_at or now
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=tz)
    occurred = occurred.astimezone(UTC)
    if occurred > now + _FUTURE_TOLERANCE:
        raise InvalidInput("联系时间不能晚于当前时间")
    if occurred.year < 2000:
        raise InvalidInput("联系时间无效（早于 2000 年）")
    if contact.next_follow_up is not None:
        contact_day = occurred.astimezone(tz).date()
        if contact.next_follow_up < contact_day:
            raise InvalidInput("下次回访日期不能早于联系日期")
        if contact.next_follow_up > contact_day + timedelta(days=3 * 366):
            raise InvalidInput("下次回访日期过远（最多三年内）")
    key = (contact.idempotency_key or "").strip() or None
    if key is not None and len(key) > MAX_KEY_LEN:
        raise InvalidInput(f"幂等键过长（最多 {MAX_KEY_LEN} 个字符）")
    return {
        "client_id": cid,
        "channel": channel.value,
        "occurred_at": occurred,
        "summary": summary,
        "topics": topics,
        "next_follow_up": contact.next_follow_up,
        "source": contact.source,
        "idempotency_key": key,
    }


__all__ = [
    "MAX_NAME_LEN",
    "MAX_QUERY_LEN",
    "MAX_SUMMARY_LEN",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ClientFields",
    "client_row",
    "new_contact",
]
