"""Pure parts: tiers, masking, pinyin keys, date rules, validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from crm_adapter.errors import InvalidInput
from crm_adapter.masking import mask_bank_card, mask_id_card, mask_personal_numbers, mask_phone
from crm_adapter.models import Client, Tier, aum_band, tier_for_aum
from crm_adapter.pinyin import escape_like, name_terms, pinyin_keys, pinyin_query, prefix_upper_bound
from crm_adapter.schedule import follow_up_due, mmdd_window, next_birthday
from crm_adapter.validation import aum, parse_date, phone, risk_level


@pytest.mark.parametrize(
    ("amount", "tier"),
    [
        (0, Tier.POTENTIAL),
        (Decimal("9999999.99"), Tier.POTENTIAL),
        (10_000_000, Tier.GOLD),
        (Decimal("29999999.99"), Tier.GOLD),
        (30_000_000, Tier.PLATINUM),
        (49_999_999, Tier.PLATINUM),
        (50_000_000, Tier.DIAMOND),
        ("800000000", Tier.DIAMOND),
    ],
)
def test_tier_thresholds(amount: object, tier: Tier) -> None:
    assert tier_for_aum(amount) is tier  # type: ignore[arg-type]


def test_client_model_is_frozen_and_derives_display_fields() -> None:
    client = Client(
        client_id="C1", name="张伟", pinyin="zhangwei", phone="13812345678", aum=Decimal("35000000"),
        tier=Tier.PLATINUM, risk_level="C4", rm_code="RM001",
    )  # fmt: skip
    assert client.phone_masked == "138****5678"
    assert client.risk_name == "成长型"
    assert client.aum_band == "3000万-5000万"
    with pytest.raises(ValidationError):
        client.name = "李四"
    assert aum_band(Decimal("100")) == "600万以下"


def test_masks() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "138****5678"
    assert mask_phone(None) == ""
    assert mask_id_card("11010519491231002X") == "110105********002X"
    assert mask_bank_card("6222021234567890123") == "6222***********0123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证11010519491231002X。", "身份证110105********002X。"),
        ("身份证号 110105194912310021", "身份证号 110105********0021"),
        ("电话13812345678，微信同号", "电话138****5678，微信同号"),
        ("手机 +86 139 1234 5678", "手机 +86 139****5678"),
        ("卡号6222021234567890123", "卡号6222***********0123"),
        ("卡号 6222 0212 3456 7890", "卡号 6222********7890"),
        ("卡号6222021234567890", "卡号6222********7890"),
        ("金额12345678元，座机010-12345678", "金额12345678元，座机010-12345678"),
        ("订单 123456789012345678901234", "订单 123456789012345678901234"),
        ("12812345678 不是手机", "12812345678 不是手机"),
        ("", ""),
    ],
)
def test_mask_personal_numbers(text: str, expected: str) -> None:
    assert mask_personal_numbers(text) == expected


def test_pinyin_keys_and_terms() -> None:
    assert pinyin_keys("张伟") == pinyin_keys("章伟")
    assert (pinyin_keys("张伟").full, pinyin_keys("张伟").initials) == ("zhangwei", "zw")
    assert pinyin_keys("曾志远").full == "zengzhiyuan"
    assert pinyin_keys("欧阳娜娜").initials == "oynn"
    assert name_terms("张伟明") == {"张", "伟", "明", "张伟", "伟明", "张伟明"}
    assert pinyin_query("Zhang Wei") == "zhangwei" and pinyin_query("张伟") is None
    assert escape_like("50%_a\\") == "50\\%\\_a\\\\"
    assert prefix_upper_bound("zhang") == "zhanh"


def test_next_birthday_rules() -> None:
    assert next_birthday(date(1980, 2, 29), date(2027, 1, 1)) == date(2027, 2, 28)
    assert next_birthday(date(1980, 2, 29), date(2028, 1, 1)) == date(2028, 2, 29)
    assert next_birthday(date(1980, 2, 29), date(2027, 3, 1)) == date(2028, 2, 29)
    assert next_birthday(date(1990, 1, 2), date(2026, 12, 30)) == date(2027, 1, 2)
    assert next_birthday(date(1990, 12, 30), date(2026, 12, 30)) == date(2026, 12, 30)
    assert 229 in mmdd_window(date(2027, 2, 27), 1) and 229 not in mmdd_window(date(2028, 2, 27), 1)


def test_follow_up_due_rules() -> None:
    cadence = {Tier.DIAMOND: 14, Tier.PLATINUM: 30, Tier.GOLD: 60, Tier.POTENTIAL: 90}
    today = date(2026, 6, 15)
    assert follow_up_due(
        tier=Tier.GOLD, last_contact_day=None, agreed_next=None, cadence=cadence, today=today
    ) == (
        today,
        "尚无联系记录",
    )
    due, reason = follow_up_due(
        tier=Tier.GOLD, last_contact_day=date(2026, 6, 1), agreed_next=None, cadence=cadence, today=today
    )
    assert (due, reason) == (date(2026, 7, 31), "按黄金客户60天节奏")
    due, reason = follow_up_due(
        tier=Tier.GOLD,
        last_contact_day=date(2026, 6, 1),
        agreed_next=date(2026, 6, 3),
        cadence=cadence,
        today=today,
    )
    assert (due, reason) == (date(2026, 6, 3), "约定回访")


def test_value_parsers() -> None:
    assert aum("1,200万") == Decimal("12000000.00")
    assert aum("0.5亿") == Decimal("50000000.00")
    assert phone("+86 138-1234-5678") == "13812345678"
    assert risk_level("c2") == "C2" and risk_level("进取型") == "C5"
    assert parse_date("2024/02/29", what="生日") == date(2024, 2, 29)
    for bad in ("2023-02-29", "2024-13-01", "yesterday", ""):
        with pytest.raises(InvalidInput):
            parse_date(bad, what="生日")
    for bad_aum in ("NaN", "Infinity", "-1", "1e20", "万"):
        with pytest.raises(InvalidInput):
            aum(bad_aum)
