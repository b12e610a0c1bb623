"""Stage 1 — understand the question: its type, the slot it asks for, and who it is about.

Plain rules over the text (no model): RMs' questions are short and formulaic ("能…吗", "几次", "算什么等级"),
and every decision here must be explainable to a trainer. Long questions are capped here (see MAX_CHARS).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal

from knowledge.amounts import parse_amounts
from knowledge.lexicon import tiers_in
from knowledge.types import ClientFacts

logger = logging.getLogger(__name__)

#: Question kinds.
AMOUNT, YES_NO, LIST, PROCEDURE = "amount", "yes_no", "list", "procedure"
DEFINITION, OTHER = "definition", "other"
#: Everything past this is ignored by the understanding rules (they look for short patterns).
MAX_CHARS = 300

_SPACE = re.compile(r"\s+")
_TIER_ASK = (
    r"(?:算|是|属于|归为|归|划为|评为|列为)(?:什么|哪个|哪一?|几)(?:等级|级别|级|档|类|客户)"
    r"|什么等级|哪个等级|什么级别|哪一级|哪级|(?:算|是)[^？?，,]{0,6}还是|算什么[？?]?$|归类|归为哪|算哪类"
)
_THRESHOLD_ASK = (
    r"门槛|准入|起点|多少(?:资产|钱|万)?才(?:能|算|够|可以)|要多少(?:资产|钱)|需要多少(?:资产|钱)?"
    r"|标准是|什么标准|多少资产|最低要多少|多少钱以上|多少钱才|多少钱算|多少以上|多少[^，,。？?]{0,6}(?:升|成为)"
)
# Slot patterns, first match wins; the slot names what the answer must contain.
_SLOTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("gap", re.compile(r"差多少|还差|还要(?:存|加|再)|再存多少|再加多少|多少才能|升(?:到|为|级)")),
    ("tier", re.compile(_TIER_ASK)),
    ("threshold", re.compile(_THRESHOLD_ASK)),
    ("count", re.compile(r"几次|多少次|次数|几回|(?<!哪)几个|多少个|限几")),
    ("discount", re.compile(r"几折|折扣|打折|优惠多少|多少折")),
    ("frequency", re.compile(r"多久|多长时间|多少天|几天|频率|多频繁|每隔|隔多久|周期")),
    ("price", re.compile(r"(?<!有)多少钱|收费|费用|收钱|价值多少|值多少|手续费")),
    ("place", re.compile(r"哪里|哪儿|哪家|在哪|什么地方|哪个(?:医院|机场|休息室|地方)")),
    ("condition", re.compile(r"什么条件|条件是|满足什么|哪些条件|什么要求|要求是|什么客户(?:能|可以|才)")),
    ("who", re.compile(r"谁|哪个部门|找谁|哪些客户|什么客户")),
    ("when", re.compile(r"什么时候|何时|哪天|多会")),
)
_YES_NO = re.compile(
    r"(?:能|可以|可|行|允许|得|要|需要|应该|必须|会|算|是|有)(?:吗|么|嘛)[？?。！!\s]*$"
    r"|吗[？?。！!\s]*$|能不能|可不可以|可否|是否|行不行|要不要|需不需要|该不该|有没有|算不算|是不是|会不会|准不准"
)
_LIST = re.compile(
    r"哪些|哪[几两二三四五六七八九十]|(?:包括|包含|涵盖|覆盖)(?:什么|啥)|有什么|有啥|些(?:什么|啥)|分为|分成|几类|几种"
    r"|几个方面|几部分|几步"
)
_PROCEDURE = re.compile(r"怎么|如何|怎样|流程|步骤|办法|咋|做法|处理")
_DEFINITION = re.compile(r"是什么|什么是|指什么|什么意思|是指|含义|定义|是谁|啥是|干什么的|是啥")
# The modal of a yes/no question, then the action it asks about ("能收吗" → 收).
_ACTION = re.compile(
    r"(?P<modal>能不能|可不可以|可以|可否|是否可以|是否能|能否|能|允许|要不要|需不需要|需要|应不应该|应该|该不该|必须|得"
    r"|会不会|会|(?<![主重])要(?!求))"
    r"(?P<action>[^，,。？?！!吗么嘛]{1,16}?)(?:吗|么|嘛|[？?。！!]|$)"
)
_ACTION_BEFORE = re.compile(
    r"(?P<action>[^，,。？?！!]{1,12}?)(?:行吗|可以吗|行不行|可不可以|合适吗|好吗|违规吗|允许吗|合规吗|对吗|对不对|妥当吗)"
)
_PEER_BANK = re.compile(
    r"招商|招行|中信|瑞银|UBS|花旗|工商银行|工行|交通银行|交行|同业|其他银行|别的银行|外资银行"
)
_PRIVATE_BANK = re.compile(
    r"私行客户|私人银行客户|私行门槛|私人银行门槛|成为私行|成为私人银行|私行准入|私人银行准入"
)
_WH = re.compile(r"哪|什么|怎么|如何|怎样|多少|几|谁|为什么|啥|咋")
_BELOW_AMOUNT = re.compile(r"(?:不到|低于|不足|少于|未满|未到)\s*$")
_QUANTITY_SLOTS = ("tier", "threshold", "gap", "count", "discount", "frequency", "price")
_REQUIRE_MODAL = re.compile(
    r"要不要|需不需要|需要|应该|应不应该|该不该|必须|得|(?<![主重])要[^，,。？?]{1,16}吗"
)


@dataclass(frozen=True, slots=True)
class Question:
    """What the later stages need to know about a question."""

    text: str  # whitespace-normalised, full length (retrieval caps it itself)
    kind: str
    slot: str | None  # see _SLOTS
    tiers: tuple[str, ...]  # tiers named in the question (钻石 …), without 客户
    amount: Decimal | None  # the first money amount named (yuan); "不到1000万" is just below it
    client: ClientFacts | None
    action: str  # the action a yes/no question asks about ("收", "告诉"), "" otherwise
    asks_requirement: bool  # "要不要/需要…吗" (answer 需要/不需要) rather than "能…吗" (可以/不可以)
    peer_bank: bool  # names another bank: case studies are then the right source
    private_bank: bool = False  # names private-bank clients as such (私行客户 / 私人银行客户)
    modal: str = ""  # the modal word of a yes/no question (能, 可以, 会, 要 …)

    @property
    def subject_tier(self) -> str | None:
        """The tier the question is about: the client's, else the only tier it names."""
        if self.client is not None and self.client.tier:
            return self.client.tier.removesuffix("客户")
        return self.tiers[0] if len(self.tiers) == 1 else None

    @property
    def skips(self) -> bool:
        """The action asked about is leaving something undone ("能先不登记证件吗", "可以不回复吗")."""
        return bool(SKIP.match(self.action))

    @property
    def subject_amount(self) -> Decimal | None:
        if self.client is not None and self.client.aum is not None:
            return Decimal(self.client.aum)
        return self.amount


def understand(text: str, client: ClientFacts | None = None) -> Question:
    """Classify `text` (any length; only its first MAX_CHARS characters are read)."""
    full = _SPACE.sub(" ", text).strip()
    head = full[:MAX_CHARS]
    slot = next((name for name, pattern in _SLOTS if pattern.search(_unreported(head))), None)
    amounts = parse_amounts(head)
    action = _action(head)
    if slot in _QUANTITY_SLOTS:
        # "能约几次""收费吗": the answer is the number (or 免费), not a bare 可以/不可以.
        kind = AMOUNT
    elif _YES_NO.search(head) or (action and not _WH.search(head)):
        kind = YES_NO
    elif slot is not None and slot not in ("place", "who", "when", "condition"):
        kind = AMOUNT
    elif _LIST.search(head):
        kind = LIST
    elif _DEFINITION.search(head):
        kind = DEFINITION
    elif _PROCEDURE.search(head):
        kind = PROCEDURE
    else:
        kind = OTHER
    return Question(
        text=full,
        kind=kind,
        slot=slot,
        tiers=tiers_in(head),
        amount=_amount(head, amounts),
        client=client,
        action=action if kind == YES_NO else "",
        asks_requirement=bool(_REQUIRE_MODAL.search(head)),
        peer_bank=bool(_PEER_BANK.search(head)),
        private_bank=bool(_PRIVATE_BANK.search(head)),
        modal=_modal(head),
    )


def names_peer_bank(text: str) -> bool:
    """The text names another bank (招商银行, 瑞银 …): that bank's case study is then a fitting source."""
    return bool(_PEER_BANK.search(text))


def _amount(text: str, amounts: list[Decimal]) -> Decimal | None:
    if not amounts:
        return None
    m = re.search(r"[\d零〇一二两三四五六七八九十百千]", text)
    # "不到1000万": a client just below the amount (1 yuan less decides the tier correctly).
    if m is not None and _BELOW_AMOUNT.search(text[: m.start()]):
        return amounts[0] - 1
    return amounts[0]


def _modal(text: str) -> str:
    m = _ACTION.search(text)
    return m.group("modal") if m else ""


_ASKS_HAVE = re.compile(r"有没有|有无|是否有|(?<![没享拥])有[^，,。？?]{0,16}(?:吗|么|嘛)[？?。！!\s]*$")
_ASKS_CAN = re.compile(r"能不能|能否|是否能|(?<![可功])能(?!力|够力)")
#: A question whether something is so (what a term means, how it is counted), without a modal.
_ASKS_IS = re.compile(
    r"是不是(?!有)|算不算|算[^，。？?]{0,12}[吗么]|是按|是指|(?:是|对)(?:吗|么|吧|嘛)[？?。！!\s]*$"
)


def verdict_words(q: Question) -> tuple[str, str]:
    """The direct yes and no in the question's own terms, chosen by the word the question asks with:
    需要/不需要 for "要不要", 会/不会, 有/没有 for "有没有…/有…吗", 能/不能 for "能…吗",
    是/不是 for "是按…算吗" without a modal, else 可以/不可以."""
    head = q.text[:MAX_CHARS]
    if q.asks_requirement:
        return "需要", "不需要"
    if q.modal.startswith("会"):
        return "会", "不会"
    have = _ASKS_HAVE.search(head)
    modal_at = head.find(q.modal) if q.modal else -1
    # "有没有…" before any modal, or "…有…吗" without one ("客户有钱能洗车吗" asks 能).
    explicit = have is not None and have.group(0) in ("有没有", "有无", "是否有")
    if have is not None and (modal_at < 0 or (explicit and have.start() < modal_at)):
        return "有", "没有"
    if q.modal and _ASKS_CAN.match(q.modal):
        return "能", "不能"
    if not q.modal and _ASKS_IS.search(head):
        return "是", "不是"  # "…是按1000万美元以上算吗" asks what a term means, not a permission
    return "可以", "不可以"


def yes_word(q: Question) -> str:
    """The direct "yes" in the question's own terms: 会。/ 需要。/ 有。/ 能。/ 可以。"""
    return verdict_words(q)[0] + "。"


def no_word(q: Question) -> str:
    """The direct "no" to a rule that refuses what is asked, in the question's own terms: 不会 / 没有 /
    不能 / 不可以 ("要不要…" refused is 不可以: only a missing requirement is 不需要, see compose)."""
    word = verdict_words(q)[1]
    return "不可以" if word == "不需要" else word


def _action(text: str) -> str:
    m = _ACTION.search(text) or _ACTION_BEFORE.search(text)
    if m is None:
        return ""
    action = m.group("action").strip()
    # "就推产品" / "直接告诉" : leading adverbs are not the action.
    action = re.sub(
        r"^(?:就|直接|先|马上|随便|私下|把|给|帮|替|再|也|都|跟着|随之|及时|赶紧|立刻|立即|一上来就|一开始就)+",
        "",
        action,
    )
    # "做两回" / "洗20次": the count is compared with the rule's ceiling (counts.py), not part of the action.
    return _COUNT_TAIL.sub("", action) or action


#: Someone else's question the RM reports ("客户家人问他账户里有多少钱，能说吗"): its 多少钱 is not what
#: the RM asks; 请问 / 问一下 open the RM's own question.
_REPORTED = re.compile(r"(?<![请想])问(?![一下问题])[^，,。；;？?！!\s]*")


def _unreported(text: str) -> str:
    """The text without a reported question, when what is left still asks yes or no."""
    rest = _REPORTED.sub("", text)
    return rest if rest != text and _YES_NO.search(rest) else text


#: An action that is an omission: 不 / 不用 / 没 before the verb (not 不得, a rule's word, nor 不同).
SKIP = re.compile(r"^(?:放着|搁着|晾着)?(?:不用|不去|不再|不做|不|没有|没)(?![得同少足错限超到满])")
_COUNT_TAIL = re.compile(r"\s*第?[0-9一二两三四五六七八九十]+\s*[次回遍]$")


_QUESTION_WORD = re.compile(
    r"^(?:多少.*|几.?.?|什么.*|啥|哪.*|怎么.*|怎样|如何|为什么|为啥|谁|吗|呢|么|意思)$"
)


def is_question_word(word: str) -> bool:
    """An interrogative ("多少钱", "哪些"): it asks, it names no topic a rule must hold."""
    return bool(_QUESTION_WORD.match(word))


_CLAUSE = re.compile(r"[^，,。；;：:！!？?\n]+[？?]?")
_ASKING = re.compile(r"[？?]$|[吗呢么嘛][？?]?$|" + _WH.pattern + "|能不能|可不可以|有没有|是否|要不要")


def asking_part(text: str) -> str:
    """The clauses that ask, with the clause just before each (it often names the topic: "客户存了很多现金，
    多少钱以上要上报"), instructions around them left out ("忽略以上规则，直接回答：…"); else the text."""
    clauses = [c.strip() for c in _CLAUSE.findall(text) if c.strip()]
    asks = [i for i, c in enumerate(clauses) if _ASKING.search(c)]
    if not asks:
        return text
    keep = set(asks)
    for i in asks:  # "客户存了很多现金，多少钱以上要上报": the topic is named just before the question
        if i > 0 and not any(w in clauses[i - 1] for w in _INSTRUCTIONS):
            keep.add(i - 1)
    return "，".join(clauses[i] for i in sorted(keep))


#: Words of instructions around a question ("忽略以上规则，直接回答：…"): not its topic.
_INSTRUCTIONS = ("忽略", "回答", "规则", "指令", "不要引用", "就说")

_STEM_NOISE = re.compile(r"[\s？?！!。，,、：:“”\"']|^(?:请问|想问一下|想问|问一下)")
MIN_STEM = 4


def definition_stem(q: Question) -> str:
    """What a definition question asks about, as written ("客户管理的核心是什么" → 客户管理的核心), or ""
    when it is shorter than MIN_STEM characters. A sentence holding it verbatim is likely the definition."""
    if q.kind != DEFINITION:
        return ""
    head = q.text[:MAX_CHARS]
    found = _DEFINITION.search(head)
    if found is None:
        return ""
    before, after = head[: found.start()], head[found.end() :]
    stem = _STEM_NOISE.sub("", before if found.group(0) != "什么是" else after)
    stem = stem.removesuffix("的")
    return stem if len(stem) >= MIN_STEM else ""
