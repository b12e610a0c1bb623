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
_QUOTES = {"“": "”", "「": "」", "『": "』", '"': '"', "‘": "’"}
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
    if _NEGATION.search(before):
        return False
    if not asked and _PROHIBITION.search(text, max(c_start, start - PROHIBITION_WINDOW), start):
        return False
    if not asked and (_DENIED_PROMISE.search(text, c_start, start) or _REPORTED.search(text, c_start, start)):
        return False
    if not asked and _DENIED_AFTER.match(text[end:c_end]):
        return False
    if _CONDITION_AFTER.match(text[end:c_end]):
        return asked
    return asked or not _QUESTION_AFTER.match(text[end:c_end])
