"""Naming sources the way trainers do, and remembering removed bundled documents.

Uploaded files are keyed by their full local path; a trainer knows a document by its file name or title
(`kb remove 高尔夫权益.docx`). A removed bundled document would come back with the next sync of
`knowledge/corpus/`, so its removal is recorded in a small tombstone file next to the manifest.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path, PurePath

from knowledge.types import SourceInfo

logger = logging.getLogger(__name__)

BUNDLED_PREFIX = "bundled:"


class AmbiguousSource(ValueError):
    """A name that matches several sources; the message lists them."""


def _file_name(source: str) -> str:
    return source.removeprefix(BUNDLED_PREFIX) if source.startswith(BUNDLED_PREFIX) else PurePath(source).name


def resolve(name: str, sources: Sequence[SourceInfo]) -> str | None:
    """The one source `name` means: its exact key, a path resolving to it, its file name (with or without
    the extension) or its title. None when nothing matches; AmbiguousSource when several do."""
    name = name.strip()
    keys = {s.source for s in sources}
    if name in keys:
        return name
    if name and not name.startswith(BUNDLED_PREFIX):
        resolved = str(Path(name).expanduser().resolve())
        if resolved in keys:
            return resolved
    for match in (
        lambda s: _file_name(s.source) == name,
        lambda s: PurePath(_file_name(s.source)).stem == name,
        lambda s: s.title == name,
    ):
        found = sorted(s.source for s in sources if match(s))
        if len(found) == 1:
            return found[0]
        if found:
            raise AmbiguousSource(f"“{name}”对应多个来源：{'；'.join(found)}。请给出完整来源名（见 kb list）")
    return None


class Tombstones:
    """Bundled documents removed on purpose (file names), kept in a JSON list."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def names(self) -> set[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError):
            logger.warning("unreadable tombstone file %s; ignoring it", self.path)
            return set()
        return {str(n) for n in data} if isinstance(data, list) else set()

    def add(self, name: str) -> None:
        self._write(self.names() | {name})

    def discard(self, name: str) -> None:
        names = self.names()
        if name in names:
            self._write(names - {name})

    def _write(self, names: set[str]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(sorted(names), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old list or the new one
