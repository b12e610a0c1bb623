"""Public value types of the knowledge package (frozen dataclasses; never LangChain objects)."""

from __future__ import annotations

from dataclasses import dataclass
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


#: Below this confidence a grounded answer is "weak": the bot says 依据较弱 and flags the exchange.
#: Confidence is calibrated (knowledge.check) to the share of answers judged correct on
#: bench/answers_eval.jsonl, so 0.5 means "as likely wrong as right"; on that set 0.5 is also the threshold
#: that best separates correct grounded answers from the others (bench/bench_answers.py reports it).
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

    @property
    def answer(self) -> str:
        """The plain answer text (no source list)."""
        return "".join(self.lead)

    @property
    def weak(self) -> bool:
        """Grounded, but with a confidence below the calibrated threshold."""
        return self.grounded and self.confidence < WEAK_CONFIDENCE

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
