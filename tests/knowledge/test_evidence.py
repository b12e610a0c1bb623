"""Evidence selection on a small corpus (fake embeddings): focus, slot, action and verdict checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase, polarity
from knowledge import evidence as ev_mod
from knowledge.passages import Unit
from knowledge.question import understand
from tests.knowledge.conftest import FakeEmbeddings

RULES_MD = """---
title: 客户经理行为规范
authority: 本行制度
---
# 客户经理行为规范

## 保密
客户经理不得泄露客户的个人信息或财务信息。

## 回访
私人银行应定期回访客户，了解客户对服务的评价。

## 礼品
银行可以通过赠送礼品、举办客户活动等方式提升客户满意度。

## 身份验证
客户经理应在开户环节做好风险控制，做好客户身份验证。
"""
PEER_MD = """---
title: 同业案例
authority: 同业案例
---
# 同业案例

## 某行的准入门槛
某股份制银行私人银行的准入门槛是金融资产600万元。
"""
OWN_MD = """---
title: 本行标准
authority: 本行制度
---
# 本行标准

## 准入门槛
本行私人银行的准入门槛是日均金融资产1000万元。
"""


@pytest.fixture
def rules_kb(tmp_path: Path) -> KnowledgeBase:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in (("rules.md", RULES_MD), ("peer.md", PEER_MD), ("own.md", OWN_MD)):
        (folder / name).write_text(text, encoding="utf-8")
    kb = KnowledgeBase(data_dir=tmp_path / "data", embeddings=FakeEmbeddings())
    assert kb.ingest([folder]).ok
    return kb


def test_prohibition_gives_no(rules_kb: KnowledgeBase) -> None:
    answer = rules_kb.ask("客户的财务信息能告诉别人吗")  # the wording: test_issue_examples (e5)
    assert answer.grounded and answer.verdict == "no"
    assert answer.lead[0].startswith("不能：") and "不得泄露" in answer.lead[0]


def test_action_not_in_the_evidence_is_not_settled(rules_kb: KnowledgeBase) -> None:
    answer = rules_kb.ask("客户送我礼物能收吗")  # the documents only say the bank gives gifts
    assert not answer.grounded and answer.verdict == "not_stated"
    assert "赠送礼品" not in answer.answer


def test_slot_not_filled_is_not_settled(rules_kb: KnowledgeBase) -> None:
    answer = rules_kb.ask("钻石客户多久回访一次")
    assert not answer.grounded and answer.verdict == "not_stated"
    assert answer.lead[0].startswith("知识库未规定")


def test_duty_earlier_in_the_sentence_gives_yes(rules_kb: KnowledgeBase) -> None:
    answer = rules_kb.ask("开户的时候要做客户身份验证吗")
    assert answer.grounded and answer.verdict == "yes" and answer.lead[0] == "需要。"


def test_own_rule_outranks_a_peer_case(rules_kb: KnowledgeBase) -> None:
    answer = rules_kb.ask("私人银行的准入门槛是多少")
    assert "1000万" in answer.lead[0] and answer.citations[0].title == "本行标准"
    named = rules_kb.ask(
        "某股份制银行私人银行的准入门槛是多少"
    )  # names the other bank: its case is the source
    assert "600万" in named.answer


def test_polarity_reads_the_modal_before_the_action() -> None:
    assert polarity.verdict("客户经理不得泄露客户的个人信息。", ["泄露"], focused=False) == ("no", "不得")
    assert polarity.verdict("见客户时不要一上来就推销产品。", ["推销"], focused=False) == ("no", "不要")
    assert polarity.verdict("银行应在系统中记录投诉，并及时回复和处理。", ["回复"], focused=False)[0] == "yes"
    assert polarity.verdict("客户经理在开户和业务办理中应关注黑名单。", ["开户"], focused=False) == (None, "")
    # 要求 is a noun, not the modal 要
    assert polarity.verdict("形象要求包括着装。", ["着装"], focused=True) == (None, "")


def test_one_character_actions_match_whole_words_only() -> None:
    unit = Unit("私人银行客户可免费收到保健短信。", frozenset({"收到", "保健"}))
    assert ev_mod._find_action(unit, ["收"]) == -1
    assert ev_mod._find_action(Unit("不得收受礼品。", frozenset({"收受"})), ["收受"]) == 2


def test_action_terms_prefer_the_verb() -> None:
    terms, by_object = ev_mod._action_terms(understand("能把客户名单发给同事吗"))
    assert "发给" in terms and "泄露" in terms and not by_object
    terms, by_object = ev_mod._action_terms(understand("开户的时候要做客户身份验证吗"))
    assert "身份验证" in terms and by_object
