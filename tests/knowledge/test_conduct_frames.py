"""How far a warning, a quotation or a negation reaches (knowledge/conduct_text.py), and what a
superlative or an urgency is said of: a promise quoted or attributed in order to warn against it, or
denied by "no product can…", is a disclosure; a promise made next to such words, or turned back by a
second negation, is still a promise. The learned second opinion defers to the rules' reading."""

from __future__ import annotations

import pytest

from knowledge.conduct import NameIndex, default_rules


def _found(text: str) -> list[tuple[str, str]]:
    return [(f.category, f.text) for f in default_rules().scan(text)]


@pytest.mark.parametrize(
    "text",
    [
        # quoted, with straight quotes too, beside a warning
        "提防'年年保本还翻倍'的小广告，正规理财都不会这么写",
        '"稳拿8个点"这样的话术，您听到了就当没听见',
        # attributed to others in a sentence that warns
        "外面有些中介跟您讲零风险、包赚，您多留个心眼",
        "短视频里鼓吹躺赚的理财课都是套路",
        "所谓兜底的投资项目，多半是非法集资",
        "亏了算我的这种话术您别信，正规机构不会这么说",
        # "no product can…", whatever the distance to the promise
        "市面上没有哪一种理财产品可以保证稳赚",
        "没有任何一家正规机构敢对您承诺零风险",
        "谁都不能跟您保证这只基金明年不会亏",
        "没有哪款产品是不会亏的，区别只在波动大小",
        # an act the writer declines to do for the client
        "问卷我不会替您勾选，您看清题目自己作答",
        # a deposit's own facts, the client's wish answered with deposits
        "三年期大额存单本息到期一分不少，这是存款的特点",
        "您说最看重保本，那还是国债和定期存款适合您",
        "存款保险仅保障存款，您买的基金和理财不在保障范围内",
        # superlatives and deadlines about no product
        "您女儿去的那所小学是全区最好的，真替您高兴",
        "这家医院的骨科是全国第一，我帮您挂了周四的号",
        "周五是体检预约的最后一天，别忘了去前台登记",
        "楼下那家面馆是这条街最火的，下次带您去尝尝",
    ],
)
def test_a_promise_warned_against_denied_or_about_no_product_is_no_finding(text: str) -> None:
    assert _found(text) == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # a negation that is part of the promise, or a second negation that turns the first back
        ("这款理财保本，不会亏", "guarantee"),
        ("买这只基金不会亏", "guarantee"),
        ("没有哪位买过的客户不是稳赚的", "guarantee"),
        ("没有哪家银行的理财比我们更保本", "guarantee"),
        # warning words about something else beside the promise
        ("别担心，这只基金稳赚", "guarantee"),
        ("外面那些说理财有风险的都是骗人的，这款零风险", "guarantee"),
        ("这款理财保本，别信别人说的有风险", "guarantee"),
        ("这类保本的理财越来越少，您当心别错过", "guarantee"),
        ("不骗您，这类产品就是稳赚", "guarantee"),
        # quoted as the product's own selling point, or "so-called" and endorsed
        ("这款就是大家说的'稳赚不赔'，放心买", "guarantee"),
        ("我们这款就是所谓的保本理财，放心买", "guarantee"),
        # the client's wish answered with the product, not with deposits
        ("您要是想稳赚，就选这款理财", "guarantee"),
        # a deposit named only to compare
        ("这款理财保本，跟国债一样", "guarantee"),
        ("这只基金到期一分不少，和定期存款一样", "guarantee"),
        ("定期利息太低了，这个保本又保息", "guarantee"),
        # a declined favour is still pressure; an urgency about a product next to a school
        ("过了今晚我就不能给您留额度了", "pressure"),
        ("全市最好的中学的老师都在买这只基金", "superlative"),
        ("这款理财只剩最后3个名额了", "pressure"),
        ("我们行私行服务全国第一", "superlative"),
    ],
)
def test_a_promise_next_to_such_words_is_still_found(text: str, category: str) -> None:
    assert category in {c for c, _ in _found(text)}, _found(text)


def test_the_second_opinion_defers_to_the_rules_reading() -> None:
    rules = default_rules()

    def holds(category: str, text: str, names: NameIndex | None = None) -> bool:
        return rules.second_opinion_holds(category, text, 0, len(text), names=names)

    # about no product; about a product
    assert not holds("superlative", "这家馆子是全城最地道的")
    assert not holds("pressure", "挂号今天截止，过了就要等下个月")
    assert holds("superlative", "这只基金是今年最值得入手的")
    # a match the rules read as negated or warned against; one they let go for an `unless` word only
    assert not holds("superlative", "没有哪款理财是绝对安全的")
    assert not holds("guarantee", "千万别信'保本高收益'的说法")
    assert not holds("guarantee", "定期存款本金有保障")
    assert holds("superlative", "这款理财的费率是全市场最低的")
    # privacy: a parcel's number is nobody's; a person, a known name or a phone-length number is
    assert not holds("privacy", "礼品已经寄出，快递单号YT20261207")
    assert holds("privacy", "隔壁陈先生上周刚追加了一笔")
    assert holds("privacy", "周敏上周刚追加了一笔", NameIndex(["周敏"]))
    assert holds("privacy", "请打13912345678联系")
