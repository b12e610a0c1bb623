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
    assert conduct.unquoted(rules, tmp_path) == ["guarantee", "guarantee_floor"]


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
        ("我们行会兜底", "guarantee", "我们行会兜底"),
        ("这是全行收益最高的产品", "superlative", "全行收益最高"),
        ("这款产品100%安全", "superlative", "100%安全"),
        ("这只基金同类排名第一", "superlative", "同类排名第一"),
        ("这款净值型理财预期收益率4.2%", "expected_return", "预期收益率"),
        ("一年后肯定拿到8%", "expected_return", "一年后肯定拿到8%"),
        ("这款保险跟存款一样", "deposit_like", "跟存款"),
        ("这款理财受存款保险保障", "deposit_insurance", "受存款保险"),
        ("最后3个名额，赶紧下单", "pressure", "最后3个名额"),
        ("就算您退订了，我们还会发", "opt_out", "就算您退订"),
        ("风险揭示书就是走个形式", "disclosure", "走个形式"),
        ("我帮您把风险等级改成C4", "disclosure_coaching", "帮您把风险等级改"),
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


# --- causes found on the blind set, each tested in new wording ----------------------------------
@pytest.mark.parametrize(
    ("text", "category"),
    [
        # paraphrase families: losses made up, floors, principal said colloquially, English
        ("万一亏了，行里会想办法给您补回来", "guarantee"),
        ("真跌了也有银行垫付，您别担心", "guarantee"),
        ("最差最差也能拿回本金", "guarantee"),
        ("放心吧，本金肯定丢不了", "guarantee"),
        ("这款理财收益不会低于3.5%的", "guarantee"),
        ("这个组合年年都是正收益，放心拿着", "guarantee"),
        ("我们家这款理财从没让客户亏过钱", "guarantee"),
        ("买了就等着收钱吧", "guarantee"),
        ("This note is principal protected, no worries", "guarantee"),
        ("这只基金经理是业内公认最牛的", "superlative"),
        ("这份重疾险什么病都能赔", "superlative"),
        ("这支债基预期回报率5.2%", "expected_return"),
        ("年化预期大概在3.8%", "expected_return"),
        ("这只基金明年收益差不多5%", "expected_return"),
        ("买它基本上每年能多挣三万块", "expected_return"),
        ("这款年化妥妥的5%", "expected_return"),
        ("这份年金险就当是存了个五年定期", "deposit_like"),
        ("这个理财就是加强版的定期存款", "deposit_like"),
        ("把它当成存款就好，只是名字不同", "deposit_like"),
        ("这款产品安全性跟定期存款差不多", "deposit_like"),
        ("今天不打款明天额度就给别人了", "pressure"),
        ("这期额度非常紧张，您抓紧", "pressure"),
        ("还犹豫什么，现在就把钱转过来", "pressure"),
        ("主任说这个月的指标还差一点，您支持一下", "pressure"),
        ("两小时内下单的话费率打八折，过时就恢复原价", "pressure"),
        ("您这边先转账，资料我后面再给您补", "disclosure"),
        ("问卷第五题您选最后一项，否则系统通不过", "disclosure"),
        ("等会回访问您有没有人承诺收益，您就说没有", "disclosure"),
        ("我替您把测评重新做一遍，不用您操作", "disclosure"),
        ("风险提示书签个名就行，不用细看", "disclosure"),
        ("条款都是模板，没什么好看的", "disclosure"),
        ("这款产品的风险基本可以忽略不计", "guarantee"),
        ("这只基金肯定能超过业绩比较基准", "expected_return"),
        ("一年赚个七八个点很轻松", "expected_return"),
        ("您就当是把钱放在银行定期里", "deposit_like"),
        ("这批额度下班前就结束了", "pressure"),
        ("再晚两天就买不到了", "pressure"),
        ("测评做出来是保守型也没事，我帮您调一下", "disclosure"),
        ("双录的时候您啥都别问，点头就行", "disclosure"),
        ("这个收益率在同类产品里数一数二", "superlative"),
        ("风险揭示书我已经帮您签好了", "disclosure"),
        ("这个收益是锁定的，不会变", "guarantee"),
        ("这款年化收益百分之四点五，稳的", "expected_return"),
        ("您退订了我们也还是会给您发的", "pressure"),
        ("张总那边已经加仓了，您也跟一点", "privacy"),
        # numbers written in Chinese
        ("这款理财年化至少能拿到百分之五", "guarantee"),
        ("这只基金年化能有个十来个点没问题", "expected_return"),
        ("放进去一年下来肯定能赚两万块", "expected_return"),
        # clause splitting: the promise and its subject in different clauses
        ("到期要是不够4%，差的部分我们来补", "guarantee"),
        ("先把款打了，回头再补测评", "disclosure"),
        # spaces and emoji inside a phrase
        ("这 款 产 品 保 本", "guarantee"),
        ("稳赚💰不赔，放心冲", "guarantee"),
        ("零\u200b风险哦😊", "guarantee"),
        ("名额有限⏰赶紧下单", "pressure"),
    ],
)
def test_paraphrases_of_each_violation_are_found(text: str, category: str) -> None:
    assert category in {f.category for f in default_rules().scan(text)}


@pytest.mark.parametrize(
    "text",
    [
        # negation and questions: A-not-A inside or at the start of the phrase
        "您问收益能不能到6%，这个没人能承诺",
        "您问会不会亏本，会的，净值可能下跌",
        # a promise quoted in order to warn against it
        "网上说“稳赚不赔”的理财都别信",
        "“亏了我来补”这种话我们不能讲，请您理性决策",
        # a topic, not a promise
        "您关心的本金安全问题，这款产品无法保证",
        "保本理财已经停售，现在的理财都是净值型",
        # deposits called deposits; deposit insurance explained for deposits only
        "大额存单属于存款，受存款保险保障",
        "您的定期存款本息合计50万以内受存款保险保障，超出部分可以分散到其他银行",
        "定期存款三年期利率1.9%，本金和利息都有保障",
        "理财产品不受存款保险保护，和存款性质不同",
        "理财的收益不固定，存款有存款保险保障，理财没有",
        # figures that are past, benchmark or contractual
        "这款产品过去一年收益大概5%左右，仅供参考，不代表未来",
        "起购金额至少1万元",
        "这款年金险每年领取金额以合同约定为准",
        # urgency that is not about buying; an event's seats
        "您的证件下月过期，请尽快更新",
        "周六的亲子活动名额有限，过了周五就不能报名了",
        "有问题的话您随时找我，我尽快帮您处理",
        "如果您不确认，订单就不会提交",
        "您再等一天就到账了",
        "您退订后我们不会再给您发营销短信",
        "您把存款当成应急金就好",
        # the client answers and reads for themselves
        "测评有10道题，请您根据自己的实际情况选择",
        "回访电话会问您几个问题，请您按实际情况回答",
        "请您仔细阅读合同和风险揭示书后再签字",
        "我帮您预约了下周三的体检",
        # spaces around a negation still negate
        "这款产品 不 保本",
    ],
)
def test_disclosures_negations_and_facts_in_new_wording_stay_ok(text: str) -> None:
    assert default_rules().scan(text) == ()


def test_a_span_found_across_removed_filler_points_into_the_original_text() -> None:
    text = "您好！这款 产品保 本🙂"
    (found,) = default_rules().scan(text)
    assert (found.text, text[found.start : found.end]) == ("保 本", "保 本")


def test_an_assessment_level_of_another_client_is_private() -> None:
    names = NameIndex(["张伟", "欧阳静怡"])
    found = default_rules().scan("欧阳静怡的风险等级是C5，她能买", names=names, recipient="张伟")
    assert [(f.rule.id, f.text) for f in found] == [("privacy_client", "欧阳静怡")]
    assert default_rules().scan("孙总上个月也在我这配了五百万这只基金") != ()


def test_macros_expand_in_a_table_and_leave_quantifiers_alone() -> None:
    table = (
        '[documents]\nx = "某办法"\n[risk_wording]\ntext = "t"\npromotes = "p"\n'
        "[macros]\nD = '[0-9]+'\nP = '{D}%'\n"
        '[[rule]]\nid = "r"\ncategory = "guarantee"\nlabel = "l"\ndocument = "x"\narticle = "第一条"\n'
        'quote = "q"\nsuggestion = "s"\npatterns = [\'稳.{0,2}{P}\']\n'
    )
    rules = conduct.ConductRules.load(table)
    assert [f.text for f in rules.scan("稳稳的12%")] == ["稳稳的12%"]


# --- causes found on the second blind set, each tested in new wording -----------------------------
@pytest.mark.parametrize(
    ("text", "category"),
    [
        # dialect forms: Cantonese, Shanghainese, Northeastern
        ("呢个基金唔会蚀钱嘅，你放心", "guarantee"),
        ("侬放心，本金勿会少额", "guarantee"),
        ("这款指定不带赔的，整吧", "guarantee"),
        # a loss denied in other words, a clean record carried into the future
        ("这只债基不可能出现任何亏损", "guarantee"),
        ("完全不存在亏本的可能", "guarantee"),
        ("跟过这只产品的客户没有一个亏过", "guarantee"),
        ("它净值从来没跌破过1，以后也跌不破", "guarantee"),
        ("这个我替您担保", "guarantee"),
        ("每年分红保持在3%以上", "guarantee"),
        # insurance wording: a dividend floor, "never at a loss", a loss made up privately
        ("这份分红险每年分红至少百分之四", "guarantee"),
        ("这份两全险横竖不吃亏", "guarantee"),
        ("万一有损失，我私人给您补上", "guarantee"),
        # estimates of a net-value product's return: a rate, a target, an amount
        ("我估计收益能在4%左右", "expected_return"),
        ("您按4.2%估算就行", "expected_return"),
        ("这只理财目标年化5%", "expected_return"),
        ("这款预计年化4%", "expected_return"),
        ("算下来一年收益在一万五左右", "expected_return"),
        ("三万多的回报应该跑不了", "expected_return"),
        ("到期肯定按比较基准兑付", "expected_return"),
        ("收益嘛，估摸着一年五六个点", "expected_return"),
        # a product equated with a deposit
        ("这款产品和定期存款就是一回事", "deposit_like"),
        ("这款分红险说到底都是存钱", "deposit_like"),
        ("您把这份年金当成两年期的定存", "deposit_like"),
        ("这个理财其实就是行里自己的高利率定期", "deposit_like"),
        # a last day, a reservation withdrawn, a deadline to decide
        ("今天最后一天认购", "pressure"),
        ("过了今晚就没法替您保留了", "pressure"),
        ("这周得定，不然额度就没了", "pressure"),
        # the client coached through the assessment or the recording; risk wording dismissed
        ("双录时照着我发的话术读一遍就好", "disclosure"),
        ("问卷第三题选C就能买R4", "disclosure"),
        ("回访时别说是我让您买的", "disclosure"),
        ("测评快到期了，我直接帮您在APP上重新测一下", "disclosure"),
        ("风险揭示都是监管要求写的，其实没那么回事", "disclosure"),
        ("不保本只是一种说法，其实稳得很", "disclosure"),
        ("风险提示里那些全是套话", "disclosure"),
        ("合格投资者认定的资产证明，我们帮您想办法", "disclosure"),
        ("测评那一页您就勾最高的", "disclosure"),
        # another client's money trouble; a superlative over a region or all rivals
        ("钱总最近资金有点紧，把理财都赎了", "privacy"),
        ("我们的投顾团队是全上海最专业的", "superlative"),
        ("论收益没有哪家比得过我们", "superlative"),
    ],
)
def test_second_blind_set_causes_are_found_in_new_wording(text: str, category: str) -> None:
    assert category in {f.category for f in default_rules().scan(text)}


@pytest.mark.parametrize(
    "text",
    [
        # a promise the writer declines to make; one someone else makes, reported to warn
        "我没法保证这只基金明年一定能赚钱，只能讲清楚风险",
        "要是有人对您说稳赚不赔，那多半是骗局",
        # a condition, not a claim
        "想要本金有保障的话，可以选大额存单",
        # a service word, a difference explained, a deposit's own figures
        "这事我兜底跟进，周五前给您答复",
        "理财跟存款的区别在于理财不保本",
        "按2%来算，这笔三年定期存款到期利息是6000元",
        "“保本理财”这种说法早就没有了",
        "全年最高的一次回撤出现在三月",
        # denied right after; settled, not estimated; a deadline left to the client; a secret kept
        "预计年化收益无法确定，以实际净值为准",
        "您这期的收益大概有1.5万元，已经到账",
        "今天是这期最后一天认购，买不买请您自主决定",
        "孙总资金周转的事我是不会跟别人讲的",
        # a dialect negation still negates
        "唔好意思，呢款理财唔保本㗎",
    ],
)
def test_second_blind_set_false_alarm_causes_stay_ok_in_new_wording(text: str) -> None:
    assert default_rules().scan(text) == ()


def test_a_refusal_to_tell_about_another_client_is_not_a_leak() -> None:
    names = NameIndex(["李建国", "张伟"])
    rules = default_rules()
    refusal = "您问李建国配置了什么——这是其他客户的隐私，不方便透露"
    assert rules.scan(refusal, names=names, recipient="张伟") == ()
    assert rules.scan("您问的孙总买了什么，这属于其他客户的隐私，我不能说") == ()
    leak = rules.scan("李建国配置了三百万这只基金", names=names, recipient="张伟")
    assert [f.rule.id for f in leak] == ["privacy_client"]


def test_a_dialect_span_points_into_the_original_text() -> None:
    text = "呢只基金唔会蚀本㗎"
    found = [f for f in default_rules().scan(text) if f.category == "guarantee"]
    assert found and all(text[f.start : f.end] == f.text for f in found)
    assert "唔会" in found[0].text


def test_every_dialect_form_keeps_its_length() -> None:
    from knowledge import conduct_text

    assert all(len(k) == len(v) for k, v in conduct_text._DIALECT.items())
    assert conduct_text.mandarin("侬放心，唔会蚀本") == "您放心，不会亏本"
