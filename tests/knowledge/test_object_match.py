"""Issue #17 item 2: a yes/no lead is about the question's object. A lead quoting another value of the same
kind (6折 for a 9.9折 question) is replaced by the passage stating the asked value, its condition evaluated;
an amount the question proposes as a rule's condition is checked against the row's actual condition.
Unit tests on `knowledge.object_match`, then the bundled corpus end to end (precomputed vectors)."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, object_match, scope


def test_discounts_are_normalised() -> None:
    assert object_match.discounts("再享9.9折优惠，洗车六折，美容6 折") == {"9.9", "6"}
    assert object_match.discounts("没有折扣") == set()


@pytest.mark.parametrize(
    ("question", "rule", "conflicts"),
    [
        ("私行卡去洗车能打七折吗", "客户持本行私人银行卡到完美汽车行洗车，可享受六折优惠。", True),
        ("私行卡去洗车能打6折吗", "客户持本行私人银行卡到完美汽车行洗车，可享受六折优惠。", False),
        ("订机票是再打9.9折吗", "票款在原有折扣基础上再享9.9折优惠。", False),
    ],
)
def test_a_discount_the_rule_does_not_give(question: str, rule: str, conflicts: bool) -> None:
    assert (scope.conflict(question, rule) is not None) is conflicts, question


@pytest.mark.parametrize(
    "question", ["拿其他银行的卡买机票，还有9.9折吗", "客户用他行的卡付机票钱也能享受9.9折吗"]
)
def test_another_banks_card_for_the_ticket_discount(bundled: KnowledgeBase, question: str) -> None:
    answer = bundled.ask(question)
    assert answer.verdict == "no", answer.answer
    assert "本行信用卡" in answer.answer, answer.answer
    assert "思妍丽" not in answer.answer and "6折" not in answer.answer, answer.answer


def test_a_discount_other_than_the_rows(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("私行客户去完美汽车行洗车能打八折吗")
    assert answer.verdict == "no" and "六折" in answer.answer, answer.answer


@pytest.mark.parametrize(
    ("question", "verdict", "quoted"),
    [
        ("洗车打六折是不是得日均3000万以上才行", "no", "免费洗车"),  # the 3000万 is the free wash's
        ("4S店免费保养是不是要日均3000万才有", "no", "5000万"),  # the row's condition is another amount
        ("免费洗车是不是要日均3000万才有", "yes", "3000万"),
    ],
)
def test_a_proposed_threshold(bundled: KnowledgeBase, question: str, verdict: str, quoted: str) -> None:
    answer = bundled.ask(question)
    assert answer.verdict == verdict and quoted in answer.answer, answer.answer
    assert not answer.lead[0].startswith(("可以", "能")), answer.answer
