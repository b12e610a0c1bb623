"""General causes of wrong answers found on the blind answer sets, each with new questions written for the
test (not the blind sets' own): a count against the rule's ceiling, a peer bank's case study presented as
our rule."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, counts
from knowledge.question import understand
from knowledge.types import Answer


def _ruled(text: str, lead: tuple[str, ...], verdict: str | None = "yes") -> Answer:
    return Answer(text, lead, (), grounded=True, composer="rules", verdict=verdict)


# --- a count above the rule's ceiling is a no, one within it a yes


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("客户一年能领4次年度礼品吗", "no"),
        ("这个权益一年可以用四回吗", "no"),
        ("客户已经用了3次了 还能用第4次吗", "no"),
        ("一年能用两次吗", "yes"),
    ],
)
def test_count_against_ceiling(text: str, verdict: str) -> None:
    answer = _ruled(text, ("能。", "按本行规定，某项权益适用于私人银行客户：每年3次。[1]"))
    revised = counts.revise(understand(text), answer)
    assert revised.verdict == verdict
    assert "3次" in revised.answer
    if verdict == "no":
        assert revised.answer.startswith(("不能", "不可以")) and "能。" not in revised.answer


def test_remaining_count_is_ceiling_minus_uses() -> None:
    text = "客户今年已经用了4次了 还能用几次"
    answer = _ruled(text, ("按本行规定，某项权益：每年6次。[1]",), verdict=None)
    assert "还可2次" in counts.revise(understand(text), answer).answer


def test_no_change_without_a_single_ceiling() -> None:
    text = "客户一年能用5次吗"
    two = _ruled(text, ("能。", "甲权益每年2次；乙权益每年6次。[1]"))
    assert counts.revise(understand(text), two) is two  # a list quotes two ceilings: nothing to compare
    monthly = _ruled("一个月能用5次吗", ("能。", "某项权益每年6次。[1]"))
    assert counts.revise(understand("一个月能用5次吗"), monthly) is monthly


def test_count_question_on_the_bundled_rules(bundled: KnowledgeBase) -> None:
    over = bundled.ask("钻石客户的导医服务一年能用九次吗")
    assert over.verdict == "no" and "5次" in over.answer
    within = bundled.ask("钻石客户的导医服务一年能用两次吗")
    assert within.verdict == "yes"


# --- a peer bank's case study does not settle our own rule


@pytest.mark.parametrize(
    ("text", "bank"),
    [
        ("咱行的私人银行中心是不是已经开了24家", "招商"),
        ("咱们的投资顾问团队是在全球范围招募的吧", "招商"),
        ("我们行获得过中国最佳客户关系管理奖吗", "中信"),
    ],
)
def test_case_study_is_not_our_rule(bundled: KnowledgeBase, text: str, bank: str) -> None:
    answer = bundled.ask(text)
    assert answer.verdict == "not_stated"
    assert bank in answer.answer and "不是本行制度" in answer.answer


def test_question_about_the_peer_bank_keeps_its_answer(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("招商银行有几家私人银行中心")
    assert answer.grounded and answer.verdict != "not_stated" and "招商银行" in answer.answer


def test_count_is_not_part_of_the_action() -> None:
    assert understand("年度礼品一年能领三回吗").action == "领"
    assert understand("客户能领礼品吗").action == "领礼品"


def test_count_question_the_action_search_would_refuse(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("客户的免费体检一年能做三回吗")
    assert answer.grounded and answer.verdict == "no" and "1次" in answer.answer


# --- a confirmation question gets the yes the unrestricted rule gives, and nothing the rule does not state


def test_confirmation_of_a_stated_rule_is_yes() -> None:
    from knowledge import confirm

    text = "私行客户的生日短信是免费发的吧"
    answer = _ruled(text, ("按本行规定，生日短信适用于私人银行客户：免费。[1]",), verdict=None)
    revised = confirm.revise(understand(text), answer, None)
    assert revised.verdict == "yes" and "免费" in revised.answer


@pytest.mark.parametrize(
    ("text", "lead"),
    [
        # the rule restricts the case
        ("客户的贵宾厅是不是随便用", "按本行规定，贵宾厅仅限钻石客户使用。[1]"),
        # the question asks a price the rule does not give
        ("出国游的费用要客户自己出吗", "按本行规定，旅游定制适用于私人银行客户：按需定制路线。[1]"),
        # a wh-question is not a confirmation
        ("生日短信是哪天发的吗", "按本行规定，生日短信适用于私人银行客户：免费。[1]"),
    ],
)
def test_confirmation_needs_an_unrestricted_matching_rule(text: str, lead: str) -> None:
    from knowledge import confirm

    answer = _ruled(text, (lead,), verdict=None)
    assert confirm.revise(understand(text), answer, None).verdict is None


def test_confirmation_on_the_bundled_rules(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("私行客户去柜面开存款证明不收手续费吧")
    assert answer.verdict == "yes" and "手续费" in answer.answer


# --- a detail no document mentions is not stated, even when a neighbouring rule is found


@pytest.mark.parametrize(
    "text", ["4S店基础保养包括换轮胎吗", "免费体检能做核磁共振吗", "洗车的时候能顺便给宠物洗澡吗"]
)
def test_detail_no_document_mentions_is_not_stated(bundled: KnowledgeBase, text: str) -> None:
    answer = bundled.ask(text)
    assert answer.verdict == "not_stated" and not answer.grounded


@pytest.mark.parametrize("text", ["赠书服务这块都送些什么", "贵宾休息室是不是随便用"])
def test_colloquial_words_do_not_make_a_question_unstated(bundled: KnowledgeBase, text: str) -> None:
    answer = bundled.ask(text)
    assert answer.grounded and answer.verdict != "not_stated"


def test_confirmation_with_a_colloquial_filler(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("贵宾休息室是不是随便进 不限次数")
    assert answer.verdict == "yes" and "不限" in answer.answer


def test_confirmation_not_given_when_the_rule_lacks_a_content_word(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("免费体检是不是还包括核磁共振")
    assert answer.verdict != "yes"
