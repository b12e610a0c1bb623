"""The text side of the conduct rules (`knowledge/conduct.py`): clauses and sentences, whether a match is
stated or denied, asked, forbidden or quoted, the filler removed before matching, and the table's macros.
Pure functions on strings."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

logger = logging.getLogger(__name__)

#: Ends a clause: a negation or an `unless` word only counts inside the clause of the match.
_CLAUSE_END = re.compile(r"[，,。；;！!？?\n]")
_SENTENCE_END = re.compile(r"[。；;！!？?\n]")
#: How far before a match a negation is looked for (characters, within the clause).
NEGATION_WINDOW = 8
#: A prohibition reaches further: "不得向客户承诺保本或保证收益" is the rule, not a promise.
PROHIBITION_WINDOW = 16
_PROHIBITION = re.compile(
    r"不得|禁止|严禁|切勿|不能|不可|不要|不准|杜绝|避免|不应|不宜|防止|严防|不允许|谨防|警惕"
)
_NEGATION = re.compile(r"不|非|无|没|未|别|勿|禁止|严禁|杜绝|防止|避免|切忌|是否|能否|可否|谨防|警惕|远离")
#: Words that contain a negation character but negate nothing ("不管…都保本", "非常安全", "未来").
_NOT_NEGATION = re.compile(
    r"不管|不论|无论|不仅|不但|不只|不光|不用担心|不必担心|别担心|不要担心|无需担心|无须担心|不怕|不错|不少|"
    r"不久|不过|不妨|非常|未来|无限|无忧|毫无疑问|没问题|没得说|别犹豫|不用犹豫|不要犹豫|别错过|不要错过|"
    r"千万别错过|无比|无敌"
)
#: Quotation marks: a promise in quotes next to a warning ("“稳赚不赔”的广告别信") is cited, not made.
#: The straight ones open and close alike ("'保本高收益'平台").
_QUOTES = {"“": "”", "「": "」", "『": "』", "‘": "’"}
_STRAIGHT_QUOTES = "\"'"
_CLOSERS = frozenset(_QUOTES.values())
_DISTANCING = re.compile(
    r"不|别|勿|没|小心|谨慎|警惕|轻信|当心|所谓|这种|那种|这类|那类|之类|类似|广告|宣传|骗|假的|谣言"
)
#: Spaces, emoji and invisible characters: removed before matching (see `without_filler`).
_FILLER = re.compile(
    "[ \t\u00a0\u3000\u200b-\u200f\u2060\ufeff\ufe0e\ufe0f\u2300-\u23ff\u2600-\u27bf"
    "\u2b00-\u2bff\U0001f000-\U0001faff]"
)
#: An A-not-A question inside a match ("收益能不能到5%") asks; it states nothing.
_A_NOT_A = re.compile(r"(能|会|是|有|可|要|敢)[不没]\1")
_ASKING = re.compile(r"是不是|是否|能不能|会不会|有没有|可不可以|能否")
_QUESTION_AFTER = re.compile(r"^(?:的|了)?(?:吗|么|嘛|与否|[?？])")
#: A promise the writer says they cannot make ("我没法保证这只基金今年一定涨"): the whole clause after it.
_DENIED_PROMISE = re.compile(
    r"(?:没法|无法|不能|不敢|没办法|不可能|不会|不)(?:向您|给您|跟您|对您)?(?:保证|承诺|担保|打包票|许诺)"
)
#: What someone else says, reported to warn ("如果有人跟您说保本，一定要小心").
_REPORTED = re.compile(r"(?:有人|别人|外人|其他人|谁)(?:跟|对|和|给)?(?:您|你)?(?:说|讲|承诺|保证|宣传|推销)")
#: Denied right after ("预计年化收益无法确定").
_DENIED_AFTER = re.compile(
    r"^[^，,。；;！!？?]{0,4}?(?:无法|没法|不能)(?:确定|预估|预测|保证|承诺)|^(?:不确定|不固定|不保证)"
)
#: A condition, not a claim ("要本金有保障的话，只有存款").
_CONDITION_AFTER = re.compile(r"^的话")
#: Words that warn against a claim ("千万别信", "多留个心眼", "是骗局"), looked for in the sentence of a
#: claim attributed to others: then the sentence reports the claim, it does not make it.
_WARNING = re.compile(
    r"别信|不要信|不要相信|别相信|不可信|不能信|信不得|千万别(?!错过|犹豫|担心|客气)|"
    r"(?:小心|当心)(?!别?错过|买不到|抢不到|没了|卖完|晚了)|心眼|提防|警惕|谨防|防范|骗局|骗子|诈骗|"
    r"骗人的|骗钱|被骗|受骗|陷阱|忽悠|套路|不靠谱|不正规|非法|违规|牌照|假的|上当|别投|不要投|别碰|不要碰|"
    r"远离|擦亮眼|三思|别听|不要听|(?:是|都是|根本)不存在|没有这(?:种|样|回)"
)
#: Who or what a claim is attributed to, before it in its clause ("网上那种", "所谓", "任何人跟您说").
_ATTRIBUTED = re.compile(
    r"所谓|号称|声称|宣称|鼓吹|吹嘘|标榜|打着|那种|这种|那些|这类|那类|某些|有些|一些|什么|"
    r"(?:人|别人|他们|外面|网上|朋友|亲戚|平台|机构|公司|中介|广告|短视频|直播)"
    r"(?:都)?(?:跟|对|和|给|向)?(?:您|你)?(?:说|讲|承诺|保证|宣传|推销|推荐|吹)"
)
#: ... or labelled as a claim right after it ("保本高收益的骗局", "稳赚这种话").
_CLAIM_AFTER = re.compile(
    r"^[的之类]{0,3}(?:这种|那种|这类|之类)?(?:说法|话|宣传|广告|骗局|陷阱|套路|噱头|幌子|口号|字眼|承诺|平台|项目)"
)
#: "No product can…" ("没有哪款产品能保证稳赚", "世上不存在零风险的投资"): the whole clause after it is
#: denied, unless a second negation turns it back ("没有哪个客户不是稳赚的") or it compares ("没有哪款像它
#: 一样稳").
_NO_SUCH = re.compile(
    r"(?:没有|没|哪有|哪来的?|不存在|不会有)(?:哪|任何|什么|一(?:款|只|个|家|种|样)|谁|人)|"
    r"(?:谁|任何人|任何机构|任何产品)(?:都|也)(?:不能|不敢|没法|无法|不会)"
)
_TURNED_BACK = re.compile(r"不|非|没|无|比|像|如|一样|似的|及")
#: The writer declines an act for the client ("题目我不能替您选"): a negation before the act inside the
#: match. (A negation before a loss, "不会亏", is the promise itself.)
_DENIED_ACT = re.compile(
    r"(?:不能|不会|不可以|不可|不得|无法|没法|不便|不该|不应|不|别|勿)(?:再|帮|随便)?(?:替|帮|代|给)(?:您|你|客户)"
    r"[^，,。；;！!？?]{0,6}?(?:填|选|做|勾|答|签|改|调|测|操作|弄|写)"
)
#: The client's own wish ("您说想要保本的"), answered in its sentence with deposits or bonds, is not
#: the writer's promise ("您要是想稳赚，就买这款" is).
_WISH = re.compile(
    r"(?:您|你|客户)(?:说|要是|如果|若是?|是)?(?:只|就|更|比较|主要)?"
    r"(?:想|想要|希望|需要|追求|看重|在意|在乎|要求|偏好|喜欢|倾向)(?:的是|的|个|一个|那种)?$"
)
#: A deposit (or a government bond) is principal-protected in fact: a promise said of one, with no
#: other product named beside it and no comparison with one, is a fact ("大额存单是保本保息的存款产品";
#: not "这个产品保本，跟国债一样").
_DEPOSIT = re.compile(r"存款|存单|定存|定期(?!定额|定投|开放)|国债|储蓄(?!险)")
_NOT_DEPOSIT = re.compile(
    r"理财|基金|债基|信托|(?<!存款)保险|保单|年金|股票|私募|资管|净值|(?<!存款)产品|这款|这只|那款|那只|它|"
    r"这个|那个|[Rr][1-5]|比(?!较)|跟|像|如同|一样|相当于|等于|等同|差不多|媲美"
)
#: What a superlative or urgency is said of: a school, a hospital, an appointment, a meal, a service
#: notice ("全省最好的高中", "体检预约最后一天") is no product, unless the message talks products or money.
_OTHER_SUBJECT = re.compile(
    r"学校|高中|初中|小学|大学|幼儿园|考上|考试|成绩|中考|高考|老师|医院|医生|专家号|科室|体检|挂号|门诊|"
    r"手术|住院|药|餐厅|饭店|馆|菜|小吃|酒店|民宿|景点|景区|天气|生日|婚礼|讲座|活动|沙龙|"
    r"网点|营业|柜台|停车|车位|排队|证件|身份证|护照|报名|课程|航班|机票|高铁|演出|门票|电影|书|快递|预约|"
    r"医保|社保|公积金|签证|房子|小区"
)
_PRODUCT_TALK = re.compile(
    r"理财|基金|信托|保险|保单|年金|产品|收益|年化|净值|认购|申购|[Rr][1-5]|投资|股票|债|存单|存款|利率|利息|"
    r"回报|分红|费率|配置|购买|买入|下单|额度|打款|转账|这款|这只|上车|入手|持仓|资管|私募|黄金|业绩|"
    r"本金|钱|价格|优惠|费用|[0-9０-９]+\s?(?:%|％|万|元)"
)
#: Dialect forms mapped to Mandarin, each to a string of the same length so that positions still hold
#: (Cantonese "唔会蚀本", Shanghainese "勿会少", Northeastern "指定不带亏").
_DIALECT_PAIRS = (
    "唔会=不会 唔系=不是 唔使=不用 唔好=不要 唔=不 冇=没 蚀本=亏本 蚀钱=亏钱 蚀=亏 稳阵=稳当 梗系=肯定 嘅=的 "
    "咗=了 㗎=的 勿会=不会 勿要=不要 侬=您 钞票=本金 老稳=很稳 带亏=会亏 带赔=会赔 指定不=肯定不 "
    "指定能=肯定能 指定赚=肯定赚 贼稳=很稳 妥妥滴=妥妥的 杠杠滴=杠杠的"
)
_DIALECT = dict(pair.split("=") for pair in _DIALECT_PAIRS.split())
_DIALECT_RE = re.compile("|".join(sorted(map(re.escape, _DIALECT), key=len, reverse=True)))


def without_filler(text: str) -> tuple[str, list[int] | None]:
    """The text without what can split a word and means nothing to the rules — spaces between Chinese
    characters ("保 本"), emoji ("稳赚💰不赔"), zero-width characters — and, for each character kept, its
    index in `text` (None: nothing was removed)."""
    if not _FILLER.search(text):
        return text, None
    kept: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if _FILLER.match(ch):
            if not ch.isspace():
                continue
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if before.isascii() and before.isalnum() and after.isascii() and after.isalnum():
                kept.append(ch)  # "capital protected", "R 4" keep their space
                where.append(i)
            continue
        kept.append(ch)
        where.append(i)
    return "".join(kept), where


def mandarin(text: str) -> str:
    """`text` with its dialect forms in Mandarin, of the same length (a span found in it is the same span
    of `text`)."""
    return _DIALECT_RE.sub(lambda m: _DIALECT[m.group(0)], text)


def expand(pattern: str, macros: Mapping[str, str]) -> str:
    """`{NAME}` in a pattern is the table's macro NAME (a number, a rate, an amount), expanded until none
    is left; a quantifier such as `{0,4}` is no macro name."""
    for _ in range(5):
        expanded = re.sub(r"\{([A-Z]+)\}", lambda m: macros.get(m.group(1), m.group(0)), pattern)
        if expanded == pattern:
            break
        pattern = expanded
    return pattern


def _a_not_a(text: str, start: int) -> bool:
    """The match opens with the negative half of an A-not-A question ("会不会亏", "有没有风险")."""
    return 0 < start < len(text) - 1 and text[start] in "不没" and text[start - 1] == text[start + 1]


def _quoted_warning(text: str, start: int, end: int) -> bool:
    """The match lies inside quotation marks in a sentence that warns against or disowns what is quoted
    ("外面说“稳赚不赔”的都要小心", "“亏了算我的”这种话我们不会说")."""
    s_start, s_end = sentence_start(text, start), sentence_end(text, end)
    for mark in _STRAIGHT_QUOTES:  # inside when an odd number of them opens before the match
        if text.count(mark, s_start, start) % 2 == 1:
            j = text.find(mark, end, s_end)
            if j >= 0:
                i = text.rfind(mark, s_start, start)
                outside = text[s_start:i] + "　" + text[j + 1 : s_end]
                return bool(_DISTANCING.search(outside))
    for i in range(start - 1, s_start - 1, -1):
        close = _QUOTES.get(text[i])
        if close is None:
            if text[i] in _CLOSERS:
                return False
            continue
        j = text.find(close, end, s_end)
        if j < 0:
            return False
        outside = text[s_start:i] + "　" + text[j + 1 : s_end]
        return bool(_DISTANCING.search(outside))
    return False


def _claimed_by_others(text: str, start: int, end: int, c_start: int, c_end: int) -> bool:
    """The match is a claim attributed to others ("任何人跟您说保本…", "谨防保本高收益的骗局") in a
    sentence that warns against it."""
    attributed = _ATTRIBUTED.search(text, max(c_start, start - 12), start) or _CLAIM_AFTER.match(
        text[end:c_end]
    )
    if not attributed:
        return False
    s_start, s_end = sentence_start(text, start), sentence_end(text, end)
    return bool(_WARNING.search(text[s_start:start] + "　" + text[end:s_end]))


def _no_such(text: str, start: int, c_start: int) -> bool | None:
    """True: the clause says "no product can…" before the match and nothing turns it back; False: a
    second negation turns it back ("没有哪个客户不是稳赚的" affirms); None: no such words."""
    last = None
    for m in _NO_SUCH.finditer(text, c_start, start):
        last = m
    if last is None:
        return None
    between = _NOT_NEGATION.sub("　", text[last.end() : start])
    if _NEGATION.search(between):
        return False
    return not _TURNED_BACK.search(between)


def said_of_a_deposit(text: str, start: int, end: int) -> bool:
    """The match's clause, or else its sentence, names a deposit (or a government bond) and no other
    product: what is true of deposits ("到期一分不少") is then a fact, not a promise."""
    for a, b in (
        (clause_start(text, start), clause_end(text, end)),
        (sentence_start(text, start), sentence_end(text, end)),
    ):
        if _DEPOSIT.search(text, a, b):
            return not _NOT_DEPOSIT.search(text, a, b)
    return False


def about_something_else(text: str, start: int, end: int) -> bool:
    """The match's sentence is about something other than a product (a school, a hospital, an
    appointment, a meal) and the message names no product, investment or money."""
    if _PRODUCT_TALK.search(text):
        return False
    return bool(_OTHER_SUBJECT.search(text, sentence_start(text, start), sentence_end(text, end)))


def clause_start(text: str, at: int) -> int:
    for i in range(at - 1, -1, -1):
        if _CLAUSE_END.match(text[i]):
            return i + 1
    return 0


def clause_end(text: str, at: int) -> int:
    m = _CLAUSE_END.search(text, at)
    return m.start() if m else len(text)


def sentence_start(text: str, at: int) -> int:
    for i in range(at - 1, -1, -1):
        if _SENTENCE_END.match(text[i]):
            return i + 1
    return 0


def sentence_end(text: str, at: int) -> int:
    m = _SENTENCE_END.search(text, at)
    return m.start() if m else len(text)


def stated(text: str, start: int, end: int, *, asked: bool = False) -> bool:
    """The span `text[start:end]` is said, not denied, forbidden, asked about or quoted to warn against.

    `asked`: a question about it counts too (what RMs ask the assistant)."""
    c_start, c_end = clause_start(text, start), clause_end(text, end)
    if _a_not_a(text, start) or _A_NOT_A.search(text, start, end) or _quoted_warning(text, start, end):
        return asked
    before = _NOT_NEGATION.sub("　", text[max(c_start, start - NEGATION_WINDOW) : start])
    if asked:  # "是不是保本" asks about the promise; it does not deny it
        before = _ASKING.sub("　", before)
    no_such = None if asked else _no_such(text, start, c_start)
    if no_such is not None:
        return not no_such and not _QUESTION_AFTER.match(text[end:c_end])  # two negations affirm
    if _NEGATION.search(before):
        return False
    if not asked and _PROHIBITION.search(text, max(c_start, start - PROHIBITION_WINDOW), start):
        return False
    if not asked and (_DENIED_PROMISE.search(text, c_start, start) or _REPORTED.search(text, c_start, start)):
        return False
    if not asked and (
        _claimed_by_others(text, start, end, c_start, c_end)
        or _DENIED_ACT.search(text, c_start, end)
        or (
            _WISH.search(text[max(c_start, start - NEGATION_WINDOW) : start])
            and _DEPOSIT.search(text, sentence_start(text, start), sentence_end(text, end))
        )
    ):
        return False
    if not asked and _DENIED_AFTER.match(text[end:c_end]):
        return False
    if _CONDITION_AFTER.match(text[end:c_end]):
        return asked
    return asked or not _QUESTION_AFTER.match(text[end:c_end])
