"""Small domain vocabulary the answer stages share: tier names, synonym groups, modal markers.

RMs ask "能告诉吗" where the rule says "不得泄露", "送礼物" where it says "礼品": the synonym groups let the
question meet the rule's own words (query expansion for BM25, and the action check of yes/no questions).
Kept deliberately short and explicit; extend a group when the evaluation shows a miss.
"""

from __future__ import annotations

import logging
import re
from functools import cache

logger = logging.getLogger(__name__)

#: The bank's tiers, highest first (names as the CRM and the corpus write them, without 客户).
TIERS = ("钻石", "白金", "黄金", "潜在")
#: Tiers that are private-bank clients (潜在 has not reached the entry threshold).
PB_TIERS = ("钻石", "白金", "黄金")
#: Words meaning "every private-bank client" in rule tables and questions.
PB_WORDS = ("私人银行客户", "私行客户", "贵宾客户", "私人银行卡", "私行卡")

_TIER_PATTERN = re.compile(r"(钻石|白金|黄金|潜在)(?:客户|级|卡|等级|会员)?")


def tiers_in(text: str) -> tuple[str, ...]:
    """Tier names mentioned in `text`, in order of first mention, without duplicates."""
    return tuple(dict.fromkeys(m.group(1) for m in _TIER_PATTERN.finditer(text)))


# One group per line: words a question may use for the same concept. The first word names the group.
_GROUPS_TEXT = """
泄露 告诉 透露 外泄 说出 讲给 外传 透漏 发给 转给 提供给 给别人 分享 说 晒 公开 发到 发朋友圈
财务信息 资产 资产情况 存款 余额 财务状况 账户信息 持仓
个人信息 客户信息 资料 客户资料 隐私 身份信息 电话号码 名单
礼品 礼物 红包 礼金 购物卡 好处费
收受 收 收下 接受 拿
赠送 送 赠 送给
推销 推 推产品 卖产品 硬推 推销产品 硬性推销 介绍产品 推荐产品 叫卖 摆摊 地推 扫街
承诺 保证 打包票 担保
回访 拜访 走访
联系 沟通 联络 打电话 电话
投诉 抱怨 不满 告状
开户 开立账户 开账户
政要 官员 政府高级官员 PEP 政治公众人物 高官
上报 及时报告 报送
黑名单 制裁名单
着装 穿 衣服 打扮
生日 过生日 生日祝福
节日 过节 春节 中秋 节假日
考核 业绩 指标 KPI
追责 处罚 处分 问责 惩罚
违规 不合规 违反规定
风险评估 风险测评 测评
洗钱 反洗钱 AML
尽职调查 尽调 KYC 身份验证 核实身份 身份核验 核验身份 身份核实
门槛 起点 准入 标准 要求
验证 核实 核验 核对
等级 级别 档次
体检 检查身体
首家 第一家 头一家
管理 管 监控 跟踪 监测
监控 监测 监视 监管
检查 查 查询 核查 监控 关注
注意 关注 留意 重视 警惕
问候 祝福 祝贺 慰问
发送 发 发出
配置 配 提供 推荐
记录 登记 录入 记下
合作 配合 协作 协调
行内 行里 本行 银行内部
划分 分成 分为 分类 分
客户群 群体 人群 客群
招商银行 招行
CA 国航 中国国航 中国国际航空
ZH 深航 深圳航空
座驾 车子 爱车 私家车
权益 福利 待遇
"""


@cache
def _groups() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(line.split()) for line in _GROUPS_TEXT.strip().splitlines() if line.strip())


@cache
def _by_word() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for group in _groups():
        for word in group:
            out.setdefault(word.lower(), group)
    return out


def synonyms(word: str) -> tuple[str, ...]:
    """The word's group (itself first), or just the word."""
    group = _by_word().get(word.lower())
    if group is None:
        return (word,)
    return (word, *(w for w in group if w != word))


def expand(words: list[str]) -> list[str]:
    """Words plus their synonyms, each once (for the action check and BM25 query expansion)."""
    out: dict[str, None] = {}
    for word in words:
        for w in synonyms(word):
            out.setdefault(w, None)
    return list(out)


# Retrieval only: a banker's word → the words documents (our rules, laws and regulator texts) use for it.
# Not synonyms for the yes/no action check ("告诉" there means 泄露; a law says 告知), so kept apart.
# One group per line: the question's word first, then what BM25 should also look for.
_RELATED_TEXT = """
客户 消费者 个人
客户信息 个人信息
客户资料 个人信息 身份资料
资料 信息
短信 商业性信息 信息
营销短信 商业性信息
推销短信 商业性信息
广告 商业性信息
告诉 告知 说明
通知 告知
搜 搜查
搜包 搜查 携带 物品
包 携带 物品
摔伤 人身 安全 损害
受伤 人身 安全 损害
营业厅 经营场所 营业场所
网点 经营场所 营业场所
生效 施行
实施 施行
外包 委托 受托
合作方 第三方 其他个人信息处理者
同意 单独同意
收费 价格 费用
投诉 争议 申诉
赔偿 赔偿责任 民事责任
保险 保险公司
存款 储蓄
逢年过节 节日 过节 问候 祝福
过节 节日 问候 祝福
方式 渠道 途径
途径 渠道 方式
办 举办 组织
来路 不正当 收入
不正 不正当
岗位 人员 职位 团队
全天候 小时 不间断 随时
要素 准则 原则
排 首要 首位
第一 首要 首位
偷 窃取 非法获取 盗取
固定 共性
保守 稳健 低风险 较低 厌恶
稳健 保守 低风险
程度 完整 准确
信息库 数据库
吃饭 就餐 餐饮
滑倒 人身 安全
负责 责任 承担
修订 修正 修改
拆 拆分 分拆
规避 逃避
"""


@cache
def _related() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for line in _RELATED_TEXT.strip().splitlines():
        first, *rest = line.split()
        out[first.lower()] = tuple(rest)
    return out


def related(word: str) -> tuple[str, ...]:
    """Words documents use for a banker's `word` (retrieval only), without the word itself."""
    return _related().get(word.lower(), ())


#: Expansion words per question word: a long synonym group must not crowd out the other words' groups.
PER_WORD = 5


def expand_query(words: list[str], *, per_word: int = PER_WORD) -> list[str]:
    """Words plus, for each, up to `per_word` related document words and synonyms (BM25 query expansion)."""
    out: dict[str, None] = dict.fromkeys(words)
    for word in words:
        extra = [w for w in dict.fromkeys((*related(word), *synonyms(word)[1:])) if w not in out]
        for w in extra[:per_word]:
            out.setdefault(w, None)
    return list(out)


_GENERIC_TEXT = """
    客户 银行 本行 私人银行 私行 客户经理 经理 我们 我 你 他 她 他们 人 时候 情况
    问题 方面 东西 事情 可以 能 能够 吗 呢 吧 么 行 不行 是否 一下 请问 想 想要
    打算 现在 已经 一般 平时 还 这种 那种 一位 这位 那位 这个 那个 什么 怎么 怎样
    如何 多少 几 哪些 哪个 哪 要 需要 应该 得 会 有 没有 算 是 属于 等级 级别
    每年 一年 次 几次 多久 规定 要求 知识库 资料 日均 金融资产 资产 万 元 钻石
    白金 黄金 潜在 钻石客户 白金客户 黄金客户 潜在客户 私人银行客户 私行客户 高净值
    享受 享有 每个 每位 一次 每次 一回 具体 比较
"""
#: Words that carry no topic of their own in a question about our rules.
GENERIC_WORDS = frozenset(_GENERIC_TEXT.split())

_QUANTITY_TEXT = "以上 以下 以内 之间 超过 低于 不足 不到 达到 多于 少于 很多 许多 一些 大量 左右"
#: Words of quantity and comparison: they say how much, never what about ("多少钱以上要上报").
QUANTITY_WORDS = frozenset(_QUANTITY_TEXT.split())

#: Pronouns, modals and adverbs a segmenter leaves glued together ("我能", "能先", "我得"): a word made of
#: these alone says who asks and how, never what about.
_FUNCTION_CHARS = frozenset("我你他她它咱这那能要会可得该先再也还就都又才把被给让")
#: A deictic phrase ("这块", "这一档", "那边"): points at the topic, does not name it.
_DEICTIC = re.compile(r"^[这那]?一?(?:块|档|边|方面|种|类|个|些|项|部分|样|儿|里)$")


def filler(word: str) -> bool:
    """A question word that names no topic: function characters glued by the segmenter, or a deictic."""
    return bool(word) and (all(c in _FUNCTION_CHARS for c in word) or bool(_DEICTIC.match(word)))


#: Markers before an action that forbid it / allow or require it (the rule's own modal words).
PROHIBIT = ("不得", "禁止", "严禁", "不准", "不允许", "不能", "不可以", "不可", "切勿", "杜绝")
DISCOURAGE = ("不要", "不宜", "不应", "不应当", "避免", "不提倡")
PERMIT = ("可以", "可", "能够", "能", "有权", "即可", "允许", "享有", "享受")
REQUIRE = ("必须", "应当", "应该", "应", "须", "需要", "需", "要", "负责")
#: Verbs too general to identify an action ("要做身份验证吗": the object says what is done).
_LIGHT_VERBS_TEXT = "做 办 搞 弄 进行 执行 有 用 去 来 给 帮 让 把 被"
LIGHT_VERBS = frozenset(_LIGHT_VERBS_TEXT.split())
#: Future markers ("将视情节追责"): a yes only right before the action, in its own clause.
WILL = ("将", "会")
