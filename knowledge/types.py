"""Public value types of the knowledge package (frozen dataclasses; never LangChain objects)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk, best first in a result list."""

    chunk_id: str
    text: str
    source: str
    title: str
    heading: str
    score: float
    category: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "source": self.source,
            "title": self.title,
            "heading": self.heading,
            "score": round(self.score, 6),
        }


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source quoted by an answer; `n` matches the `[n]` markers in the answer text."""

    n: int
    source: str
    title: str
    text: str
    heading: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "text": self.text,
            "heading": self.heading,
        }


#: Below this confidence a grounded answer is "weak": the bot says 依据较弱 and flags the exchange. This is
#: the default for answers the calibration model did not score (built outside the pipeline); the pipeline
#: sets `Answer.weak_below` to the threshold fitted with the model (knowledge/calibration.json).
#: Answers whose evidence promises returns (check findings) are capped below it.
WEAK_CONFIDENCE = 0.5

#: Answer kinds (`Answer.composer`).
COMPOSERS = ("extractive", "rules", "llm", "none")
#: Direct verdicts (`Answer.verdict`) of yes/no and entitlement questions.
VERDICTS = ("yes", "no", "not_stated")


@dataclass(frozen=True, slots=True)
class ClientFacts:
    """What an answer may apply the rules to when a question is about one of the RM's clients.

    `aum` is the daily average financial assets in yuan (日均金融资产), None when unknown; `tier` is the
    CRM tier name (钻石/白金/黄金/潜在, with or without 客户).
    """

    name: str
    tier: str
    aum: Decimal | None = None
    age: int | None = None


@dataclass(frozen=True, slots=True)
class AnswerFeatures:
    """What the pipeline knew when it composed an answer: the inputs of the confidence model
    (knowledge.calibration). Flags are 0/1; retrieval signals are of the candidates evidence selection read
    (all 0 for rule-table answers, which skip retrieval)."""

    rules: float = 0.0  # composed from the rule tables (a table hit)
    llm: float = 0.0  # rephrased by the LLM (else extractive or rules)
    verdict_yes: float = 0.0
    verdict_no: float = 0.0
    verdict_not_stated: float = 0.0
    undecided: float = 0.0  # a related rule that says neither yes nor no
    number: float = 0.0  # the lead states a number
    listed: float = 0.0  # the lead is several sentences (a list, steps)
    top_fused: float = 0.0  # fused score of the first candidate
    fused_gap: float = 0.0  # (top-1 - top-2) / top-1 of the fused scores
    top_dense: float = 0.0  # best cosine of the dense pool
    dense_gap: float = 0.0  # top-1 - top-2 cosine among the candidates
    agreement: float = 0.0  # share of BM25 / dense whose own top candidate is the fused top-1
    lead_rank: float = 0.0  # rank (0 = first) of the candidate the lead comes from
    coverage: float = 0.0  # best chunk's share of the question's IDF mass
    focus: float = 0.0  # lead's share of the topic words' IDF mass
    own_rule: float = 0.0  # the lead is from the bank's own rules
    peer_case: float = 0.0  # the lead is from a peer bank's case study
    findings: float = 0.0  # the check stage raised a content finding (承诺收益 …)
    term_coverage: float = 0.0  # share of the question's key terms the lead holds (evidence.term_coverage)
    list_single: float = 0.0  # a list question answered with one sentence and no list of the items
    condition: float = 0.0  # the verdict was decided by the rule's condition or scope (a no for the case)
    tier_missing: float = 0.0  # the question names a tier the lead does not mention
    uncovered: float = 0.0  # key terms of the question the lead lacks (count, capped at 3, over 3)
    rules_list: float = 0.0  # a rule-table answer to a list question (the table lists entitlements only)

    def vector(self) -> tuple[float, ...]:
        """The values in field order (the order of `names()`)."""
        return tuple(float(getattr(self, f.name)) for f in fields(self))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True, slots=True)
class Answer:
    """A composed answer, as structure: the caller decides how to lay out the lead, sources and flags.

    `lead` holds the answer's sentences in order (plain text with `[n]` markers); `lead[0]` is the direct
    reply ("可以。", "不可以：…", "资料未规定…", "白金客户（…）。"). `grounded` is False when the knowledge
    base does not settle the question. `warnings` are Chinese labels raised by the check stage on the
    answer and its evidence (e.g. "承诺收益"); an answer with warnings must not be passed on as it is.
    """

    question: str
    lead: tuple[str, ...]
    citations: tuple[Citation, ...]
    grounded: bool
    confidence: float = 0.0
    composer: str = "extractive"
    verdict: str | None = None
    warnings: tuple[str, ...] = ()
    features: AnswerFeatures | None = None  # the confidence model's inputs (None outside the pipeline)
    weak_below: float = WEAK_CONFIDENCE  # the threshold `weak` compares the confidence with

    @property
    def answer(self) -> str:
        """The plain answer text (no source list)."""
        return "".join(self.lead)

    @property
    def weak(self) -> bool:
        """Grounded, but with a confidence below the calibrated threshold."""
        return self.grounded and self.confidence < self.weak_below

    def to_dict(self) -> dict[str, object]:
        return {
            "answer": self.answer,
            "lead": list(self.lead),
            "citations": [c.to_dict() for c in self.citations],
            "grounded": self.grounded,
            "confidence": round(self.confidence, 3),
            "verdict": self.verdict,
            "composer": self.composer,
            "weak": self.weak,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest/sync run did, per source."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (path, one-line reason)
    chunks_added: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line for humans (CLI, logs)."""
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}, failed {len(self.failed)}; {self.chunks_added} chunks embedded"
        )


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One indexed source as recorded in the manifest."""

    source: str
    title: str
    chunks: int
    content_hash: str
    ingested_at: datetime
