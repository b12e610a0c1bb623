"""A scripted knowledge base for the bot's tests (subclasses the bot's `KnowledgeService` port)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from bot.core import KnowledgeService
from knowledge import Answer, Citation, ClientFacts, Hit, IngestReport
from knowledge.amounts import AmountRange
from knowledge.rules import Entitlement, RuleSource
from knowledge.vectors import VectorProgress


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

    def snapshot_id(self) -> str:
        return f"fake-{len(self.ingested)}"

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

    def entitlements(self, tier: str) -> list[Entitlement]:
        """Two rows for 钻石 (a counted one with a condition, one without), none for other tiers."""
        if tier.removesuffix("客户") != "钻石":
            return []
        cite = RuleSource("bundled:03.md", "增值服务权益", "权益一览", "权益：机场贵宾厅。")
        return [
            Entitlement(
                benefit="机场贵宾厅",
                aliases=("贵宾厅",),
                tiers=("钻石",),
                asset=None,
                asset_text="",
                condition="持本行私人银行卡",
                value="每年12次",
                others="不享有",
                cite=cite,
            ),
            Entitlement(
                benefit="高端体检",
                aliases=(),
                tiers=("钻石", "白金"),
                asset=AmountRange(Decimal("30000000")),
                asset_text="日均金融资产3000万元以上",
                condition="",
                value="每年1次",
                others="未规定",
                cite=cite,
            ),
        ]

    def ingest(self, paths: Sequence[Path], *, progress: bool = False, wait: bool = True) -> IngestReport:
        self.ingested.extend(paths)
        return IngestReport(added=tuple(str(p) for p in paths), chunks_added=3)

    def vector_progress(self, sources: Sequence[str], total: int) -> VectorProgress:
        return VectorProgress(total, total)
