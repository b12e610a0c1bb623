"""Query embedding: concurrent callers share engine batches, repeated texts come from the cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from knowledge import e5


class SlowEngine:
    """A scripted engine: records each call's batch; slow enough that callers pile up behind the lock."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def query(self, texts: str | list[str]) -> Any:
        batch = [texts] if isinstance(texts, str) else list(texts)
        self.calls.append(batch)
        time.sleep(0.05)
        if self.fail_on in batch:
            raise RuntimeError("engine failed")
        rows = np.array([[float(len(t)), float(sum(map(ord, t)) % 97)] for t in batch], dtype=np.float32)
        return rows[0] if isinstance(texts, str) else rows


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    e5._cache.clear()
    yield
    e5._cache.clear()


def test_concurrent_queries_are_batched_and_each_caller_gets_its_own_vector() -> None:
    engine = SlowEngine()
    combiner = e5._QueryCombiner(max_batch=4)
    texts = [f"问题{i}" * (i + 1) for i in range(9)]
    with ThreadPoolExecutor(max_workers=9) as pool:
        results = list(pool.map(lambda t: combiner.embed(engine, t), texts))
    for text, vector in zip(texts, results, strict=True):
        assert vector == [float(len(text)), float(sum(map(ord, text)) % 97)]
    assert sorted(t for batch in engine.calls for t in batch) == sorted(texts)  # each embedded once
    assert len(engine.calls) < len(texts)  # callers waiting for the lock were combined
    assert max(len(batch) for batch in engine.calls) <= 4


def test_an_engine_error_reaches_every_caller_of_that_batch_and_later_calls_work() -> None:
    engine = SlowEngine(fail_on="坏")
    combiner = e5._QueryCombiner()
    barrier = threading.Barrier(3)

    def call(text: str) -> object:
        barrier.wait()
        try:
            return combiner.embed(engine, text)
        except RuntimeError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = dict(zip(["坏", "好", "也好"], pool.map(call, ["坏", "好", "也好"]), strict=True))
    assert isinstance(outcomes["坏"], RuntimeError)
    failed_with_bad = next(b for b in engine.calls if "坏" in b)
    for text in failed_with_bad:
        assert isinstance(outcomes[text], RuntimeError)
    for text in set(outcomes) - set(failed_with_bad):
        assert isinstance(outcomes[text], list)
    assert combiner.embed(engine, "之后") == [2.0, float(sum(map(ord, "之后")) % 97)]
    assert not combiner._pending  # nothing left queued


def test_repeated_query_comes_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = SlowEngine()
    monkeypatch.setattr(e5, "load_model", lambda *_a, **_k: engine)
    monkeypatch.setattr(e5, "_combiners", {})
    first = e5.query("钻石客户权益")
    first.append(99.0)  # callers get copies: mutating one does not poison the cache
    second = e5.query("钻石客户权益")
    assert len(second) == 2 and len(engine.calls) == 1
    e5.query("钻石客户权益", variant="enpt")  # another model: not the same vector
    assert len(engine.calls) == 2


def test_cache_is_bounded_lru() -> None:
    cache = e5._VectorCache(size=2)
    cache.put(("v", "a"), [1.0])
    cache.put(("v", "b"), [2.0])
    assert cache.get(("v", "a")) == [1.0]  # "a" is now the most recent
    cache.put(("v", "c"), [3.0])
    assert cache.get(("v", "b")) is None and cache.get(("v", "a")) == [1.0]


def test_real_engine_batch_equals_single_calls() -> None:
    model = e5.load_model()
    texts = ["钻石客户有哪些增值服务？", "客户投诉应该怎么处理？", "可疑交易"]
    batch = model.query(texts)
    for i, text in enumerate(texts):
        assert np.array_equal(model.query(text), batch[i])


def test_module_level_query_batches_concurrent_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Through `e5.query` itself: nothing on the way to the queue may wait for the engine lock.
    engine = SlowEngine()
    monkeypatch.setattr(e5, "_models", {"original": engine})
    monkeypatch.setattr(e5, "_combiners", {})
    texts = [f"第{i}个问题" for i in range(6)]
    barrier = threading.Barrier(len(texts))

    def ask(text: str) -> list[float]:
        barrier.wait()
        return e5.query(text)

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        results = list(pool.map(ask, texts))
    assert [r[0] for r in results] == [float(len(t)) for t in texts]
    assert len(engine.calls) < len(texts)
