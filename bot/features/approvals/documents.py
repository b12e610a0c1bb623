"""The document side of knowledge changes: where an approved file is published to, the dates in its
front matter, and how its bytes are kept (split from `service.py`, which holds the approval workflow)."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.core import ServiceError
from bot.features.knowledge_admin import IngestProgress

if TYPE_CHECKING:
    from bot.rendering import Progress
    from knowledge import IngestReport
    from knowledge.vectors import VectorProgress

logger = logging.getLogger(__name__)

_DATE_KEYS = {
    "effective_date": ("effective_date", "effective", "生效日期"),
    "expiry_date": ("expiry_date", "expires", "expiry", "失效日期"),
}


class Publisher(Protocol):
    """What publishing needs of the knowledge admin service (`KnowledgeAdminService`)."""

    def check_file(self, filename: str) -> None: ...

    def ingest(self, path: Path) -> IngestReport: ...

    def remove(self, source: str) -> int: ...

    def progress(self, name: str, report: IngestReport) -> Progress | None:
        """What is left of a publication in the background (its vectors), for the front end to follow."""
        ...


class AdminPublisher:
    """Publishes through the knowledge admin service (its ingest lock and cache invalidation) and removes
    through the knowledge base itself."""

    def __init__(self, admin: KnowledgeAdmin, kb: object, *, wait: bool = False) -> None:
        self._admin = admin
        self._kb = kb
        self._wait = wait  # False: publish returns once the document is searchable; vectors follow

    def check_file(self, filename: str) -> None:
        self._admin.check_file(filename)

    def check_size(self, size: int | None) -> None:
        self._admin.check_size(size)

    def ingest(self, path: Path) -> IngestReport:
        return self._admin.ingest(path, wait=self._wait)

    def progress(self, name: str, report: IngestReport) -> Progress | None:
        return IngestProgress(self._admin, name, report)

    def remove(self, source: str) -> int:
        remove = getattr(self._kb, "remove", None)
        if remove is None:  # a knowledge base that cannot remove cannot honour expiry: fail loudly
            raise ServiceError("知识库不支持删除文档，无法执行到期下架")
        return int(remove(source))


class KnowledgeAdmin(Protocol):
    def check_file(self, filename: str) -> None: ...

    def check_size(self, size: int | None) -> None: ...

    def ingest(self, path: Path, *, wait: bool = True) -> IngestReport: ...

    def vector_progress(self, report: IngestReport) -> VectorProgress: ...


def document_dates(path: Path) -> tuple[date | None, date | None]:
    """(effective_date, expiry_date) from a Markdown/text document's front matter; (None, None) otherwise."""
    if path.suffix.lower() not in (".md", ".txt"):
        return None, None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ServiceError(f"无法读取文档：{path.name}") from exc
    return dates_of(path.name, data)


def dates_of(name: str, data: bytes) -> tuple[date | None, date | None]:
    """`document_dates` of a document's bytes (`name` decides whether it has front matter)."""
    if Path(name).suffix.lower() not in (".md", ".txt"):
        return None, None
    from knowledge.loaders import parse_front_matter

    path = Path(name)
    meta, _ = parse_front_matter(data.decode("utf-8-sig", errors="replace"))
    found: dict[str, date | None] = {}
    for field, keys in _DATE_KEYS.items():
        raw = next((meta[k] for k in keys if meta.get(k)), "")
        try:
            found[field] = date.fromisoformat(raw.strip().strip("\"'")) if raw else None
        except ValueError:
            raise ServiceError(f"文档《{path.name}》的 {field} 应为 YYYY-MM-DD：{raw}") from None
    effective, expiry = found["effective_date"], found["expiry_date"]
    if effective and expiry and expiry <= effective:
        raise ServiceError(f"文档《{path.name}》的失效日期 {expiry} 不晚于生效日期 {effective}")
    return effective, expiry


def store_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (a concurrent writer of the same bytes is harmless)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{uuid.uuid4().hex}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = [
    "AdminPublisher",
    "KnowledgeAdmin",
    "Publisher",
    "dates_of",
    "document_dates",
    "sha256_of",
    "store_bytes",
]
