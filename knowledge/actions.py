"""A yes/no question's action: the words a sentence must hold to be about what the RM asked to do
("能把客户名单发给同事吗" → 发给 …), and where that action stands in a sentence (evidence, stage 3)."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge import lexicon
from knowledge import question as q_mod
from knowledge.lexical import tokenize, verbs
from knowledge.passages import Unit
from knowledge.question import Question


def single_focus(q: Question) -> set[str]:
    """One-character words that still carry the topic: the action of a yes/no question ("收")."""
    return {q.action} if len(q.action) == 1 else set()


def action_terms(q: Question) -> tuple[tuple[str, ...], bool]:
    """The words (with synonyms) a sentence must contain to be about the question's action: its verbs
    ("把客户名单发给同事" → 发给 …), and its other words for when no sentence has the verbs."""
    if q.kind != q_mod.YES_NO or not q.action:
        return (), False
    # "先不登记证件": the rule is on the action left undone (登记证件), the question's 不 is read by evidence.
    action = q_mod.SKIP.sub("", q.action) if q.skips else q.action
    found = verbs(action)
    main = [w for w in found if w not in lexicon.GENERIC_WORDS and w not in lexicon.LIGHT_VERBS]
    rest = [w for w in tokenize(action, precise=True) if w not in lexicon.GENERIC_WORDS and w not in main]
    if not found and len(rest) >= 2:
        main, rest = [rest[-1]], rest[:-1]  # untagged "客户资料带回家": the verb comes last
    rest = [w for w in rest if w not in lexicon.LIGHT_VERBS]
    # The verb with its object ("介绍产品") too: synonyms are often phrases (介绍产品 → 推销).
    main += [f"{v}{w}" for v in main for w in rest if f"{v}{w}" in action and f"{v}{w}" not in main]
    if main:
        # A specific verb ("带回家") must be found itself: a modal next to the object belongs to another
        # verb ("不得泄露客户的个人信息" says nothing about taking files home).
        return tuple(dict.fromkeys(lexicon.expand(main))), False
    if not rest:
        # Only a light verb ("客户请我吃饭可以去吗" → 去): the rest of the question names the action.
        rest = [
            w
            for w in tokenize(q.text[: q_mod.MAX_CHARS], precise=True)
            if w not in lexicon.GENERIC_WORDS and w not in lexicon.LIGHT_VERBS and len(w) > 1
        ]
        return tuple(dict.fromkeys(lexicon.expand(rest or [action]))), False
    # "要做身份验证吗": the object names the action; a duty earlier in the sentence may cover it.
    return tuple(dict.fromkeys(lexicon.expand(rest))), True


def find_action(unit: Unit, terms: Sequence[str]) -> int:
    """Position of the first action term in the unit's text, -1 when absent (one-character terms must be
    whole words: "收" is not "收益")."""
    best = -1
    for t in terms:
        if len(t) == 1 and t not in unit.tokens:
            continue
        pos = unit.text.find(t)
        if pos >= 0 and (best < 0 or pos < best):
            best = pos
    return best
