from __future__ import annotations

from decimal import Decimal

import pytest

from knowledge.amounts import AmountRange, format_amount, parse_amounts, parse_range

WAN = Decimal(10_000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("日均4000万是什么等级", [4000 * WAN]),
        ("四千万", [4000 * WAN]),
        ("3千5百万的客户", [3500 * WAN]),
        ("0.5亿", [5000 * WAN]),
        ("1个亿", [10000 * WAN]),
        ("2,000万元", [2000 * WAN]),
        ("一千二百万", [1200 * WAN]),
        ("800w", [800 * WAN]),
        ("每年5次", []),
        ("5000元年卡", [Decimal(5000)]),
    ],
)
def test_parse_amounts(text: str, expected: list[Decimal]) -> None:
    assert parse_amounts(text) == expected


def test_ranges_as_the_tier_table_writes_them() -> None:
    assert parse_range("≥ 5000万元") == AmountRange(5000 * WAN)
    assert parse_range("3000万元（含）至5000万元") == AmountRange(3000 * WAN, 5000 * WAN)
    assert parse_range("< 1000万元") == AmountRange(Decimal(0), 1000 * WAN)
    assert parse_range("日均金融资产3000万元以上") == AmountRange(3000 * WAN)  # 以上 includes the amount
    assert parse_range("无") is None
    white = AmountRange(3000 * WAN, 5000 * WAN)
    assert white.contains(3000 * WAN) and not white.contains(5000 * WAN)
    assert white.describe() == "3000万–5000万"


def test_format_amount() -> None:
    assert format_amount(4000 * WAN) == "4000万元"
    assert format_amount(Decimal(120_000_000)) == "1.2亿元"
    assert format_amount(Decimal(500)) == "500元"
