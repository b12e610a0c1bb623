"""Retrieval vocabulary and list answers: banker's words meet the documents' words (query expansion, the
same for `search` and `ask`), a named document is preferred, and list questions are answered with a list."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from knowledge import ClientFacts, KnowledgeBase, lexicon, listing, pipeline, polarity
from knowledge.manifest import StoredChunk
from tests.knowledge.conftest import FakeEmbeddings


def _chunk(heading: str, ord_: int, source: str = "s") -> StoredChunk:
    return StoredChunk(f"{source}{ord_}", source, ord_, "正文。", "t", heading, "c", ())


def test_expand_query_adds_document_words_and_caps_each_word() -> None:
    words = lexicon.expand_query(["营销短信", "告诉"])
    assert "商业性信息" in words and "告知" in words
    assert "泄露" in words  # the synonym the conduct rules use
    # 告诉's synonym group has 15 words: capped, so other words' groups still fit the expansion budget
    assert len([w for w in words if w in lexicon.synonyms("告诉")]) <= 1 + lexicon.PER_WORD
    assert lexicon.related("不存在的词") == ()


def test_list_fit_counts_semicolon_lists_and_announced_counts() -> None:
    assert listing.list_fit("措施包括：提示和警告；内部通报批评；降低绩效评估。") >= listing.FULL_LIST
    assert (
        listing.list_fit("权益共八类：旅游定制、健康医疗、汽车维护。") == listing.FULL_LIST + listing.COUNTED
    )
    assert listing.list_fit("银行应定期回访客户。") == 0.0


def test_sibling_sections_need_the_whole_counted_list() -> None:
    three = [_chunk("分类的三个维度 > 维度二：风险偏好", 2), _chunk("分类的三个维度 > 维度一：财富水平", 1)]
    assert listing.sibling_sections(three, ["维度"]) is None  # two of three: never passed off as the list
    three.append(_chunk("分类的三个维度 > 维度三：投资期限", 3))
    assert listing.sibling_sections(three, ["维度"]) == [1, 0, 2]  # in document order
    assert listing.sibling_sections(three, ["权益"]) is None  # the heading must name what is asked


def test_a_yes_must_name_the_object_asked_about() -> None:
    assert polarity.objects("给风险承受能力低的客户推荐高风险产品") == ("高风险", "产品")
    assert not polarity.names_all("对风险偏好较低的客户，可提供相对保守的投资组合。", ("高风险", "产品"))
    assert polarity.names_all("银行可以通过赠送礼品提升满意度。", ("礼品",))


@pytest.fixture()
def laws(tmp_path: Path) -> Iterator[KnowledgeBase]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "消费者权益保护法.md").write_text(
        "---\ntitle: 中华人民共和国消费者权益保护法\n---\n# 消费者权益保护法\n\n"
        "第二十九条 经营者未经消费者同意或者请求，不得向其发送商业性信息。\n\n"
        "第五十条 本法自2014年3月15日起施行。\n",
        encoding="utf-8",
    )
    (docs / "反洗钱法.md").write_text(
        "---\ntitle: 中华人民共和国反洗钱法\n---\n# 反洗钱法\n\n"
        "第二十八条 金融机构应当建立客户尽职调查制度，客户身份不明的不得提供服务。\n\n"
        "第六十五条 本法自2025年1月1日起施行。\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(data_dir=tmp_path / "kb", embeddings=FakeEmbeddings())
    assert kb.ingest([docs]).ok
    yield kb
    kb.close()


def test_search_applies_the_expansion_ask_uses(laws: KnowledgeBase) -> None:
    question = "客户没同意可以给他发营销短信吗"
    assert "商业性信息" in pipeline.search_terms(question, laws._tokenize)
    hits = laws.search(question, top_k=3, mode="bm25")
    assert hits and "商业性信息" in hits[0].text


def test_a_named_document_is_preferred(laws: KnowledgeBase) -> None:
    hit = laws.search("反洗钱法从哪天起施行", top_k=1)[0]
    assert hit.title == "中华人民共和国反洗钱法" and "2025年" in hit.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("私行客户每年固定有哪些权益", "八类"),
        ("客户经理违规会有什么处理", "通报批评"),
        ("客户分类看哪几个维度", "风险偏好"),  # the sections of "分类的三个维度"
        ("客户管理的核心是什么", "风险管理"),  # the sentence holding the question's words verbatim
    ],
)
def test_list_and_definition_questions(bundled: KnowledgeBase, question: str, expected: str) -> None:
    answer = bundled.ask(question)
    assert answer.grounded and expected in answer.answer, answer.answer


def test_client_name_in_threshold_answers(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("周杰还差多少到钻石", client=ClientFacts("周杰", "白金", Decimal("31000000")))
    # no tier standard in the documents (issue #17): the client's CRM tier, no computed gap
    assert "周杰在CRM系统中登记为白金客户" in answer.answer and answer.verdict == "not_stated"
    assert "1900万" not in answer.answer


def test_a_yes_about_something_else_is_no_verdict(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("能给风险承受能力低的客户推荐高风险产品吗")
    assert answer.verdict != "yes"


def test_a_grant_to_the_tier_alone_is_a_yes() -> None:
    text = "钻石客户享有高端投资顾问服务，白金客户享有投资顾问服务。"
    assert polarity.entitled(text, "白金", ["投资顾问", "服务"]) == ("yes", "享有")
    assert polarity.entitled(text, "白金", ["高端"]) == (None, "")  # not what was asked
    limited = "家族办公室服务只面向钻石客户提供，是钻石客户区别于白金客户的主要服务。"
    assert polarity.entitled(limited, "白金", ["家族办公室"]) == (None, "")


def test_a_tier_s_entitlements_are_listed_from_the_rule_tables(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("钻石客户有哪些权益")
    assert answer.composer == "rules" and answer.grounded
    assert "家族办公室服务" in answer.answer and "专家挂号预约（每年5次）" in answer.answer
    assert len(answer.citations) == 2  # one per rule table, not one per row
    assert "取决于客户资产的权益：免费洗车（可上门）（日均金融资产3000万元以上" in answer.answer
    amount = bundled.ask("客户日均3500万能享受什么")
    assert "免费洗车（可上门）（每年12次）" in amount.answer and "白金客户" not in amount.answer
    assert "4S店基础保养" not in amount.answer  # needs 5000万
    below = bundled.ask("日均800万的客户能享受什么")
    assert "未达到单项权益的资产条件（最低为3000万元）" in below.answer


def test_a_duty_carries_over_to_the_next_verb() -> None:
    assert polarity.verdict("客户经理应主动联系客户，发送祝福和问候。", ["发送"], focused=False) == (
        "yes",
        "应",
    )
    assert polarity.verdict("客户经理不得泄露客户信息，发给他人。", ["发给"], focused=False) == ("no", "不得")


def test_two_tiers_compared_from_the_rule_tables(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("钻石客户比白金客户多了哪些服务")
    assert answer.composer == "rules"
    first = answer.lead[0]
    assert (
        first.startswith("钻石客户有、白金客户没有") and "家族办公室服务" in first and "专家挂号预约" in first
    )
    assert "免费洗车" not in first and "4S店基础保养" not in first  # set by assets, not by tier
