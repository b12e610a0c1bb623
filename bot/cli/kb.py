"""`rm-assistant kb …`: ingest, search, remove and list knowledge sources."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.settings import get_settings

BUNDLED_PREFIX = "bundled:"  # knowledge.BUNDLED_PREFIX, without importing knowledge at start-up

if TYPE_CHECKING:
    from knowledge import Hit, KnowledgeBase

logger = logging.getLogger(__name__)


@contextmanager
def _knowledge_base() -> Iterator[KnowledgeBase]:
    from bot.composition import open_services
    from knowledge import KnowledgeBase

    with open_services(get_settings(), with_crm=False, with_log=False, progress=True) as services:
        kb = services.kb
        assert isinstance(kb, KnowledgeBase)  # the CLI always opens the real one
        yield kb


def _dump(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _print_hits(query: str, hits: list[Hit]) -> None:
    click.echo(f"问题：{query}")
    if not hits:
        click.echo("  （没有找到相关内容）")
    for i, hit in enumerate(hits, start=1):
        where = f"《{hit.title}》" + (f" · {hit.heading}" if hit.heading else "")
        click.echo(f"{i}. {where}  [{hit.source}]  score={hit.score:.4f}")
        for line in hit.text.splitlines():
            click.echo(f"     {line}")
    click.echo()


def register(cli: click.Group) -> None:
    """Add the `kb` group to the root group."""

    @cli.group("kb")
    def kb_group() -> None:
        """Knowledge base: ingest documents, search, remove and list sources."""

    @kb_group.command("ingest")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    def ingest(paths: tuple[Path, ...], as_json: bool) -> None:
        """Ingest files or folders (.md .txt .docx .pdf .csv .xlsx), recursively and incrementally.

        Files over RM_MAX_UPLOAD_MB are refused. Also finishes the vectors an interrupted ingest left."""
        with _knowledge_base() as kb:
            report = kb.ingest(list(paths), progress=True)
            kb.finish_vectors(progress=True)
        if as_json:
            click.echo(
                _dump(
                    {
                        "added": list(report.added),
                        "updated": list(report.updated),
                        "unchanged": list(report.unchanged),
                        "failed": [{"path": p, "reason": r} for p, r in report.failed],
                        "chunks_added": report.chunks_added,
                        "ok": report.ok,
                    }
                )
            )
        else:
            for path, reason in report.failed:
                click.echo(f"失败 {path}: {reason}", err=True)
            click.echo(report.summary(), err=True)
        if not report.ok:
            raise click.ClickException(
                f"{len(report.failed)} 个文件导入失败：" + "；".join(p for p, _ in report.failed)
            )

    @kb_group.command("search")
    @click.argument("query", required=False)
    @click.option(
        "--top-k", "-k", type=click.IntRange(1, 50), default=None, help="Number of hits (RM_TOP_K)."
    )
    @click.option(
        "--mode", type=click.Choice(["hybrid", "bm25", "dense"]), default="hybrid", show_default=True
    )
    @click.option(
        "--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="One query a line."
    )
    @click.option(
        "--json", "as_json", is_flag=True, help="JSON list of {text, source, title, score} per query."
    )
    def search(query: str | None, top_k: int | None, mode: str, queries: Path | None, as_json: bool) -> None:
        """Search the knowledge base (one QUERY, or --queries FILE)."""
        if (query is None) == (queries is None):
            raise click.UsageError("give either a QUERY or --queries FILE")
        if queries is not None:
            lines = [q.strip() for q in queries.read_text(encoding="utf-8-sig").splitlines() if q.strip()]
        else:
            assert query is not None
            lines = [query]
        with _knowledge_base() as kb:
            for q in lines:
                hits = kb.search(q, top_k=top_k, mode=mode)
                if as_json:
                    click.echo(_dump([h.to_dict() for h in hits]))
                else:
                    _print_hits(q, hits)

    @kb_group.command("remove")
    @click.argument("source")
    def remove(source: str) -> None:
        """Remove one source and its chunks: its name in `kb list`, its file name (高尔夫权益.docx) or its
        title. A removed bundled document stays removed (undo with `kb restore`)."""
        from knowledge.sources import AmbiguousSource

        with _knowledge_base() as kb:
            known = {s.source for s in kb.sources()}
            try:
                removed = kb.remove(source)
            except AmbiguousSource as exc:
                raise click.ClickException(str(exc)) from None
            gone = sorted(known - {s.source for s in kb.sources()})
        if not removed:
            raise click.ClickException(f"知识库中没有这个来源：{source}")
        name = gone[0] if gone else source
        note = "；内置文档，重启后也不会恢复（kb restore 可恢复）" if name.startswith(BUNDLED_PREFIX) else ""
        click.echo(f"已删除 {name}（{removed} 个片段{note}）")

    @kb_group.command("restore")
    @click.argument("name")
    def restore(name: str) -> None:
        """Bring back a removed bundled document (file name, e.g. 高尔夫权益.md)."""
        with _knowledge_base() as kb:
            if not kb.restore_bundled(name):
                raise click.ClickException(f"没有被删除的内置文档：{name}")
            kb.sync_bundled(enabled=get_settings().rm_bundled_knowledge, progress=True)
        click.echo(f"已恢复内置文档 {name}")

    @kb_group.command("list")
    @click.option("--json", "as_json", is_flag=True)
    def list_sources(as_json: bool) -> None:
        """List indexed sources."""
        with _knowledge_base() as kb:
            sources = kb.sources()
        if as_json:
            click.echo(
                _dump(
                    [
                        {
                            "source": s.source,
                            "title": s.title,
                            "chunks": s.chunks,
                            "content_hash": s.content_hash,
                            "ingested_at": s.ingested_at.isoformat(),
                        }
                        for s in sources
                    ]
                )
            )
            return
        if not sources:
            click.echo("知识库为空。")
        for s in sources:
            click.echo(f"{s.source}\t{s.title}\t{s.chunks} 片段\t{s.ingested_at:%Y-%m-%d %H:%M}")
