"""Knowledge-base upkeep by trainers: raw retrieval hits (`/kb`) and document uploads."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core import KnowledgeService, Request, ServiceError
from bot.rendering import Reply, clip, esc

if TYPE_CHECKING:
    from knowledge import Hit, IngestReport

logger = logging.getLogger(__name__)

#: File types the knowledge base can ingest (the loaders of `knowledge.loaders`).
INGESTIBLE_SUFFIXES = (".md", ".txt", ".docx", ".pdf", ".csv", ".xlsx")
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


class KnowledgeAdminService:
    """Uploads are ingested one at a time; questions and searches go on meanwhile."""

    def __init__(self, *, kb: KnowledgeService, on_change: Callable[[], None] = lambda: None) -> None:
        self.kb = kb
        self._on_change = on_change
        self._ingest_lock = threading.Lock()

    def search(self, query: str, *, top_k: int = 5) -> list[Hit]:
        query = " ".join(query.split())
        if not query:
            raise ServiceError("用法：/kb 查询内容，例如 /kb 钻石客户 增值服务")
        return self.kb.search(query, top_k=top_k)

    @staticmethod
    def safe_name(filename: str) -> str:
        """The upload's file name, reduced to characters safe on any file system."""
        return _SAFE_NAME.sub("_", Path(filename or "document.txt").name).strip("._") or "document"

    @staticmethod
    def check_file(filename: str) -> None:
        """Refuse early (before any download) a file type the knowledge base cannot read."""
        if Path(filename).suffix.lower() not in INGESTIBLE_SUFFIXES:
            raise ServiceError("只支持上传 " + " / ".join(INGESTIBLE_SUFFIXES) + " 格式的文档。")

    def ingest(self, path: Path) -> IngestReport:
        """Add an uploaded document to the knowledge base."""
        self.check_file(path.name)
        with self._ingest_lock:
            report = self.kb.ingest([path])
            self._on_change()
        return report


def kb(svc: KnowledgeAdminService, req: Request) -> Reply:
    """Show raw retrieval hits with scores and sources."""
    return Reply(render_hits(req.args, svc.search(req.args)))


def upload(svc: KnowledgeAdminService, req: Request) -> Reply:
    """Ingest a local file (console twin: `/upload PATH`; Telegram sends the document itself)."""
    raw = req.args.strip().strip("\"'")
    if not raw:
        raise ServiceError("用法：/upload 文件路径，例如 /upload ~/Downloads/高尔夫权益.docx")
    path = Path(raw).expanduser()
    svc.check_file(path.name)
    if not path.is_file():
        raise ServiceError(f"找不到文件：{raw}")
    return Reply(render_ingest(path.name, svc.ingest(path)))


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


def render_ingest(filename: str, report: IngestReport) -> str:
    if report.failed:
        reasons = "；".join(reason for _, reason in report.failed)
        return f"❌ 文档《{esc(filename)}》未能加入知识库：{esc(reasons)}"
    if report.unchanged and not (report.added or report.updated):
        return f"文档《{esc(filename)}》内容未变化，知识库无需更新。"
    verb = "更新" if report.updated else "加入"
    return f"✅ 文档《{esc(filename)}》已{verb}知识库（{report.chunks_added} 个段落）。"
