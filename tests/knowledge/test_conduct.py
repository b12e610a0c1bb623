"""The conduct table (knowledge/conduct_rules.toml) and its text engine: every rule quotes its regulation
verbatim; violations of each kind are found; disclosures, negations and questions are not violations."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import check, conduct
from knowledge.conduct import CATEGORIES, NameIndex, RegulationsMissing, default_rules, regulations_dir


def test_every_quoted_source_occurs_verbatim_in_its_regulation() -> None:
    rules = default_rules()
    directory = regulations_dir()
    assert conduct.unquoted(rules, directory) == []
    for rule in rules.rules:
        body = (directory / f"{rule.document}.md").read_text(encoding="utf-8")
        assert rule.quote in body, rule.id
        assert rule.source.startswith(f"《{rule.document}》{rule.article}：")
    assert {r.category for r in rules.rules} == set(CATEGORIES)


def test_a_quote_changed_by_one_character_is_caught(tmp_path: Path) -> None:
    rules = default_rules()
    for path in regulations_dir().glob("*.md"):
        text = path.read_text(encoding="utf-8").replace("违规承诺保本保收益", "违规承诺保收益")
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    assert conduct.unquoted(rules, tmp_path) == ["guarantee"]


def test_the_regulations_directory_resolves_from_the_environment_and_fails_clearly(tmp_path: Path) -> None:
    assert regulations_dir({"RM_REGULATIONS_DIR": str(tmp_path)}) == tmp_path
    with pytest.raises(RegulationsMissing, match=r"regulation texts not found .*RM_REGULATIONS_DIR"):
        regulations_dir({"RM_REGULATIONS_DIR": str(tmp_path / "missing")})
    with pytest.raises(RegulationsMissing, match="cannot read"):
        conduct.unquoted(default_rules(), tmp_path)  # the directory holds no regulation files


@pytest.mark.parametrize(
    ("text", "rule", "span"),
    [
        ("这款理财保本保收益，年化6%稳稳的", "guarantee", "保本保收益"),
        ("亏了算我的，您放心投", "guarantee", "亏了算我的"),
        ("我们行会兜底", "guarantee", "兜底"),
        ("这是全行收益最高的产品", "superlative", "全行收益最高"),
        ("这款产品100%安全", "superlative", "100%安全"),
        ("这只基金同类排名第一", "superlative", "排名第一"),
        ("这款净值型理财预期收益率4.2%", "expected_return", "预期收益率"),
        ("一年后肯定拿到8%", "expected_return", "一年后肯定拿到8%"),
        ("这款保险跟存款一样", "deposit_like", "跟存款"),
        ("这款理财受存款保险保障", "deposit_like", "受存款保险"),
        ("最后3个名额，赶紧下单", "pressure", "最后3个名额"),
        ("就算您退订了，我们还会发", "opt_out", "就算您退订"),
        ("风险揭示书就是走个形式", "disclosure", "走个形式"),
        ("我帮您把风险等级改成C4", "disclosure", "改成C4"),
    ],
)
def test_violations_are_found_with_their_span(text: str, rule: str, span: str) -> None:
    found = [(f.rule.id, f.text) for f in default_rules().scan(text)]
    assert (rule, span) in found


@pytest.mark.parametrize(
    "text",
    [
        "这款产品不保本",
        "过去业绩不代表未来表现",
        "理财非存款，产品有风险，投资须谨慎",
        "这款理财为非保本浮动收益型",
        "本产品不受存款保险保障",
        "理财产品与存款不同，存在本金损失的可能",
        "任何投资都不是没有风险的",
        "客户经理不得向客户承诺保本或保证收益。",
        "业绩比较基准3.2%-3.8%，不代表未来表现",
        "请您本人完成风险测评，如实填写",
        "您是否需要保本的产品？",
        "您最好周五前带身份证来网点",
        "这是您第一次购买理财",
        "您的存款受存款保险保护，最高偿付限额50万元",
        "认购期到12月15日，您可以慢慢考虑",
    ],
)
def test_disclosures_negations_and_questions_are_not_violations(text: str) -> None:
    assert default_rules().scan(text) == ()


def test_a_concessive_word_does_not_negate() -> None:
    assert [f.rule.id for f in default_rules().scan("不管市场怎么样都保本")] == ["guarantee"]
    assert [f.rule.id for f in default_rules().scan("非常安全，保本的")] == ["guarantee"]


def test_other_clients_with_their_holdings_are_private_the_recipient_is_not() -> None:
    names = NameIndex(["张伟", "章伟", "王建国", "欧阳静怡", "李"])
    rules = default_rules()
    found = rules.scan("王建国上周买了200万这款产品", names=names, recipient="张伟")
    assert [(f.rule.id, f.text) for f in found] == [("privacy_client", "王建国")]
    assert rules.scan("张伟您好，您持有的理财已到期", names=names) == ()  # addressed: the recipient
    assert rules.scan("您好，王建国经理下周联系您", names=names, recipient="张伟") == ()  # no holdings
    assert rules.scan("张伟您好，您买了200万", names=names, recipient="张伟") == ()


def test_the_answer_check_and_the_promise_label_use_the_same_table() -> None:
    texts = ["本行所有理财产品均保本保收益。", "这款产品稳赚不赔", "年化5%稳稳的", "这款产品不保本"]
    for text in texts:
        expected = (
            ("承诺收益",) if default_rules().findings_in([text], ("guarantee", "expected_return")) else ()
        )
        assert conduct.promise_labels([text]) == expected
        assert ("承诺收益" in check.findings([text])) == bool(expected)
    assert conduct.promise_labels(["收益有保证吗"]) == ()  # asked, not stated
    assert conduct.promise_labels(["收益有保证吗"], asked=True) == ("承诺收益",)


def test_a_table_with_an_unknown_category_is_refused() -> None:
    bad = (
        '[documents]\nx = "某办法"\n[risk_wording]\ntext = "t"\npromotes = "p"\n'
        '[[rule]]\nid = "r"\ncategory = "nonsense"\nlabel = "l"\ndocument = "x"\narticle = "第一条"\n'
        'quote = "q"\nsuggestion = "s"\n'
    )
    with pytest.raises(ValueError, match="unknown category"):
        conduct.ConductRules.load(bad)
