"""Stage 4c (optional) — rephrase the evidence with an LLM, checked: it may only cite the numbered
sources it was given; any error, the client's timeout or a bad citation keeps the extractive answer."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from knowledge.evidence import Evidence, Source
from knowledge.types import Answer

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger(__name__)

_CITE = re.compile(r"\[(\d{1,2})\]")
# A lead sentence ends at 。！？ plus any closing quotes and the [n] markers that follow it.
_LEAD_END = re.compile(r"(?<=[。！？!?])[”’」』）)]*(?:\s*\[\d{1,2}\])*")


def _format_sources(sources: Sequence[Source]) -> str:
    blocks = []
    for src in sources:
        ch = src.candidate.chunk
        head = f"[{src.n}] 《{ch.title}》" + (f" · {ch.heading}" if ch.heading else "")
        blocks.append(f"{head}\n{ch.text}")
    return "\n\n".join(blocks)


def compose(evidence: Evidence, *, llm: BaseChatModel, fallback: Answer) -> Answer:
    """Ask the LLM to answer from the numbered sources only; any failure → `fallback`.

    The timeout is the chat client's own (`ChatOpenAI(timeout=...)`): it raises, and we fall back.
    """
    if not evidence.sources:
        return fallback
    from langchain_core.messages import HumanMessage, SystemMessage

    import prompts

    messages = [
        SystemMessage(content=prompts.load("answer_system")),
        HumanMessage(
            content=prompts.load("answer_user").format(
                sources=_format_sources(evidence.sources), question=evidence.question.text
            )
        ),
    ]
    try:
        reply: Any = llm.invoke(messages)
    except Exception:  # the client's timeout, connection errors, bad replies: the extractive answer stands
        logger.warning("LLM answer failed; using the extractive answer", exc_info=True)
        return fallback
    text = reply.content if hasattr(reply, "content") else reply
    if not isinstance(text, str) or not text.strip():
        logger.warning("LLM returned no text; using the extractive answer")
        return fallback
    text = text.strip()
    cited = {int(n) for n in _CITE.findall(text)}
    by_n = {s.n: s for s in evidence.sources}
    if not cited or not cited <= set(by_n):
        logger.warning(
            "LLM answer cites %s, allowed %s; using the extractive answer", sorted(cited), sorted(by_n)
        )
        return fallback
    used = tuple(by_n[n].citation for n in sorted(cited))
    return dataclasses.replace(fallback, lead=split_lead(text), citations=used, composer="llm")


def split_lead(text: str) -> tuple[str, ...]:
    """An LLM reply as lead sentences, each keeping the [n] markers written after it."""
    out: list[str] = []
    start = 0
    for m in _LEAD_END.finditer(text):
        if m.end() > start:
            piece = text[start : m.end()].strip()
            if piece:
                out.append(piece)
            start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return tuple(out)
