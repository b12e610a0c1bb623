"""Passage embedding on a thread pool: same vectors as one thread, and questions never wait for it."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from knowledge import e5


class PassageEngine:
    """A scripted engine: passages are slow (a ctypes call in the real one releases the GIL too)."""

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds
        self.concurrent = 0
        self.peak = 0
        self._lock = threading.Lock()

    def passage(self, texts: list[str]) -> Any:
        with self._lock:
            self.concurrent += 1
            self.peak = max(self.peak, self.concurrent)
        time.sleep(self.seconds)
        with self._lock:
            self.concurrent -= 1
        return np.array([[float(len(t)), float(sum(map(ord, t)) % 97)] for t in texts], dtype=np.float32)

    def query(self, text: str) -> Any:
        return np.array([1.0, 2.0], dtype=np.float32)


def test_pool_keeps_order_and_runs_batches_in_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = PassageEngine()
    monkeypatch.setattr(e5, "load_model", lambda *_a, **_k: engine)
    texts = [f"段落{i}" * (i % 5 + 1) for i in range(40)]
    vectors = e5.passages(texts, workers=4, use_bundled=False)
    assert vectors == [[float(len(t)), float(sum(map(ord, t)) % 97)] for t in texts]
    assert engine.peak > 1
    assert e5.passages(texts, workers=1, use_bundled=False) == vectors


def test_a_query_does_not_wait_for_passage_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = PassageEngine(seconds=1.0)
    monkeypatch.setattr(e5, "load_model", lambda *_a, **_k: engine)
    e5.clear_query_cache()
    ingest = threading.Thread(
        target=e5.passages, args=([f"段落{i}" for i in range(64)],), kwargs={"workers": 1}
    )
    ingest.start()
    time.sleep(0.05)
    started = time.monotonic()
    assert e5.query("钻石客户权益") == [1.0, 2.0]
    assert time.monotonic() - started < 0.5  # well under one passage batch
    assert ingest.is_alive()
    ingest.join()


@pytest.mark.slow
def test_real_engine_gives_the_same_vectors_on_a_pool() -> None:
    texts = [f"钻石客户每年可预约专家挂号{i}次，机场贵宾厅{i + 1}次。" for i in range(16)]
    serial = np.asarray(e5.passages(texts, workers=1, use_bundled=False))
    pooled = np.asarray(e5.passages(texts, workers=2, use_bundled=False))
    assert serial.shape == (16, 384)
    np.testing.assert_allclose(pooled, serial, rtol=0, atol=1e-6)
