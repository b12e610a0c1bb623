"""knowledge.numerals: one numeral parser for amounts and article numbers."""

from __future__ import annotations

import pytest

from knowledge.numerals import chinese_int


@pytest.mark.parametrize(
    ("text", "value"),
    [("十二", 12), ("一百零三", 103), ("一〇三", 103), ("3千5百", 3500), ("四千", 4000), ("１２", 12),
     ("2,000", 2000), ("二十", 20), ("两千", 2000)],
)  # fmt: skip
def test_numerals(text: str, value: int) -> None:
    assert chinese_int(text) == value


@pytest.mark.parametrize("text", ["", "万", "十二条", "abc", "3.5"])
def test_not_numerals(text: str) -> None:
    assert chinese_int(text) is None
