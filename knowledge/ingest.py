"""Preparing a source for the index: load, chunk, tokenise, tag with its authority level; the content hash
that tells an unchanged file from a changed one; the passage text that is embedded."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge import authority
from knowledge.chunking import DEFAULT_OVERLAP, DEFAULT_TARGET, chunk_document
from knowledge.lexical import search_tokens
from knowledge.loaders import SUPPORTED_SUFFIXES, DocumentTooComplex, LoaderError
from knowledge.manifest import StoredChunk
from knowledge.parse_worker import load_document

logger = logging.getLogger(__name__)

MB = 1024 * 1024

#: Bump when chunking, passage formatting or stored chunk fields change: every source is then re-indexed
#: once (bundled passages keep their precomputed vectors, see knowledge.bundled_vectors).
PIPELINE_VERSION = f"7:{DEFAULT_TARGET}:{DEFAULT_OVERLAP}"


@dataclass(slots=True)
class Pending:
    source: str
    path: Path
    content_hash: str
    title: str
    category: str
    chunks: list[StoredChunk]
    existed: bool


def passage_text(title: str, heading: str, text: str) -> str:
    # The embedded passage carries its title and heading path: chunks like "每年2次。" mean nothing alone.
    head = " > ".join(p for p in (title, heading) if p)
    return f"{head}\n{text}" if head else text


#: A 500-page manual chunks into a few thousand pieces; more is a document built to cost embedding time.
MAX_CHUNKS_PER_DOCUMENT = 5_000


def content_hash(data: bytes) -> str:
    return hashlib.sha256(PIPELINE_VERSION.encode() + b"\0" + data).hexdigest()


def prepare(source: str, path: Path, digest: str, *, existed: bool, cache_dir: Path | None) -> Pending:
    """Load and chunk one file (raises LoaderError)."""
    doc = load_document(path)  # binary formats in a limited child process
    level = authority.normalise(doc.metadata.get("authority"))  # absent → 培训材料
    pieces = chunk_document(doc)
    if not pieces:
        raise LoaderError("文件中没有可索引的文字内容")
    if len(pieces) > MAX_CHUNKS_PER_DOCUMENT:  # every chunk costs embedding CPU (~0.2 s)
        raise DocumentTooComplex(
            f"文档过于复杂（切分后 {len(pieces):,} 段，上限 {MAX_CHUNKS_PER_DOCUMENT:,}），"
            "请精简或拆分后再上传"
        )
    prefix = hashlib.sha1(source.encode()).hexdigest()[:10] + "-" + digest[:10]
    chunks = [
        StoredChunk(
            chunk_id=f"{prefix}-{piece.index:04d}",
            source=source,
            ord=piece.index,
            text=piece.text,
            title=doc.title,
            heading=piece.heading,
            category=doc.category,
            tokens=tuple(search_tokens(f"{piece.heading}\n{piece.text}", cache_dir=cache_dir)),
            authority=level,
        )
        for piece in pieces
    ]
    return Pending(source, path, digest, doc.title, doc.category, chunks, existed)


def collect(paths: Sequence[Path]) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """(source, file) for every file of `paths` (folders recursively), and the paths that do not exist."""
    items: list[tuple[str, Path]] = []
    failed: list[tuple[str, str]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if any(part.startswith((".", "~$")) for part in file.relative_to(path).parts):
                    continue  # hidden files, Office lock files
                items.append((str(file.resolve()), file))
        elif path.exists():
            items.append((str(path.resolve()), path))
        else:
            failed.append((str(path), "文件不存在"))
    return items, failed


def too_large(path: Path, max_mb: float | None) -> str:
    """The refusal for a file over `max_mb`, or "" (raises OSError like reading would)."""
    if max_mb is None:
        return ""
    return size_refusal(path.stat().st_size, max_mb)


def size_refusal(size: int, max_mb: float) -> str:
    """The one refusal of a file over the upload limit, or "" (used before a download, too)."""
    if size <= max_mb * MB:
        return ""
    return f"文件过大（{size / MB:.1f} MB），上限为 {max_mb:g} MB，请拆分后再上传"


def read_source(path: Path, max_mb: float | None) -> tuple[bytes, str]:
    """A file's bytes, or (b"", the one-line reason it cannot be ingested)."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return b"", f"不支持的文件类型 {path.suffix or '(无扩展名)'}"
    try:
        refusal = too_large(path, max_mb)
        return (b"", refusal) if refusal else (path.read_bytes(), "")
    except OSError as exc:
        return b"", f"无法读取文件：{exc.strerror or exc}"


def progress_bar(total: int, *, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, unit="chunk", desc="embedding", leave=False, mininterval=0.5, disable=not enabled
    )
