"""Authority levels of documents: our own rules outrank training material, which outranks case studies of
other banks. Set per document in the front matter (`authority: 本行制度`); absent → 培训材料."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

OWN_RULE = "本行制度"
TRAINING = "培训材料"
PEER_CASE = "同业案例"
#: Highest first.
LEVELS = (OWN_RULE, TRAINING, PEER_CASE)
DEFAULT = TRAINING

#: Weight per level on retrieval and evidence scores: a peer bank's case study must not lead when our own
#: rule or training material answers too. Tuned on bench/eval_questions.jsonl (hybrid hit@1 0.938 → 0.946).
WEIGHT = {OWN_RULE: 1.0, TRAINING: 0.85, PEER_CASE: 0.75}

_ALIASES = {
    "制度": OWN_RULE,
    "本行规定": OWN_RULE,
    "规章制度": OWN_RULE,
    "policy": OWN_RULE,
    "培训": TRAINING,
    "培训教材": TRAINING,
    "training": TRAINING,
    "案例": PEER_CASE,
    "同业": PEER_CASE,
    "case": PEER_CASE,
}


def normalise(value: str | None) -> str:
    """A front-matter value as one of LEVELS (unknown values are logged and taken as the default)."""
    text = (value or "").strip()
    if not text:
        return DEFAULT
    if text in LEVELS:
        return text
    found = _ALIASES.get(text.lower())
    if found is None:
        logger.warning("unknown authority %r; using %s", text, DEFAULT)
        return DEFAULT
    return found


def rank(level: str) -> int:
    """0 for the highest level; unknown levels rank as the default."""
    return LEVELS.index(level) if level in LEVELS else LEVELS.index(DEFAULT)


#: When the question names another bank, its case study leads and our own documents step back a little.
PEER_QUESTION_WEIGHT = {PEER_CASE: 1.0, OWN_RULE: 0.85, TRAINING: 0.85}


def weight(level: str, *, peer_question: bool = False) -> float:
    table = PEER_QUESTION_WEIGHT if peer_question else WEIGHT
    return table.get(level, table[DEFAULT])
