"""The product catalogue: validation of import rows and search ranking, shared by every adapter.

Pure functions, no database (`crm_adapter.product_store` is the SQL side). CSV columns:
``code,name,type,risk_level`` required, ``issuer,status`` optional (an absent column leaves the field
unchanged on re-import; a new product defaults to issuer "" and status "在售"). Re-importing a file
upserts by ``code``, so it never duplicates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from crm_adapter.errors import InvalidInput
from crm_adapter.models import PRODUCT_RISK_LEVELS, PRODUCT_STATUSES, Product
from crm_adapter.pinyin import normalize_text

logger = logging.getLogger(__name__)

PRODUCT_REQUIRED_COLUMNS: tuple[str, ...] = ("code", "name", "type", "risk_level")
PRODUCT_OPTIONAL_COLUMNS: tuple[str, ...] = ("issuer", "status")

MAX_PRODUCT_NAME_LEN = 100
MAX_TYPE_LEN = 20
MAX_ISSUER_LEN = 100

# Letters, digits, "_" and "-", starting with a letter or digit: product codes appear inside Chinese
# text ("推荐了PF2026001"), so they must not need quoting.
_CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{1,31}")
_RISK_RE = re.compile(r"R([1-5])")
_SEPARATORS = re.compile(r"[\s'’·-]+")
_LATIN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class ProductFields:
    """A validated import row; `optional` holds only the optional columns present in the file."""

    code: str
    name: str
    type: str
    risk_level: str
    optional: dict[str, str] = field(default_factory=dict)


def product_code(value: str) -> str:
    code = (value or "").strip().upper()
    if not code:
        raise InvalidInput("产品代码不能为空")
    if not _CODE_RE.fullmatch(code):
        raise InvalidInput(f"产品代码格式无效：{value!r}（字母、数字、下划线或连字符，2–32 位）")
    return code


def product_risk(value: str) -> str:
    """Product risk level: "R3", "r3", "R3（中风险）" or the Chinese name "中风险" → "R3"."""
    text = normalize_text(value or "").upper()
    found = _RISK_RE.match(text)
    if found and (len(text) == 2 or not text[2].isdigit()):
        return f"R{found.group(1)}"
    for code, name in PRODUCT_RISK_LEVELS.items():
        if text == name:
            return code
    raise InvalidInput(f"产品风险等级无效：{value!r}（应为 R1–R5）")


def _text(value: str | None, *, what: str, max_len: int, required: bool) -> str:
    text = normalize_text(value or "")
    if required and not text:
        raise InvalidInput(f"{what}不能为空")
    if len(text) > max_len:
        raise InvalidInput(f"{what}过长（最多 {max_len} 个字符）")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise InvalidInput(f"{what}包含不可见的控制字符")
    return text


def product_status(value: str | None) -> str:
    text = normalize_text(value or "")
    if not text:
        return PRODUCT_STATUSES[0]
    if text not in PRODUCT_STATUSES:
        raise InvalidInput(f"产品状态无效：{value!r}（可选：{'、'.join(PRODUCT_STATUSES)}）")
    return text


def product_row(row: Mapping[str, str | None]) -> ProductFields:
    """Validate one import row (column → text); raises `InvalidInput` with one Chinese reason."""
    optional: dict[str, str] = {}
    if "issuer" in row:
        optional["issuer"] = _text(row.get("issuer"), what="发行机构", max_len=MAX_ISSUER_LEN, required=False)
    if "status" in row:
        optional["status"] = product_status(row.get("status"))
    return ProductFields(
        code=product_code(row.get("code") or ""),
        name=_text(row.get("name"), what="产品名称", max_len=MAX_PRODUCT_NAME_LEN, required=True),
        type=_text(row.get("type"), what="产品类型", max_len=MAX_TYPE_LEN, required=True),
        risk_level=product_risk(row.get("risk_level") or ""),
        optional=optional,
    )


def parse_rows(
    rows: Sequence[Mapping[str, str | None]], lines: Sequence[int]
) -> tuple[list[tuple[int, ProductFields]], list[tuple[int, str]]]:
    """Validate import rows: (line, fields) of the good ones and (line, reason) of the others; a code
    given twice is an error on its second line."""
    parsed: list[tuple[int, ProductFields]] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for line, raw in zip(lines, rows, strict=True):
        try:
            fields = product_row(raw)
            if fields.code in seen:
                raise InvalidInput(f"产品代码 {fields.code} 与第 {seen[fields.code]} 行重复")
            seen[fields.code] = line
        except InvalidInput as exc:
            errors.append((line, exc.message))
            continue
        parsed.append((line, fields))
    return parsed, errors


def latin_query(query: str) -> str | None:
    """Pinyin form of a latin query: "Xin Xiang" → "xinxiang"; digits stay, as in the stored keys
    ("鑫享1号" → "xx1h"). None when the query has other characters (then only names are matched)."""
    compact = _SEPARATORS.sub("", normalize_text(query).lower())
    return compact if _LATIN.fullmatch(compact) else None


def rank(products: Iterable[Product], query: str, *, limit: int) -> list[Product]:
    """Products matching `query`, best first: exact (code, name) > prefix (code, name, pinyin,
    initials) > substring (name, pinyin); ties by code. The same order for every adapter."""
    text = normalize_text(query)
    lowered, upper = text.lower(), text.upper()
    pinyin = latin_query(text)
    ranked: list[tuple[int, str, Product]] = []
    for p in products:
        name = p.name.lower()
        if p.code == upper or name == lowered:
            score = 0
        elif p.code.startswith(upper) or name.startswith(lowered):
            score = 1
        elif pinyin is not None and (p.pinyin.startswith(pinyin) or p.initials.startswith(pinyin)):
            score = 2
        elif lowered in name or (pinyin is not None and pinyin in p.pinyin):
            score = 3
        else:
            continue
        ranked.append((score, p.code, p))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [p for _, _, p in ranked[:limit]]


__all__ = [
    "MAX_PRODUCT_NAME_LEN",
    "PRODUCT_OPTIONAL_COLUMNS",
    "PRODUCT_REQUIRED_COLUMNS",
    "ProductFields",
    "latin_query",
    "product_code",
    "product_risk",
    "product_row",
    "product_status",
    "rank",
]
