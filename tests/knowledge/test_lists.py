"""Issue #17 (answer side) item 2: 哪些/有啥/都有什么/包括什么 questions list every item of the matched
section (sub-headings, enumerations), not one. Bundled corpus with the real model."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, listing


@pytest.mark.parametrize(
    ("question", "items"),
    [
        ("机场贵宾服务都有啥", ("全程专人引领", "机票折扣", "提前办理登机牌", "客票优先候补")),  # testers'
        ("汽车维护服务包括什么", ("洗车六折", "免费洗车12次", "4S店免费保养")),
        ("健康医疗服务有哪些", ("年度免费体检", "专家挂号", "全程导医", "手术住院", "贵宾休息室", "短信")),
        ("丽人服务都有什么", ("美容院折扣", "美容年卡")),
    ],
)
def test_a_section_is_listed_whole(bundled: KnowledgeBase, question: str, items: tuple[str, ...]) -> None:
    answer = bundled.ask(question)
    assert answer.grounded, answer.answer
    missing = [i for i in items if i not in answer.answer]
    assert not missing, (missing, answer.answer)
    assert "共性增值权益共八类" not in answer.answer  # the topic is one item of that list, not its subject


@pytest.mark.parametrize("question", ["柜面哪些业务免手续费", "在柜面办哪些业务不收手续费"])
def test_a_table_row_does_not_hide_the_items(bundled: KnowledgeBase, question: str) -> None:
    answer = bundled.ask(question)  # the table row only says 全部免收手续费
    assert answer.grounded
    items = ("跨行转账汇款", "跨地区存取款", "ATM取现", "存款证明")
    assert all(i in answer.answer for i in items), answer.answer


def test_a_list_headed_by_the_topic_is_kept(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("私行的推广活动一共有哪些类型")
    assert "七类" in answer.answer and "荣誉奖励类" in answer.answer


def test_list_helpers() -> None:
    assert listing.head("私人银行业务推广活动可分为七类：荣誉奖励类、情感加深类") == "私人银行业务推广活动可"
    assert listing.asks_list("包括") and not listing.asks_list("汽车")
    assert listing.parent_of("专属机场贵宾服务 > 机票折扣") == "专属机场贵宾服务"
    assert listing.parent_of("权益总则") == ""


@pytest.mark.parametrize("question", ["开户反洗钱要查什么", "开户时反洗钱方面要注意哪些"])  # testers' first
def test_items_from_sibling_sections(bundled: KnowledgeBase, question: str) -> None:
    answer = bundled.ask(question)
    assert answer.grounded and "身份验证" in answer.answer and "黑名单" in answer.answer, answer.answer
