"""`rm-assistant kb …`: ingest, search, remove and list knowledge sources."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from bot.core import as_utc
from bot.settings import get_settings

BUNDLED_PREFIX = "bundled:"  # knowledge.BUNDLED_PREFIX, without importing knowledge at start-up

if TYPE_CHECKING:
    from bot.features.approvals import KnowledgeChange
    from bot.features.knowledge_admin import KnowledgeAdminService
    from knowledge import Hit, KnowledgeBase

logger = logging.getLogger(__name__)


@contextmanager
def _knowledge_base() -> Iterator[KnowledgeBase]:
    """The knowledge base alone (searching and listing change nothing the audit trail records)."""
    with _publishing(with_log=False) as (kb, _admin):
        yield kb


@contextmanager
def _publishing(*, with_log: bool = True) -> Iterator[tuple[KnowledgeBase, KnowledgeAdminService]]:
    """The knowledge base, and the upkeep service that records an operator's immediate publication in
    the audit trail (both opened by the composition root)."""
    from bot.composition import open_services
    from knowledge import KnowledgeBase

    with open_services(get_settings(), with_crm=False, with_log=with_log, progress=True) as services:
        kb = services.kb
        assert isinstance(kb, KnowledgeBase)  # the CLI always opens the real one
        yield kb, services.knowledge


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


def _files(paths: Sequence[Path]) -> list[Path]:
    """Files named, and the ingestible files under folders named (sorted, for a stable order)."""
    from bot.features.knowledge_admin import INGESTIBLE_SUFFIXES

    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INGESTIBLE_SUFFIXES
            )
        elif path.exists():
            out.append(path)
        else:
            raise click.ClickException(f"找不到文件：{path}")
    return out


@contextmanager
def _sources_and_changes() -> Iterator[tuple[KnowledgeBase, list[KnowledgeChange]]]:
    """The knowledge base, and the knowledge changes recorded in the application database (through the
    approvals service; none when it holds none yet)."""
    from bot.composition import open_services
    from knowledge import KnowledgeBase

    with open_services(get_settings(), with_crm=False, progress=True) as services:
        kb = services.kb
        assert isinstance(kb, KnowledgeBase)  # the CLI always opens the real one
        yield kb, services.approvals.recent(limit=1000)


def _span(c: KnowledgeChange) -> str:
    return f"{c.effective_date or '—'} ~ {c.expiry_date or '—'}"


def _dates(c: KnowledgeChange) -> dict[str, object]:
    return {
        "change": c.ref,
        "effective_date": c.effective_date.isoformat() if c.effective_date else None,
        "expiry_date": c.expiry_date.isoformat() if c.expiry_date else None,
    }


def register(cli: click.Group) -> None:
    """Add the `kb` group to the root group."""

    @cli.group("kb")
    def kb_group() -> None:
        """Knowledge base: ingest documents, search, remove and list sources."""

    @kb_group.command("ingest")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.option(
        "--pending",
        is_flag=True,
        help="Queue for four-eyes approval instead of publishing (like `kb submit`).",
    )
    def ingest(paths: tuple[Path, ...], as_json: bool, pending: bool) -> None:
        """Ingest files or folders (.md .txt .docx .pdf .csv .xlsx), recursively and incrementally.

        Publishes at once (the operator's authority on the server; recorded in the audit trail), or with
        --pending queues each file for approval. Files over RM_MAX_UPLOAD_MB are refused. Also finishes
        the vectors an interrupted ingest left."""
        if pending:
            from bot.cli.changes import submit_paths

            submit_paths(_files(paths), None)
            return
        with _publishing() as (kb, admin):
            report = kb.ingest(list(paths), progress=True)
            admin.record_published(report, actor="CLI", by="kb ingest")
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
        from knowledge import IngestReport
        from knowledge.sources import AmbiguousSource

        with _publishing() as (kb, admin):
            known = {s.source for s in kb.sources()}
            try:
                removed = kb.remove(source)
            except AmbiguousSource as exc:
                raise click.ClickException(str(exc)) from None
            gone = sorted(known - {s.source for s in kb.sources()})
            if removed:
                gone_report = IngestReport(removed=tuple(gone or [source]))
                admin.record_published(gone_report, actor="CLI", by="kb remove")
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
        """List indexed sources with their status and dates, then the changes not (yet) served."""
        with _sources_and_changes() as (kb, changes):
            sources = kb.sources()
        by_source = {c.source: c for c in reversed(changes) if c.status == "live" and c.source}
        waiting = [c for c in changes if c.status in ("pending", "approved")]
        if as_json:
            rows: list[dict[str, object]] = []
            for s in sources:
                c = by_source.get(s.source)
                rows.append(
                    {
                        "source": s.source,
                        "title": s.title,
                        "chunks": s.chunks,
                        "content_hash": s.content_hash,
                        "ingested_at": s.ingested_at.isoformat(),
                        "status": "live",
                        **(_dates(c) if c else {"change": None, "effective_date": None, "expiry_date": None}),
                    }
                )
            rows += [{"source": None, "title": c.file_name, "status": c.status, **_dates(c)} for c in waiting]
            click.echo(_dump(rows))
            return
        if not sources and not waiting:
            click.echo("知识库为空。")
            return
        zone = ZoneInfo(get_settings().rm_timezone)
        click.echo(f"来源\t标题\t片段\t入库时间（{zone.key}）\t状态\t变更 生效 ~ 失效")
        for s in sources:
            c = by_source.get(s.source)
            dates = f"\t{c.ref} {_span(c)}" if c else ""
            ingested = as_utc(s.ingested_at).astimezone(zone)
            click.echo(f"{s.source}\t{s.title}\t{s.chunks} 片段\t{ingested:%Y-%m-%d %H:%M}\t已生效{dates}")
        for c in waiting:
            click.echo(f"（未生效）\t{c.file_name}\t{c.ref} {c.status_name}\t{_span(c)}")
