"""Stage 5 — check the composed answer before it is served: calibrated confidence (knowledge.calibration),
consistent citations, and content findings (an uploaded document promising guaranteed returns must not pass
as a plain answer).

Findings are Chinese labels in `Answer.warnings`; an answer with a finding is also marked weak (its
confidence is capped below the weak threshold), so the bot says 依据较弱 and flags it for review.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from knowledge import calibration, conduct
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
#: Answers with findings, and related rules that say neither yes nor no, are weak whatever the model says:
#: their confidence is capped at this share of the weak threshold.
FLAGGED_SHARE = 0.5


def findings(texts: list[str]) -> tuple[str, ...]:
    labels: list[str] = list(conduct.promise_labels(texts))
    for label, pattern in FINDINGS:
        for text in texts:
            if any(not _NEGATION.search(text[: m.start()]) for m in pattern.finditer(text)):
                labels.append(label)
                break
    return tuple(labels)


def check(answer: Answer, evidence: Evidence | None) -> Answer:
    """The answer with its confidence and warnings set (and citations the lead does not use dropped)."""
    if not answer.grounded:
        return dataclasses.replace(answer, confidence=0.0, features=calibration.features(answer, evidence))
    used = {int(n) for n in _CITE.findall(answer.answer)}
    citations = tuple(c for c in answer.citations if c.n in used) if used else answer.citations
    labels = findings(list(answer.lead) + [c.text for c in citations])
    feats = calibration.features(answer, evidence, flagged=bool(labels))
    fitted = calibration.model()
    # No usable model: fail closed (every answer weak), never fall back to a made-up confidence.
    confidence = fitted.probability(feats) if fitted is not None else 0.0
    threshold = fitted.threshold if fitted is not None else WEAK_CONFIDENCE
    if labels:
        logger.info("answer findings %s for %r", ", ".join(labels), answer.question[:60])
    if labels or feats.undecided:
        confidence = min(confidence, threshold * FLAGGED_SHARE)
    return dataclasses.replace(
        answer,
        citations=citations,
        confidence=round(max(0.0, min(1.0, confidence)), 3),
        warnings=tuple(dict.fromkeys(answer.warnings + labels)),
        features=feats,
        weak_below=threshold,
    )
