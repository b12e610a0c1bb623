"""Round 3 of issue #17, with new questions written for the test: a question asking for a value (how
long, how often, how many) that the lead sentence does not give (only 定期/及时) is not stated with the
closest rule quoted; a confirmation question hedged with 主要/一般 ("…主要看X是吗") gets 是 when the rule
states X; 主要/重要 are not the modal 要."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, listing
from knowledge.question import understand, verdict_words
from knowledge.unstated import is_filler


@pytest.mark.parametrize("text", ["客户资料一般要保留几年", "客户风险评估是一年做一次还是两年做一次"])
def test_a_value_the_rule_does_not_give_is_not_stated(bundled: KnowledgeBase, text: str) -> None:
    answer = bundled.ask(text)
    assert answer.verdict == "not_stated"
    assert "未规定具体" in answer.answer and "相关规定" in answer.answer


def test_a_count_of_branches_is_not_answered_by_a_24_hour_rule(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("私行中心全国一共是不是有30家")
    assert answer.verdict == "not_stated" and answer.verdict != "yes"


def test_a_value_the_rule_gives_is_still_answered(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("私人银行客户每年能免费体检几次")
    assert answer.verdict != "not_stated" and answer.grounded


def test_a_hedged_confirmation_gets_yes(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("客户长期投资需求主要看增值和保值是吗")
    assert answer.verdict == "yes" and answer.answer.startswith("是。")


def test_main_and_important_are_not_the_modal_yao() -> None:
    q = understand("短期需求主要看流动性对吗")
    assert q.modal == "" and not q.asks_requirement
    assert verdict_words(understand("长期需求主要看增值是吗")) == ("是", "不是")
    assert understand("开户需要带身份证吗").asks_requirement


def test_hedges_ask_nothing_of_their_own() -> None:
    assert is_filler("主要") and is_filler("一般")
    assert not is_filler("机油")


def test_a_restriction_the_rule_contradicts_is_answered_no(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("私行中心是不是只在工作日白天提供服务")
    assert answer.verdict == "no" and answer.answer.startswith("不是") and "24小时" in answer.answer


def test_hawking_in_public_is_selling(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("周末去商场门口摆摊推理财产品行吗")
    assert answer.verdict == "no" and answer.grounded


def test_separators_in_an_aside_are_not_the_sentences_items() -> None:
    assert listing.items("资料把甲列为课题（与乙、丙并列），没有写明具体要求。") == 1
    assert listing.items("要点包括：甲、乙、丙（丁、戊）。") == 3


def test_a_list_question_is_answered_by_the_list_not_by_an_aside(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("做反洗钱要重点关注哪几个方面")
    assert "黑名单监控" in answer.answer and "高风险国家或地区名单" in answer.answer
    assert answer.verdict != "not_stated"


def test_a_case_held_up_as_what_not_to_do_is_our_lesson(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("在地铁站里摆摊卖理财可以吗")
    assert answer.verdict == "no" and answer.grounded and "反面案例" in answer.answer
