"""Issue #17 (answer side) item 3: leads that read well: the verdict word in the question's terms, no
sentence twice, units intact, no sentence starting mid-thought ("不宜：这一问题…")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from knowledge import KnowledgeBase
from knowledge import question as q
from knowledge.amounts import AmountRange
from knowledge.passages import answer_sentences


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("贵宾休息室有没有次数限制", ("有", "没有")),
        ("这个权益客户有吗", ("有", "没有")),
        ("是否有免费的保健短信", ("有", "没有")),
        ("能把客户名单转给朋友吗", ("能", "不能")),
        ("能否帮客户代签字", ("能", "不能")),
        ("可以收客户的购物卡吗", ("可以", "不可以")),
        ("需要给客户做风险测评吗", ("需要", "不需要")),
        ("会被处分吗", ("会", "不会")),
        ("客户有钱能免费洗车吗", ("能", "不能")),
    ],
)
def test_verdict_words_fit_the_question(text: str, words: tuple[str, str]) -> None:
    assert q.verdict_words(q.understand(text)) == words
    assert q.no_word(q.understand("要不要收客户的红包")) == "不可以"  # a refusal, not "not required"


def test_no_to_have_is_meiyou(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("日均2000万的客户有没有免费洗车")
    assert answer.verdict == "no" and answer.lead[0].startswith("没有："), answer.lead


def test_no_to_can_is_buneng(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("能把客户的资产状况透露给他的朋友吗")
    assert answer.verdict == "no" and answer.lead[0].startswith("不能："), answer.lead


def test_no_sentence_twice(bundled: KnowledgeBase) -> None:
    for question in ("钻石客户全程导医一年几次", "钻石客户手术住院安排一年能有几次"):
        answer = bundled.ask(question)
        assert answer.grounded
        sentences = [s for s in answer.answer.replace("[1]", "").split("。") if s]
        values = [s for s in sentences if "每年" in s]
        assert len(values) == 1, answer.answer  # the count is stated once


def test_units_stay_with_the_amount() -> None:
    assert AmountRange(Decimal(50_000_000)).describe(unit=True) == "5000万元及以上"
    assert AmountRange(Decimal(30_000_000), Decimal(50_000_000)).describe(unit=True) == "3000万元–5000万元"
    assert AmountRange(Decimal(0), Decimal(10_000_000)).describe(unit=True) == "低于1000万元"
    assert AmountRange(Decimal(50_000_000)).describe() == "5000万及以上"


def test_a_quoted_question_does_not_end_the_sentence() -> None:
    text = "课程提出“见面第一件事是推销产品吗？”这一问题，提醒客户经理先了解需求。后一句。"
    assert answer_sentences(text) == [
        "课程提出“见面第一件事是推销产品吗？”这一问题，提醒客户经理先了解需求。",
        "后一句。",
    ]
    assert answer_sentences("他问：“好吗？”。对！") == ["他问：“好吗？”。", "对！"]


def test_a_verdict_does_not_start_mid_thought(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("第一次见客户能直接推销产品吗")
    assert answer.verdict == "no"
    assert not answer.lead[0].startswith(("不宜：这一问题", "不能：这一问题")), answer.lead
