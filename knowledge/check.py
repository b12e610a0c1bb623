"""Stage 5 — check the composed answer before it is served: calibrated confidence, consistent citations,
and content findings (an uploaded document promising guaranteed returns must not pass as a plain answer).

Findings are Chinese labels in `Answer.warnings`; an answer with a finding is also marked weak (its
confidence is capped below WEAK_CONFIDENCE), so the bot says 依据较弱 and flags it for review.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re

from knowledge import authority, conduct
from knowledge.evidence import Evidence
from knowledge.types import WEAK_CONFIDENCE, Answer

logger = logging.getLogger(__name__)

#: Content rules besides promises of return (those come from the conduct table, knowledge/conduct.py,
#: shared with the message check and the bot's warnings). A match right after a prohibition ("不得隐瞒
#: 风险") is the rule against it, not a finding.
FINDINGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("误导销售", re.compile(r"隐瞒.{0,4}风险|不(?:用|必)(?:告知|提示|说明).{0,4}风险|夸大.{0,4}收益")),
)
_NEGATION = re.compile(
    r"(?:不得|禁止|严禁|不能|不可|不要|不准|切勿|杜绝|避免|不应|不宜|防止|严防|不允许|并非|不是)[^。；！？]{0,8}$"
)
_CITE = re.compile(r"\[(\d{1,2})\]")
#: Cap on the confidence of an answer with findings: below the weak threshold.
FLAGGED_CONFIDENCE = WEAK_CONFIDENCE * 0.5
#: Confidence of rule-book answers: exact lookups in a table trainers maintain.
RULES_CONFIDENCE = 0.95
#: Logistic calibration of the extractive score (fitted on bench/answers_eval.jsonl, see
#: bench/bench_answers.py --calibrate): confidence = 1 / (1 + exp(-(A * score + B))).
#: Fit: 41 extractive answers, 93% judged correct; the scores of the 3 wrong ones are as high as the
#: correct ones', so the fit mostly sets the level (~0.7-0.95), not the order.
VERDICT_MISSING_PENALTY = 6.0
CALIBRATION_A = 0.64
CALIBRATION_B = 1.59


def findings(texts: list[str]) -> tuple[str, ...]:
    labels: list[str] = list(conduct.promise_labels(texts))
    for label, pattern in FINDINGS:
        for text in texts:
            if any(not _NEGATION.search(text[: m.start()]) for m in pattern.finditer(text)):
                labels.append(label)
                break
    return tuple(labels)


def score(ev: Evidence) -> float:
    """The uncalibrated strength of extractive evidence (about -1 … 2)."""
    s = 2.0 * (ev.coverage - 0.5) + 10.0 * (ev.top_dense - 0.87) + 1.0 * (ev.focus - 0.5)
    if ev.verdict is not None:
        s += 0.5
    if ev.missing == "verdict":
        s -= VERDICT_MISSING_PENALTY  # a related rule, not an answer: always weak
    s += {authority.OWN_RULE: 0.3, authority.TRAINING: 0.0, authority.PEER_CASE: -0.5}.get(
        ev.lead_authority, 0.0
    )
    return s


def calibrated(raw: float) -> float:
    return 1.0 / (1.0 + math.exp(-(CALIBRATION_A * raw + CALIBRATION_B)))


def check(answer: Answer, evidence: Evidence | None) -> Answer:
    """The answer with its confidence and warnings set (and citations the lead does not use dropped)."""
    if not answer.grounded:
        return dataclasses.replace(answer, confidence=0.0)
    if answer.composer == "rules":
        confidence = RULES_CONFIDENCE if answer.verdict != "not_stated" else RULES_CONFIDENCE - 0.05
    elif evidence is not None:
        confidence = calibrated(score(evidence))
    else:
        confidence = answer.confidence
    used = {int(n) for n in _CITE.findall(answer.answer)}
    citations = tuple(c for c in answer.citations if c.n in used) if used else answer.citations
    labels = findings(list(answer.lead) + [c.text for c in citations])
    if labels:
        logger.info("answer findings %s for %r", ", ".join(labels), answer.question[:60])
        confidence = min(confidence, FLAGGED_CONFIDENCE)
    return dataclasses.replace(
        answer,
        citations=citations,
        confidence=round(max(0.0, min(1.0, confidence)), 3),
        warnings=tuple(dict.fromkeys(answer.warnings + labels)),
    )
