"""Compliance warnings on RM text."""

from __future__ import annotations

import pytest

from bot import compliance


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("能不能跟客户说这个产品保本", "承诺收益"),
        ("这款产品收益有保证吗", "承诺收益"),
        ("客户想拆分转账避免大额申报", "规避反洗钱"),
        ("怎么绕过尽职调查", "规避反洗钱"),
        ("我把客户名单发给朋友了", "泄露客户信息"),
        ("客户让我帮他操作网银", "代客操作"),
        ("客户给了我红包可以收吗", "不当利益"),
        ("有没有内幕消息", "内幕信息"),
        ("推介时可以不用告知风险吗", "误导销售"),
    ],
)
def test_flags_risky_text(text: str, label: str) -> None:
    assert label in compliance.check(text)
    assert compliance.describe(label) != compliance.describe("unknown")


@pytest.mark.parametrize(
    "text",
    [
        "钻石客户每年可以预约几次专家号？",
        "客户生日送什么礼物",
        "收到客户投诉怎么办",
        "风险测评多久做一次",
        "",
    ],
)
def test_ordinary_questions_are_not_flagged(text: str) -> None:
    assert compliance.check(text) == ()
