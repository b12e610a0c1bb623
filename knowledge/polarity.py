"""The verdict of a rule on an action: yes / no from the modal word before it ("不得泄露" → no)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from knowledge import lexicon
from knowledge.lexical import tokenize, verbs

logger = logging.getLogger(__name__)

_CLAUSE_START = re.compile(r"[，,；;。：:！？]")
_NEGATIVE = tuple(sorted(lexicon.PROHIBIT + lexicon.DISCOURAGE, key=len, reverse=True))


def _markers(words: Sequence[str]) -> re.Pattern[str]:
    # One-character modals only when they are not the start of a noun (要求, 需求, 可能, 能力, 会议 …).
    longest = sorted(words, key=len, reverse=True)
    return re.compile("|".join(w if len(w) > 1 else f"{w}(?![求力用性量见能否议员来计])" for w in longest))


_POSITIVE_RE = _markers(lexicon.PERMIT + lexicon.REQUIRE)
_NEAR_RE = _markers(lexicon.PERMIT + lexicon.REQUIRE + lexicon.WILL)
_MODAL_WINDOW = 14
#: A case the sentence itself judges a counter-example ("在地铁中叫卖…，这是…不应效仿的反面案例"): what it
#: describes is not to be done, though the judgement follows the action.
COUNTER_EXAMPLE = re.compile(r"反面案例|反面教材|反例|不应效仿|不宜效仿|引以为戒")
_CONTINUES = ("并", "且", "同时", "以及", "还")


def verdict(
    text: str, terms: Sequence[str], *, focused: bool, consequence: bool = False
) -> tuple[str | None, str]:
    """yes / no from the modal word before the action. In the action's own clause a prohibition wins
    ("不得泄露" → no), then a permission, duty or future ("应先了解", "将视情节追责"). Earlier in the
    sentence only a permission or duty counts, in a sentence without a prohibition, and only when the
    sentence is about the question's topic (`focused`): "应在开户环节…，做好客户身份验证". A question about
    what befalls someone (`consequence`, "会被通报吗") also takes a future earlier in the sentence: "将视情节
    追责，措施包括…通报批评"."""
    earlier = _NEAR_RE if consequence else _POSITIVE_RE
    positive = ""
    for t in terms:
        pos = text.find(t)
        while pos >= 0:
            before = text[:pos]
            parts = _CLAUSE_START.split(before[-2 * _MODAL_WINDOW :])
            clause = parts[-1][-_MODAL_WINDOW:]
            # "应记录…，并及时回复" / "应主动联系客户，发送祝福": the duty carries over to the next verb.
            if len(parts) > 1 and (not clause.strip() or clause.lstrip().startswith(_CONTINUES)):
                clause = parts[-2] + clause
            for marker in _NEGATIVE:
                if marker in clause:
                    return "no", marker
            near = _NEAR_RE.search(clause)
            if near:
                return "yes", near.group(0)
            sentence = re.split(r"[。！？]", before)[-1]
            if focused and not positive and not any(n in sentence for n in _NEGATIVE):
                found = earlier.search(sentence)
                positive = found.group(0) if found else ""
            after = re.split(r"[。！？]", text[pos:])[0]
            counter = COUNTER_EXAMPLE.search(after)
            if counter:
                return "no", counter.group(0)
            pos = text.find(t, pos + 1)
    return ("yes", positive) if positive else (None, "")


def objects(action: str) -> tuple[str, ...]:
    """The words after the action's first verb ("推荐高风险产品" → 高风险, 产品): what is done."""
    found = [v for v in verbs(action) if v not in lexicon.LIGHT_VERBS and v not in lexicon.GENERIC_WORDS]
    if not found:
        return ()
    pos = action.find(found[0])
    rest = action[pos + len(found[0]) :] if pos >= 0 else ""
    words = tokenize(rest, precise=True)
    return tuple(w for w in words if len(w) > 1 and w not in lexicon.GENERIC_WORDS and w not in found)


def names_all(text: str, words: Sequence[str]) -> bool:
    """Every word (or one of its synonyms) is in `text`."""
    return all(any(a in text for a in lexicon.synonyms(w)) for w in words)


_GRANTS = re.compile(r"享有|可享受|享受|配有")
_LIMITS = re.compile(r"不|未|仅|只|除")


def entitled(text: str, tier: str, words: Sequence[str]) -> tuple[str | None, str]:
    """yes when a clause of `text` grants everything asked (`words`) to `tier` alone, without a limit or
    negation ("白金客户享有…投资顾问服务"); otherwise no verdict (never a no: silence is not a refusal)."""
    if not words:
        return None, ""
    for clause in _CLAUSE_START.split(text):  # "钻石客户享有…，白金客户享有投资顾问服务": its own clause
        grant = _GRANTS.search(clause)
        alone = lexicon.tiers_in(clause) == (tier,) and not _LIMITS.search(clause)
        if grant and alone and names_all(clause, words):
            return "yes", grant.group(0)
    return None, ""
