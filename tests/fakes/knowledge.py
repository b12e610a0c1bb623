"""A scripted knowledge base for the bot's tests (subclasses the bot's `KnowledgeService` port)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.core import KnowledgeService
from knowledge import Answer, Citation, ClientFacts, Hit, IngestReport


class FakeKB(KnowledgeService):
    """Answers "钻石客户…" questions grounded, "火星…" ungrounded, "保本…" with a warning."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.clients: list[ClientFacts | None] = []
        self.ingested: list[Path] = []

    def ask(self, question: str, *, client: ClientFacts | None = None) -> Answer:
        self.asked.append(question)
        self.clients.append(client)
        if "火星" in question:
            return Answer(
                question=question,
                lead=("知识库中没有找到相关内容。",),
                citations=(),
                grounded=False,
                composer="none",
            )
        cite = Citation(n=1, source="bundled:03.md", title="增值服务权益", text="…", heading="钻石")
        if "弱" in question:
            return Answer(
                question=question, lead=("大概如此[1]。",), citations=(cite,), grounded=True, confidence=0.1
            )
        lead = "钻石客户享有机场贵宾厅服务[1]。"
        if client is not None:
            lead = f"{client.name}为{client.tier}客户：{lead}"
        return Answer(question=question, lead=(lead,), citations=(cite,), grounded=True, confidence=0.9)

    def search(self, query: str, *, top_k: int | None = None, mode: str = "hybrid") -> list[Hit]:
        hits = [
            Hit(
                chunk_id="1",
                text="钻石客户：机场贵宾厅、高端体检",
                source="s",
                title="权益",
                heading="",
                score=2.0,
            ),
            Hit(chunk_id="2", text="黄金客户：生日礼遇", source="s", title="权益", heading="", score=1.0),
        ]
        return hits[: top_k or 5]

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        self.ingested.extend(paths)
        return IngestReport(added=tuple(str(p) for p in paths), chunks_added=3)
