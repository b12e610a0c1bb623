"""Questions on the documents' topics that the documents do not settle (issue #17, round 2), each with
new questions written for the test: a detail of a known topic is "not stated" with the related rule (not a
refusal), a rule that describes the items asked for without naming them does not say which, a general
definition or another bank's method is not this bank's rule, and a list sentence adding to the one before
brings it along. Off-topic questions stay refused."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, unnamed
from knowledge.evidence import Evidence
from knowledge.question import understand, verdict_words
from knowledge.types import Answer

# --- on the topic of a passage, about a detail it does not give: not stated, quoting the rule


def test_detail_of_a_known_topic_is_not_stated_with_the_rule(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("拨96777订票要排队多久")
    assert answer.verdict == "not_stated" and not answer.grounded
    assert "96777" in answer.answer and "相关规定" in answer.answer


@pytest.mark.parametrize(
    "text",
    [
        "北京明天下雨吗",
        "给我讲个笑话",
        "过节去哪里玩好",
        "帮我写首关于春天的诗",
        # words a passage also uses (机票, 酒店, 股票): still not about the documents
        "帮我订一张去广州的机票",
        "楼下有什么好的酒店",
        "股票下周能涨吗",
    ],
)
def test_off_topic_questions_stay_refused(bundled: KnowledgeBase, text: str) -> None:
    answer = bundled.ask(text)
    assert not answer.grounded and answer.verdict is None


def test_conduct_question_with_a_space_before_the_ask(bundled: KnowledgeBase) -> None:
    # Words no document uses (同学, 打听) and one-character grammar words must not sink the question.
    answer = bundled.ask("同学打听某位客户的存款 我能透露给他吗")
    assert answer.grounded and answer.verdict == "no"


# --- a rule that describes the items asked for (指定的…) does not name them


def _evidence(text: str, sentence: str) -> Evidence:
    return Evidence(understand(text), True, True, ((sentence, 1),), ())


def _extractive(text: str, sentence: str) -> Answer:
    return Answer(text, (f"{sentence}[1]",), (), grounded=True, composer="extractive")


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("洗车可以去哪几家店", "客户可在本行合作的洗车门店免费洗车。"),
        ("年检找的是哪家机构", "年检由指定的第三方机构（检测机构）办理。"),
    ],
)
def test_described_items_are_not_named(text: str, sentence: str) -> None:
    revised = unnamed.revise(_extractive(text, sentence), _evidence(text, sentence))
    assert revised.verdict == "not_stated"
    assert "未写明具体是哪些" in revised.answer and sentence.rstrip("。") in revised.answer


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("洗车可以去哪几家店", "客户可在甲洗车店、乙洗车店免费洗车。"),  # names them
        ("洗车可以去哪几家店", "客户可在完美洗车店免费洗车。"),  # one, by name
        ("洗车一年几次", "客户可在指定的洗车店每年洗车12次。"),  # not a which-question
    ],
)
def test_named_items_or_other_questions_keep_the_answer(text: str, sentence: str) -> None:
    answer = _extractive(text, sentence)
    assert unnamed.revise(answer, _evidence(text, sentence)) is answer


def test_hospitals_on_the_bundled_rules(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("年度体检可以去哪些医院做")
    assert answer.verdict == "not_stated" and "三级甲等" in answer.answer


# --- a general definition or another bank's method is not this bank's rule


def test_industry_definition_is_not_our_standard(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("本行的高净值客户是按100万美元起算的吗")
    assert answer.verdict == "not_stated" and "不是本行制度" in answer.answer
    assert not answer.answer.startswith(("可以", "是"))


def test_definition_question_without_our_bank_keeps_the_definition(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("超高净值客户指的是多少资产以上的客户")
    assert answer.grounded and "1000万美元" in answer.answer


def test_peer_method_named_elsewhere_in_its_section(bundled: KnowledgeBase) -> None:
    # The bank is named in another sub-section of the method's section, not in the retrieved one.
    answer = bundled.ask("咱们的投顾流程是不是规定按四步法来")
    assert answer.verdict == "not_stated" and "招商银行" in answer.answer


# --- a list sentence that adds (还…) brings the sentence before it


def test_additive_list_sentence_brings_the_one_before(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("一名优秀的私人银行家需要具备哪些方面的能力")
    assert answer.grounded
    assert all(word in answer.answer for word in ("资产管理", "法律", "税务"))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("私行客户是按600万美元起算的吗", ("是", "不是")),
        ("日均800万算私行客户吗", ("是", "不是")),
        ("客户资料是不是可以带回家", ("可以", "不可以")),  # a modal asks permission
        ("客户能带朋友去贵宾厅吗", ("能", "不能")),
    ],
)
def test_a_definition_question_is_answered_with_shi(text: str, words: tuple[str, str]) -> None:
    assert verdict_words(understand(text)) == words
