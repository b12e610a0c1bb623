"""Blind-set causes of refusals and wrong verdicts, with sentences written for the test: a segmentation
leftover taken for the question's missing subject ("未提及：区带"), a question proposing unlimited uses or one
more use than the quota, and a scope check that read the lead's own met-condition sentence as a
restriction."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, counts, fragments, scope
from knowledge.entitlement_status import states_met
from knowledge.question import understand
from knowledge.types import Answer


def _never(word: str) -> bool:
    return False


# --- segmentation leftovers


@pytest.mark.parametrize(
    ("term", "question", "evidence", "word"),
    [
        # 区 belongs to 贵宾区 (a word the evidence spells out), 带 is left alone.
        ("区带", "到了贵宾区带客户去哪里", "客户可在三楼贵宾区内的休息室等候。", ""),
        # 不 + 限 is the dictionary word the evidence uses; 次 is left.
        ("限次", "茶歇是不是不限次", "客户享用茶歇不限次数。", ""),
        # A piece jieba guessed (not a dictionary word): 到位 is a dictionary word, 会 is left.
        ("位会", "工作没做到位会受什么处理", "违规的将视情节追责。", ""),
        # What is left when one side is given back is the term's own word.
        ("区接送", "贵宾区接送怎么约", "三楼贵宾区设有休息室。", "接送"),
    ],
)
def test_leftovers_give_back_borrowed_characters(term: str, question: str, evidence: str, word: str) -> None:
    assert fragments.own_word(term, question, evidence, _never) == word


@pytest.mark.parametrize(
    ("term", "question", "evidence"),
    [
        ("机油", "保养包括换机油吗", "客户每年可享受一次免费基础保养。"),  # 换机 is not in the evidence
        ("高铁", "从这里坐高铁要多久", "机场贵宾服务包括专人引领。"),
        ("朋友", "年卡能转送给朋友吗", "年卡限本人使用。"),
    ],
)
def test_real_words_stay(term: str, question: str, evidence: str) -> None:
    assert fragments.own_word(term, question, evidence, _never) == term


def test_documents_words_count_as_joins() -> None:
    assert fragments.own_word("家私", "首家私行中心在哪", "", lambda w: w == "私行") == ""


# --- unlimited uses, one use past the quota


def _answer(text: str, lead: tuple[str, ...], verdict: str | None = None) -> Answer:
    return Answer(text, lead, (), grounded=True, composer="extractive", verdict=verdict)


def test_unlimited_use_stated_by_the_rule_is_a_yes() -> None:
    text = "会客室是不是随便用 不限次"
    answer = _answer(text, ("私人银行客户使用行内会客室不限次数。[1]",))
    revised = counts.revise(understand(text), answer)
    assert revised.verdict == "yes" and revised.answer.startswith("是，不限次数。")


def test_unlimited_use_against_a_count_is_a_no_with_the_count() -> None:
    text = "免费擦鞋是无限次的吗"
    answer = _answer(text, ("达到条件的客户每年可享受免费擦鞋8次。[1]",))
    revised = counts.revise(understand(text), answer)
    assert revised.verdict == "no" and revised.answer.startswith("不是：每年最多8次。")
    assert "8次" in revised.answer


def test_unlimited_without_a_count_or_statement_is_unchanged() -> None:
    text = "会客室是不是不限次"
    answer = _answer(text, ("私人银行客户可以使用行内会客室。[1]",))
    assert counts.revise(understand(text), answer) is answer


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("客户今年体检已经约满3次了 还能再约吗", "no"),
        ("体检用过3次了还能再约吗", "no"),
        ("客户体检约了2次了 还能再约吗", "yes"),
    ],
)
def test_one_more_use_after_the_uses(text: str, verdict: str) -> None:
    answer = _answer(text, ("能。", "按本行规定，某体检权益：每年3次。[1]"), verdict="yes")
    revised = counts.revise(understand(text), answer)
    assert revised.verdict == verdict
    assert revised.answer.startswith("不能：每年最多3次" if verdict == "no" else "能。")


# --- scope: the lead's met condition is not a restriction


def test_met_condition_sentence_does_not_turn_a_yes_into_a_no() -> None:
    text = "李总日均8000万 茶室能免费用吗"
    met = "日均8000万元满足日均金融资产6000万元以上的条件。"
    answer = Answer(
        text,
        ("能。", "按本行规定，茶室使用适用于日均金融资产6000万元以上的客户：每年2次。[1]", met),
        (),
        grounded=True,
        composer="rules",
        verdict="yes",
    )
    assert states_met(met) and not states_met("客户须满足资产的条件。[1]")
    assert scope.revise(understand(text), answer) is answer


def test_a_person_is_not_a_kind_of_the_noun() -> None:
    rule = "日均6000万元以上的客户满足日均金融资产条件"
    assert scope.conflict("王总日均7000万 能用吗", rule) is None


# --- end to end on the bundled corpus, questions written for the test


def test_bundled_unlimited_and_counted(bundled: KnowledgeBase) -> None:
    lounge = bundled.ask("休息室是不是不限次用")
    assert lounge.verdict == "yes" and "不限次数" in lounge.answer
    wash = bundled.ask("免费洗车是不是不限次")
    assert wash.verdict == "no" and "12次" in wash.answer
    assert "未提及" not in wash.answer


def test_bundled_met_condition_stays_yes(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("李总日均8000万 4S店保养能免费做吗")
    assert answer.verdict == "yes" and answer.answer.startswith("能")


def test_bundled_unknown_detail_still_not_stated(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("4S店保养包括换机油吗")
    assert answer.verdict == "not_stated" and "机油" in answer.answer


def test_bundled_which_number_is_answered_by_a_numbered_sentence(bundled: KnowledgeBase) -> None:
    # "几号": of the 休息室 sentences, the one that gives a number (3号) answers.
    answer = bundled.ask("机场的贵宾休息室在几号")
    assert answer.grounded and "3号" in answer.answer
