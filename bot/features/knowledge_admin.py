"""Knowledge-base upkeep by trainers: raw retrieval hits (`/kb`) and document uploads."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.core import KB_UNAVAILABLE, KnowledgeService, Request, ServiceError
from bot.rendering import Reply, clip, esc
from knowledge.ingest import size_refusal
from knowledge.loaders import SUFFIXES_IN_ORDER
from knowledge.store import VectorIndexUnavailable

if TYPE_CHECKING:
    from bot.audit import AuditTrail
    from knowledge import Hit, IngestReport
    from knowledge.vectors import VectorProgress

logger = logging.getLogger(__name__)

#: File types the knowledge base can ingest (the loaders of `knowledge.loaders`).
INGESTIBLE_SUFFIXES = SUFFIXES_IN_ORDER  # the knowledge base's one list
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


class KnowledgeAdminService:
    """Uploads: the knowledge base writes one at a time, each searchable (BM25) within seconds while its
    vectors are embedded; questions and searches go on meanwhile."""

    def __init__(
        self,
        *,
        kb: KnowledgeService,
        on_change: Callable[[], None] = lambda: None,
        max_upload_mb: int = 20,
        audit: AuditTrail | None = None,
    ) -> None:
        self.kb = kb
        self._on_change = on_change
        self.max_upload_mb = max_upload_mb
        self._audit = audit

    def search(self, query: str, *, top_k: int = 5) -> list[Hit]:
        query = " ".join(query.split())
        if not query:
            raise ServiceError("用法：/kb 查询内容，例如 /kb 钻石客户 增值服务")
        try:
            return self.kb.search(query, top_k=top_k)
        except VectorIndexUnavailable as exc:  # fail closed, as answers do
            logger.error("%s", exc)
            raise ServiceError(KB_UNAVAILABLE) from None

    @staticmethod
    def safe_name(filename: str) -> str:
        """The upload's file name, reduced to characters safe on any file system."""
        return _SAFE_NAME.sub("_", Path(filename or "document.txt").name).strip("._") or "document"

    @staticmethod
    def check_file(filename: str) -> None:
        """Refuse early (before any download) a file type the knowledge base cannot read."""
        if Path(filename).suffix.lower() not in INGESTIBLE_SUFFIXES:
            raise ServiceError("只支持上传 " + " / ".join(INGESTIBLE_SUFFIXES) + " 格式的文档。")

    def check_size(self, size: int | None) -> None:
        """Refuse early (before any download) a file over RM_MAX_UPLOAD_MB; an unknown size passes."""
        refusal = "" if size is None else size_refusal(size, self.max_upload_mb)
        if refusal:
            raise ServiceError(refusal)

    def ingest(self, path: Path, *, wait: bool = True) -> IngestReport:
        """Add an uploaded document to the knowledge base. `wait=False`: return once it is searchable
        (BM25); its vectors follow in the background (`vector_progress`)."""
        self.check_file(path.name)
        report = self.kb.ingest([path], wait=wait)
        self._on_change()
        return report

    def record_published(self, report: IngestReport, *, actor: str, by: str) -> None:
        """Append to the audit trail what an operator published or removed at once, without four eyes
        (`kb ingest`, `kb remove`; the four-eyes path records its own steps). Without a trail nothing
        may be published this way: it raises."""
        changed = [*report.added, *report.updated, *report.removed]
        if not changed:
            return
        if self._audit is None:
            raise RuntimeError("an immediate publication needs the audit trail, which was not opened")
        for source in changed:
            action = "remove" if source in report.removed else "publish"
            self._audit.append(
                kind="knowledge_change", actor=actor, ref=source, payload={"action": action, "by": by}
            )

    def vector_progress(self, report: IngestReport) -> VectorProgress:
        """How many of the vectors of an ingest's new chunks are stored."""
        return self.kb.vector_progress([*report.added, *report.updated], report.chunks_added)


class _VectorsOf(Protocol):
    def vector_progress(self, report: IngestReport) -> VectorProgress: ...


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """A published document's background vectors, as a reply's `Progress` (searchable → n/N → the report)."""

    admin: _VectorsOf
    name: str
    report: IngestReport

    def status(self) -> tuple[str, bool]:
        progress = self.admin.vector_progress(self.report)
        if progress.finished:
            return render_ingest(self.name, self.report, progress), True
        return render_progress(self.name, progress), False


def kb(svc: KnowledgeAdminService, req: Request) -> Reply:
    """Show raw retrieval hits with scores and sources."""
    return Reply(render_hits(req.args, svc.search(req.args)))


def render_hits(query: str, hits: Sequence[Hit]) -> str:
    if not hits:
        return f"“{esc(query)}”没有检索到任何内容。"
    lines = [f"<b>检索：</b>{esc(query)}（共 {len(hits)} 条）"]
    for i, h in enumerate(hits, 1):
        where = f"{h.title} · {h.heading}" if h.heading else h.title
        lines += [
            "",
            f"<b>{i}.</b> {esc(where)}  <i>得分 {h.score:.3f}</i>",
            f"<code>{esc(h.source)}</code>",
            esc(clip(h.text, 300)),
        ]
    return "\n".join(lines)


def render_progress(filename: str, progress: VectorProgress) -> str:
    """The upload's status message while its vectors are embedded (edited in place)."""
    if not progress.total:
        return f"🔎 文档《{esc(filename)}》已可检索，正在完成…"
    return f"🔎 文档《{esc(filename)}》已可检索（关键词）；正在计算语义向量 {progress.done}/{progress.total}…"


def render_ingest(filename: str, report: IngestReport, progress: VectorProgress | None = None) -> str:
    if report.failed:
        reasons = "；".join(reason for _, reason in report.failed)
        return f"❌ 文档《{esc(filename)}》未能加入知识库：{esc(reasons)}"
    if report.unchanged and not (report.added or report.updated):
        return f"文档《{esc(filename)}》内容未变化，知识库无需更新。"
    verb = "更新" if report.updated else "加入"
    done = f"✅ 文档《{esc(filename)}》已{verb}知识库（{report.chunks_added} 个段落）。"
    if progress is not None and progress.failed:
        left = progress.total - progress.done
        done += f"其中 {left} 个段落暂只能按关键词检索，语义向量将在服务重启后补齐。"
    return done
