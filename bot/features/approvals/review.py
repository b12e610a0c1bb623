"""What an approver reads before deciding: the whole of a pending document (for a new version of a live
one, first its unified diff against that version) or of a curated answer, in pages; and which pages
each approver has been shown.

Approving is possible only after every page of exactly that content (its hash is part of the key) was
shown to the approver in this process; otherwise the approval shows the first unread page instead.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.features.approvals.store import LIVE, PENDING, ChangeStore, KnowledgeChange

logger = logging.getLogger(__name__)

#: Characters of text per page (one Telegram message with its heading).
PAGE_CHARS = 3000


@dataclass(frozen=True, slots=True)
class Content:
    """The reading of one change: `key` names exactly this content (its ref and hash)."""

    ref: str
    key: str
    title: str  # plain text
    submitter: str  # staff code
    pending: bool
    pages: tuple[str, ...]  # plain text


def paginate(text: str, size: int = PAGE_CHARS) -> tuple[str, ...]:
    """`text` in pages of at most `size` characters, cut at line ends where a line allows."""
    pages: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:  # one huge line: cut it
            if current:
                pages.append(current)
                current = ""
            pages.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            pages.append(current)
            current = ""
        current += line
    if current or not pages:
        pages.append(current)
    return tuple(p.rstrip("\n") for p in pages)


@lru_cache(maxsize=32)
def _extract(path: str, sha256: str) -> str:
    """The text of a stored document as the knowledge base reads it (Markdown and text: as written)."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        return f"（无法读取文件：{exc.strerror or exc}）"
    if hashlib.sha256(data).hexdigest() != sha256:
        return "（文件已被改动，与提交时不符：不会发布）"
    if file.suffix.lower() in (".md", ".txt"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
        return data.decode("utf-8", errors="replace")
    from knowledge.loaders import LoaderError, load_file

    try:
        doc = load_file(file)
    except LoaderError as exc:
        return f"（无法提取文字：{exc}）"
    if doc.entries:
        return "\n\n".join(f"问：{q}\n答：{a}" for q, a in doc.entries)
    return doc.text


def document_text(change: KnowledgeChange) -> str:
    return _extract(change.stored_path, change.sha256)


def replaced_by(store: ChangeStore, change: KnowledgeChange) -> KnowledgeChange | None:
    """The live version of the same document that `change` would replace, if any."""
    for older in store.list(statuses=(LIVE,), limit=1000):
        if older.id != change.id and older.file_name == change.file_name:
            return older
    return None


def unified_diff(old: KnowledgeChange, new: KnowledgeChange) -> str:
    lines = difflib.unified_diff(
        document_text(old).splitlines(),
        document_text(new).splitlines(),
        fromfile=f"{old.ref} {old.file_name}（现行）",
        tofile=f"{new.ref} {new.file_name}（待审批）",
        lineterm="",
        n=2,
    )
    return "\n".join(lines)


def document_content(store: ChangeStore, change: KnowledgeChange) -> Content:
    body = document_text(change)
    older = replaced_by(store, change)
    if older is not None:
        diff = unified_diff(older, change) or "（与现行版本内容相同）"
        body = f"【与现行版本 {older.ref} 的差异】\n{diff}\n\n【{change.ref} 全文】\n{body}"
    else:
        body = f"【{change.ref} 全文】\n{body}"
    against = f":{older.ref}:{older.sha256}" if older is not None else ""  # a diff read is against that one
    return Content(
        ref=change.ref,
        key=f"{change.ref}:{change.sha256}{against}",
        title=f"{change.ref}《{change.file_name}》",
        submitter=change.submitted_by,
        pending=change.status == PENDING,
        pages=paginate(body),
    )


class Shown:
    """Which pages of which content each approver has been shown in this process (bounded)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._seen: dict[tuple[str, str], set[int]] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def mark(self, who: str, key: str, page: int) -> None:
        with self._lock:
            if len(self._seen) >= self._limit:  # forget the oldest half: they simply read again
                for old in list(self._seen)[: self._limit // 2]:
                    del self._seen[old]
            self._seen.setdefault((who, key), set()).add(page)

    def mark_all(self, who: str, content: Content) -> None:
        """Every page of `content` was shown to `who` at once."""
        for page in range(1, len(content.pages) + 1):
            self.mark(who, content.key, page)

    def first_unseen(self, who: str, content: Content) -> int | None:
        """The first page of `content` not shown to `who` yet (1-based); None when all were."""
        with self._lock:
            seen = self._seen.get((who, content.key), set())
        return next((p for p in range(1, len(content.pages) + 1) if p not in seen), None)


__all__ = [
    "PAGE_CHARS",
    "Content",
    "Shown",
    "document_content",
    "document_text",
    "paginate",
    "replaced_by",
    "unified_diff",
]
