"""`mask_personal_numbers`: ID cards, mobiles and bank cards in every usual written form are masked;
amounts, dates, times and short numbers are not. Examples plus generated formats (hypothesis)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_adapter.masking import mask_bank_card, mask_id_card, mask_personal_numbers, mask_phone

_FULL_WIDTH = str.maketrans(
    {
        **{str(i): chr(0xFF10 + i) for i in range(10)},
        **{"X": "Ｘ", "-": "－", " ": "\u3000", "(": "（", ")": "）", "+": "＋", ".": "．"},
    }
)
_DIGITS = "0123456789"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ID cards: compact, with dashes or spaces between region / birth date / sequence, trailing X.
        ("身份证110101199003074518。", "身份证110101********4518。"),
        ("身份证110101-19900307-4518，", "身份证110101********4518，"),
        ("身份证 110101 19900307 4518", "身份证 110101********4518"),
        ("证件号11010519491231002X", "证件号110105********002X"),
        ("证件号11010519491231002x", "证件号110105********002x"),
        ("证件号１１０１０１１９９００３０７４５１Ｘ", "证件号110101********451X"),
        # Mobiles: full-width, dots, parentheses, dashes, spaces, country prefix.
        ("电话１３８１２３４５６７８", "电话138****5678"),
        ("电话138.1234.5678", "电话138****5678"),
        ("电话(138)1234-5678", "电话138****5678"),
        ("电话138-1234-5678", "电话138****5678"),
        ("电话 +86 138 1234 5678", "电话 +86 138****5678"),
        ("电话+8613812345678", "电话+86138****5678"),
        ("电话138－1234－5678", "电话138****5678"),
        # Bank cards: 16–19 digits, compact or grouped by spaces or dashes.
        ("卡号622202 1234567890123", "卡号6222***********0123"),
        ("卡号6222 0212 3456 7890 123", "卡号6222***********0123"),
        ("卡号6222-0212-3456-7890", "卡号6222********7890"),
        ("卡号6222021234567890", "卡号6222********7890"),
        ("卡号６２２２０２１２３４５６７８９０１２３", "卡号6222***********0123"),
        # Two numbers in one sentence, and a date right before a card.
        ("手机13812345678，卡号6222021234567890123", "手机138****5678，卡号6222***********0123"),
        ("2026-12-15 转入 6222 0212 3456 7890", "2026-12-15 转入 6222********7890"),
    ],
)
def test_formats_are_masked(text: str, expected: str) -> None:
    assert mask_personal_numbers(text) == expected
    assert mask_personal_numbers(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "客户资产5000万，追加3000万元",
        "认购 1,000,000 元，年化 3.85%",
        "到期日 2026-12-15，2026/12/15，2026年12月15日",
        "约在 10:30 或 14:05:33 见面",
        "日志 2026-12-02 20:56:48,123 INFO",
        "座机 010-12345678，分机 8021",
        "金额12345678元，订单号 20261215",
        "12812345678 不是手机号",
        "订单 123456789012345678901234",
        "房间 1203，第 3 期，共 12 人",
        "",
    ],
)
def test_ordinary_numbers_are_kept(text: str) -> None:
    assert mask_personal_numbers(text) == text


def test_field_maskers() -> None:
    assert mask_phone("１３８１２３４５６７８") == "138****5678"
    assert mask_id_card("110101199003074518") == "110101********4518"
    assert mask_bank_card("6222 0212 3456 7890 123") == "6222***********0123"


# ---------------------------------------------------------------------- generated formats
_chinese = st.text(alphabet="客户电话身份证号卡是的请核对，。：、（）", max_size=6)
_sep = st.sampled_from(["", " ", "-"])


@st.composite
def _id_card(draw: st.DrawFn) -> tuple[str, str, str]:
    """(digits, written form, expected mask) of an 18-character resident ID."""
    digits = draw(st.from_regex(r"[1-9][0-9]{16}", fullmatch=True)) + draw(
        st.sampled_from([*_DIGITS, "X", "x"])
    )
    sep = draw(_sep)
    written = f"{digits[:6]}{sep}{digits[6:14]}{sep}{digits[14:]}"
    return digits, written, f"{digits[:6]}********{digits[-4:]}"


@st.composite
def _mobile(draw: st.DrawFn) -> tuple[str, str, str]:
    digits = draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "+86-", "86", "0086 ", "(+86)"]))
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    head = f"({digits[:3]})" if draw(st.booleans()) else digits[:3]
    written = f"{prefix}{head}{sep}{digits[3:7]}{sep}{digits[7:]}"
    return digits, written, f"{prefix}{digits[:3]}****{digits[-4:]}"


@st.composite
def _bank_card(draw: st.DrawFn) -> tuple[str, str, str]:
    length = draw(st.integers(16, 19))
    digits = draw(st.from_regex(rf"[3-6][0-9]{{{length - 1}}}", fullmatch=True))
    sep = draw(st.sampled_from([" ", "-"]))
    if draw(st.booleans()):
        written = sep.join(digits[i : i + 4] for i in range(0, length, 4))  # 4-4-4-4(-3)
    elif draw(st.booleans()):
        written = f"{digits[:6]}{sep}{digits[6:]}"  # 6-13
    else:
        written = digits
    expected = mask_bank_card(digits)
    if length == 18 and written == digits:  # a bare 18-digit run reads as an ID card first
        expected = mask_id_card(digits)
    return digits, written, expected


@settings(max_examples=300, deadline=None)
@given(
    number=st.one_of(_id_card(), _mobile(), _bank_card()),
    full_width=st.booleans(),
    before=_chinese,
    after=_chinese,
)
def test_generated_numbers_leave_no_run_of_their_digits(
    number: tuple[str, str, str], full_width: bool, before: str, after: str
) -> None:
    digits, written, expected = number
    if full_width:  # the masked output is ASCII either way
        written = written.translate(_FULL_WIDTH)
    masked = mask_personal_numbers(f"{before}{written}{after}")
    assert masked == f"{before}{expected}{after}"
    # The visible edges are at most 6 characters (an ID's region code; "86" + "138" of a prefixed
    # mobile is 5): no longer run of the number's digits is left anywhere.
    assert max((len(run) for run in re.findall(r"[0-9Xx]+", masked)), default=0) <= 6
    assert digits not in re.sub(r"[^0-9Xx]", "", masked)
    assert mask_personal_numbers(masked) == masked


_amount = st.builds("{}{}".format, st.integers(1, 99_999), st.sampled_from(["万", "万元", "元", "%", "人"]))
_date = st.builds(
    lambda day, fmt: day.strftime(fmt),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    st.sampled_from(["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d"]),
)
_time = st.builds(lambda t, fmt: t.strftime(fmt), st.times(), st.sampled_from(["%H:%M", "%H:%M:%S"]))
_short = st.integers(0, 9_999_999).map(str)  # at most 7 digits


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(_amount, _date, _time, _short, _chinese), max_size=8))
def test_amounts_dates_times_and_short_numbers_are_kept(parts: list[str]) -> None:
    text = "，".join(parts)
    assert mask_personal_numbers(text) == text
