"""Issue #17: complete lists in RM phrasing (包括啥, 这块, one tier's list) and conduct questions in an RM's
own words (the relevance gate, leaving a duty undone, what befalls the RM, a reported question). Sentences
and questions written for the test; the bundled corpus with the real model where retrieval matters."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeBase, answerable, lexicon, listing, polarity
from knowledge import question as q_mod
from knowledge.manifest import StoredChunk
from knowledge.passages import units
from knowledge.retrieval import Candidate


def _chunk(i: int, heading: str, text: str, source: str = "doc.md") -> StoredChunk:
    return StoredChunk(f"c{i}", source, i, text, "服务手册", heading, "", ())


# --- lists: what asks for one, what a list is about


@pytest.mark.parametrize(
    "text", ["理财顾问服务都包括啥", "这项权益涵盖哪些内容", "私行中心给客户提供些什么", "要带什么材料"]
)
def test_colloquial_list_questions_ask_for_a_list(text: str) -> None:
    assert listing.wants_list(text)


def test_a_colloquial_list_question_is_a_list_question() -> None:
    assert q_mod.understand("贵宾通道服务都包括啥").kind == q_mod.LIST
    assert q_mod.understand("钻石客户送些什么").kind == q_mod.LIST


@pytest.mark.parametrize(
    ("word", "filler"),
    [
        ("这块", True),
        ("一档", True),
        ("我能", True),
        ("能先", True),
        ("营销", False),
        ("体检", False),
        ("档案", False),
    ],
)
def test_deictic_and_glued_function_words_name_no_topic(word: str, filler: bool) -> None:
    assert lexicon.filler(word) is filler


def test_section_names_that_hold_commas_are_separated_by_semicolons() -> None:
    sections = [_chunk(1, "关怀 > 节日问候", "…"), _chunk(2, "关怀 > 文化、教育类活动", "…")]
    assert listing.intro("关怀", sections) == "关怀包括以下2项：节日问候；文化、教育类活动。"


def test_a_remark_section_is_not_an_item() -> None:
    corpus = [
        _chunk(1, "出行服务 > 专车接送", "钻石客户可享受专车接送。"),
        _chunk(2, "出行服务 > 酒店预订", "私人银行客户可由专人预订酒店。"),
        _chunk(3, "出行服务 > 其他等级的接送次数", "资料未规定其他等级的接送次数。"),
    ]
    names = [listing.leaf(c.heading) for c in listing.section_items(corpus[0], corpus)]
    assert names == ["专车接送", "酒店预订"]


def test_a_counted_heading_keeps_every_section() -> None:
    corpus = [
        _chunk(1, "三项出行服务 > 专车接送", "专车接送。"),
        _chunk(2, "三项出行服务 > 酒店预订", "酒店预订。"),
        _chunk(3, "三项出行服务 > 其他出行协助", "其他出行协助。"),
    ]
    assert len(listing.section_items(corpus[0], corpus)) == 3


def test_one_tiers_list_comes_from_the_sentence_granting_it() -> None:
    classifying = _chunk(1, "等级 > 三类客户", "客户分为钻石客户、白金客户和黄金客户三类，各享不同服务。")
    own = _chunk(2, "白金服务 > 内容", "白金客户享有专属顾问、年度报告、资产规划和沙龙邀请。")
    other = _chunk(3, "钻石服务 > 内容", "钻石客户享有家族信托、专属顾问和全球配置。")
    candidates = [Candidate(c, 0.0, 0.0, 0.0) for c in (classifying, other, own)]
    first = (1.0, 0, 0, units(classifying.text)[0], 1.0)
    found = answerable.tier_list("白金", candidates, first)
    assert found is not None and found[1] == 2 and "资产规划" in found[3].text
    # A best sentence already about the tier alone (a bracketed aside names no tier) is kept.
    aside = _chunk(
        4, "黄金服务", "黄金客户享有客户经理服务（专属顾问仅列于钻石和白金客户）、投资咨询和活动邀请。"
    )
    kept = (1.0, 0, 0, units(aside.text)[0], 1.0)
    assert answerable.tier_list("黄金", [Candidate(aside, 0.0, 0.0, 0.0)], kept) is None
    # A best sentence naming no tier is about the topic asked, not a classification of the tiers.
    topic = _chunk(5, "出行服务", "私人银行客户可享受专车接送、酒店预订和行李托运。")
    untiered = (1.0, 0, 0, units(topic.text)[0], 1.0)
    assert answerable.tier_list("白金", [Candidate(topic, 0.0, 0.0, 0.0), candidates[2]], untiered) is None


def test_the_kind_of_item_and_the_predicate_are_not_the_topic() -> None:
    q = q_mod.understand("私行的资产配置建议覆盖哪些品种")
    assert answerable.names_kind(q, "品种") and not answerable.names_kind(q, "资产")
    p = q_mod.understand("出行这块给客户提供些啥")
    assert answerable.predicate(p, "提供") and not answerable.predicate(p, "出行")


@pytest.mark.parametrize(
    ("question", "items"),
    [
        ("丽人服务这块都包括啥", ("美容院折扣", "美容年卡")),
        ("汽车维护这块提供些啥", ("洗车六折", "免费洗车", "4S店")),
    ],
)
def test_a_section_is_listed_in_rm_phrasing(
    bundled: KnowledgeBase, question: str, items: tuple[str, ...]
) -> None:
    answer = bundled.ask(question)
    assert answer.grounded, answer.answer
    assert all(i in answer.answer for i in items), answer.answer
    assert "共性增值权益共八类" not in answer.answer


def test_a_tiers_list_is_that_tiers_own(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("钻石这一档的定制化服务都包括啥")
    assert answer.grounded and "家族办公室" in answer.answer and "全球资产配置" in answer.answer, (
        answer.answer
    )
    assert "量身定制" not in answer.answer  # not the generic 定制化服务 section


# --- conduct questions in an RM's words


def test_an_omitted_action_and_a_reported_question_are_parsed() -> None:
    assert q_mod.understand("能先不登记客户的证件吗").skips
    assert q_mod.understand("客户投诉能先放着不处理吗").skips
    assert not q_mod.understand("能告诉他吗").skips
    reported = q_mod.understand("客户合伙人来电问他账户里还剩多少钱 我能说吗")
    assert reported.slot is None and reported.kind == q_mod.YES_NO
    assert q_mod.understand("请问白金客户体检收多少钱").slot == "price"  # 请问 opens the RM's own question


def test_a_consequence_reads_the_rules_future() -> None:
    text = "员工违反规定的，将视情节处理，处理方式包括警告、调岗或解除劳动合同。"
    assert polarity.verdict(text, ["解除劳动合同"], focused=True, consequence=True) == ("yes", "将")
    assert polarity.verdict(text, ["解除劳动合同"], focused=True) == (None, "")


@pytest.mark.parametrize("question", ["客户资料我能发给老同学帮忙分析吗", "客户的账户信息能发给他表哥吗"])
def test_a_colloquial_conduct_question_is_answered(bundled: KnowledgeBase, question: str) -> None:
    answer = bundled.ask(question)
    assert answer.grounded and answer.verdict == "no", answer.answer
    assert any(w in answer.answer for w in ("外泄", "泄露")), answer.answer


def test_leaving_a_duty_undone_is_a_no(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("给新客户开户可以先不验证身份吗")
    assert answer.grounded and answer.verdict == "no" and answer.lead[0].startswith("不可以"), answer.answer
    assert "身份验证" in answer.answer


def test_what_befalls_the_rm_is_a_yes_from_the_rules_measures(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("履职出了差错会被通报批评吗")
    assert answer.grounded and answer.verdict == "yes" and answer.lead[0].startswith("会"), answer.answer


def test_a_reported_question_is_answered_as_the_rms_own(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("客户合伙人打电话问客户账户里还有多少钱 我能说吗")
    assert answer.grounded and answer.verdict == "no", answer.answer


@pytest.mark.parametrize(
    "question", ["我能请假去旅游吗", "周末能去钓鱼吗", "明天股市能涨吗", "美联储下个月会降息吗"]
)
def test_off_topic_yes_no_questions_stay_refused(bundled: KnowledgeBase, question: str) -> None:
    assert not bundled.ask(question).grounded
