"""The rule book parsed from the corpus tables, and the rule-book composer applied to it (no retrieval)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from knowledge import ClientFacts, rule_answers, rules
from knowledge.authority import OWN_RULE, PEER_CASE
from knowledge.base import CORPUS_DIR
from knowledge.loaders import parse_front_matter
from knowledge.question import understand

WAN = Decimal(10_000)


def _corpus_pieces() -> list[rules.TableSource]:
    pieces = []
    for path in sorted(CORPUS_DIR.glob("*.md")):
        meta, body = parse_front_matter(path.read_text(encoding="utf-8"))
        pieces.append(rules.TableSource(body, f"bundled:{path.name}", meta["title"], "", meta["authority"]))
    return pieces


#: A tier standard as a bank could upload it (the bundled documents have none; these are the demo CRM's
#: thresholds, used only to test the tier-table machinery).
TIER_TABLE = """| 客户等级 | 日均金融资产 | 说明 |
| --- | --- | --- |
| 钻石客户 | ≥ 5000万元 | |
| 白金客户 | 3000万元（含）至5000万元 | |
| 黄金客户 | 1000万元（含）至3000万元 | 私人银行准入门槛 |
| 潜在客户 | < 1000万元 | |
"""


@pytest.fixture(scope="module")
def book() -> rules.RuleBook:
    return rules.build(_corpus_pieces())


@pytest.fixture(scope="module")
def tiered() -> rules.RuleBook:
    uploaded = rules.TableSource(TIER_TABLE, "upload:等级标准.md", "客户等级标准", "", OWN_RULE)
    return rules.build([*_corpus_pieces(), uploaded])


def test_the_bundled_documents_define_no_tier_standard(book: rules.RuleBook) -> None:
    assert book.tiers == () and book.tier_of(4000 * WAN) is None and book.entry_threshold() is None


def test_tier_table(tiered: rules.RuleBook) -> None:
    book = tiered
    assert [t.tier for t in book.tiers] == ["钻石", "白金", "黄金", "潜在"]
    assert book.tier_of(4000 * WAN).tier == "白金"  # type: ignore[union-attr]
    assert book.tier_of(3000 * WAN).tier == "白金"  # type: ignore[union-attr]  # 含本数
    assert book.tier_of(2999 * WAN).tier == "黄金"  # type: ignore[union-attr]
    assert book.tier_of(500 * WAN).tier == "潜在"  # type: ignore[union-attr]
    assert book.entry_threshold().range.low == 1000 * WAN  # type: ignore[union-attr]
    assert book.tier("白金").cite.source == "upload:等级标准.md"  # type: ignore[union-attr]


def test_entitlement_table(book: rules.RuleBook) -> None:
    by_name = {e.benefit: e for e in book.entitlements}
    expert = by_name["专家挂号预约"]
    assert expert.tiers == ("钻石",) and expert.value == "每年5次" and expert.others_not_stated
    wash = by_name["免费洗车（可上门）"]
    assert wash.asset is not None and wash.asset.low == 3000 * WAN and not wash.others_not_stated
    assert by_name["家族办公室服务"].tiers == ("钻石",)
    assert "专家号" in expert.aliases
    # every rule cites its document and heading, with the row as readable text
    assert expert.cite.title == "增值服务权益" and "专家挂号预约" in expert.cite.text
    assert book.matching("日均2000万能免费洗车吗")[0][0].benefit == "免费洗车（可上门）"


def test_higher_authority_wins_a_conflict() -> None:
    table = "| 客户等级 | 日均金融资产 |\n| --- | --- |\n| 钻石客户 | ≥ {} |\n"
    peer = rules.TableSource(table.format("1亿元"), "peer.md", "同业", "", PEER_CASE)
    own = rules.TableSource(table.format("5000万元"), "own.md", "本行", "", OWN_RULE)
    book = rules.build([peer, own])
    assert book.tier("钻石").range.low == 5000 * WAN  # type: ignore[union-attr]


def ask(book: rules.RuleBook, text: str, client: ClientFacts | None = None) -> rule_answers.Answer:
    found = rule_answers.answer(understand(text, client), book)
    assert found is not None, text
    return found


def test_issue_examples_from_the_rule_book(book: rules.RuleBook) -> None:
    a = ask(book, "日均2000万能免费洗车吗")
    assert a.verdict == "no" and a.lead[0].startswith("不能：") and "3000万" in a.lead[0]
    assert any("六折" in s for s in a.lead)  # what a private-bank client does get
    a = ask(book, "白金客户专家号几次")
    assert a.verdict == "not_stated" and a.lead[0].startswith("资料未规定")
    assert "钻石客户每年5次" in a.lead[0] and "私人银行部门确认" in a.lead[0]


@pytest.mark.parametrize(
    "text",
    [
        "多少资产算钻石客户",
        "5000万是不是钻石",
        "日均4000万是什么等级",
        "客户日均6000万属于哪个等级",
        "白金客户的标准是什么",
        "日均2500万的客户还差多少到白金",
        "私人银行的准入门槛",
        "日均800万能算私行客户吗",
    ],
)
def test_tier_standards_are_not_stated(book: rules.RuleBook, text: str) -> None:
    """Issue #17: the documents give no tier an asset standard (5000万/3000万 are single entitlements'
    conditions, 1000万 a peer bank's threshold): never answered as a rule of this bank."""
    a = ask(book, text)
    assert a.verdict == "not_stated" and a.lead[-1].startswith("资料未规定") and "CRM" in a.answer, text
    assert not a.grounded and a.citations == ()
    assert not any(amount in a.answer for amount in ("5000万", "3000万", "1000万")), a.answer


def test_a_tier_question_about_a_client_names_the_crm_record(book: rules.RuleBook) -> None:
    facts = ClientFacts(name="杨柳", tier="白金", aum=Decimal(32_000_000))
    a = ask(book, "杨柳是什么等级", facts)
    assert a.lead[0] == "杨柳在CRM系统中登记为白金客户。" and a.verdict == "not_stated"
    a = ask(book, "杨柳还差多少能成钻石", facts)
    assert a.verdict == "not_stated" and "万" not in a.answer


def test_entitlement_thresholds_of_the_seed_still_apply(book: rules.RuleBook) -> None:
    a = ask(book, "免费洗车要多少资产")
    assert "日均金融资产3000万元以上" in a.answer and "每年12次" in a.answer
    a = ask(book, "日均3500万的客户一年能免费洗车几次")
    assert a.verdict == "yes" and "12次" in a.answer
    assert ask(book, "日均4000万的客户能去4S店免费保养吗").verdict == "no"
    assert ask(book, "一个亿日均的客户能免费保养吗").verdict == "yes"
    # a tier alone does not settle an asset condition: the answer gives the condition, no verdict
    a = ask(book, "白金客户能免费洗车吗")
    assert a.verdict is None and "3000万" in a.answer and "取决于" in a.answer
    # an amount alone does not make a tier
    a = ask(book, "客户日均七千万能约专家号吗")
    assert a.verdict == "not_stated" and "钻石客户：每年5次" in a.answer
    assert ask(book, "日均500万的客户能免费体检吗").verdict == "not_stated"
    a = ask(book, "客户日均3500万能享受什么")
    assert "免费洗车（可上门）（每年12次）" in a.answer and "4S店基础保养" not in a.answer


def test_an_uploaded_tier_table_is_applied(tiered: rules.RuleBook) -> None:
    book = tiered
    a = ask(book, "日均4000万算什么等级")
    assert a.lead[0] == "白金客户（日均金融资产3000万–5000万）。" and a.composer == "rules"
    assert a.citations[0].source == "upload:等级标准.md"
    assert "1000万" in ask(book, "私人银行的准入门槛").answer
    assert "还差500万元" in ask(book, "日均2500万的客户还差多少到白金").lead[0]
    assert "还差100万元" in ask(book, "客户日均900万，差多少能成私行客户").lead[0]
    assert ask(book, "五千万日均的客户是钻石吗").verdict == "yes"
    a = ask(book, "日均800万能算私行客户吗")
    assert a.verdict == "no" and "潜在" in a.answer
    assert ask(book, "白金客户能免费洗车吗").verdict == "yes"  # 白金 ≥ 3000万 always
    assert ask(book, "白金客户有4S店免费保养吗").verdict == "no"
    assert ask(book, "日均500万的客户能免费体检吗").verdict == "no"  # not a private-bank client yet


def test_counts_the_rule_does_not_give(book: rules.RuleBook) -> None:
    assert ask(book, "机场贵宾休息室每年能用几次").verdict == "not_stated"  # the rule gives no count


@pytest.mark.parametrize(
    ("facts", "verdict", "opening"),
    [
        (ClientFacts(name="张伟", tier="钻石", aum=Decimal(62_000_000)), "yes", "张伟为钻石客户："),
        (ClientFacts(name="李娜", tier="白金", aum=Decimal(35_000_000)), "not_stated", "李娜为白金客户："),
    ],
)
def test_client_aware(book: rules.RuleBook, facts: ClientFacts, verdict: str, opening: str) -> None:
    a = ask(book, f"{facts.name}能约几次专家号？", facts)
    assert a.verdict == verdict and a.lead[0].startswith(opening)
    if verdict == "yes":
        assert "5次" in a.lead[0]


def test_client_amount_decides_asset_conditions(book: rules.RuleBook) -> None:
    facts = ClientFacts(name="王强", tier="黄金", aum=Decimal(18_000_000))
    a = ask(book, "王强能免费洗车吗", facts)
    assert a.verdict == "no" and a.lead[0].startswith("王强日均金融资产1800万元") and "六折" in a.answer


def test_questions_the_rules_do_not_cover(book: rules.RuleBook) -> None:
    for text in ("客户请我吃饭可以去吗", "1+N模式是什么意思", "怎么预约专家号", "今天天气怎么样"):
        assert rule_answers.answer(understand(text), book) is None, text


def test_no_rule_tables_no_rule_answers(tmp_path: Path) -> None:
    assert rule_answers.answer(understand("日均4000万是什么等级"), rules.RuleBook()) is None
