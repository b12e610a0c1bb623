from __future__ import annotations

from decimal import Decimal

import pytest

from knowledge import ClientFacts
from knowledge import question as q


@pytest.mark.parametrize(
    ("text", "kind", "slot"),
    [
        ("日均4000万是什么等级", q.AMOUNT, "tier"),
        ("客户日均3000万整，算白金还是黄金", q.AMOUNT, "tier"),
        ("日均2500万的客户还差多少到白金", q.AMOUNT, "gap"),
        ("私人银行的准入门槛", q.AMOUNT, "threshold"),
        ("白金客户专家号几次", q.AMOUNT, "count"),
        ("钻石多久回访", q.AMOUNT, "frequency"),
        ("黄金客户洗车能打折吗", q.AMOUNT, "discount"),
        ("日均2000万能免费洗车吗", q.YES_NO, None),
        ("客户送我礼物能收吗", q.YES_NO, None),
        ("第一次见客户就推产品行吗", q.YES_NO, None),
        ("四步投资顾问工作法是哪四步", q.LIST, None),
        ("1+N模式是什么意思", q.DEFINITION, None),
        ("客户投诉应该怎么处理", q.PROCEDURE, None),
        ("客户分类看哪几个维度", q.LIST, None),
    ],
)
def test_kind_and_slot(text: str, kind: str, slot: str | None) -> None:
    found = q.understand(text)
    assert (found.kind, found.slot) == (kind, slot)


def test_mentions_and_action() -> None:
    found = q.understand("日均4000万的白金客户能去4S店免费保养吗")
    assert found.tiers == ("白金",) and found.amount == Decimal(40_000_000)
    assert q.understand("客户送我礼物能收吗").action == "收"
    assert q.understand("客户朋友打电话问资产能告诉吗").action == "告诉"
    assert q.understand("日均资产不到1000万的客户算什么").amount == Decimal(9_999_999)  # just below
    assert q.understand("招商银行私人银行的门槛是多少").peer_bank
    assert q.understand("做私行客户最低要多少资产").private_bank


def test_client_facts_are_the_subject() -> None:
    client = ClientFacts(name="张伟", tier="钻石客户", aum=Decimal(62_000_000))
    found = q.understand("张伟能约几次专家号？", client)
    assert found.subject_tier == "钻石" and found.subject_amount == Decimal(62_000_000)
    assert q.understand("白金客户和钻石客户有什么区别").subject_tier is None  # two tiers: no single subject


def test_yes_word_follows_the_question() -> None:
    assert q.yes_word(q.understand("客户经理出了差错会被追责吗")) == "会。"
    assert q.yes_word(q.understand("客户资料需要定期更新吗")) == "需要。"
    assert q.yes_word(q.understand("黄金客户能免费体检吗")) == "能。"


def test_only_a_prefix_is_read() -> None:
    text = "钻石客户" + "啊" * 10_000 + "是什么等级"
    found = q.understand(text)
    assert found.text == text  # the full text goes on to retrieval, which caps it itself
    assert found.slot is None  # the pattern past MAX_CHARS is not read
