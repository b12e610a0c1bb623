"""The precomputed vectors shipped for the bundled corpus: complete, faithful, and only a cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge import bundled_vectors, e5
from knowledge.base import KnowledgeBase
from tests.knowledge.conftest import FakeEmbeddings


class _RecordingFake(FakeEmbeddings):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return super().embed_documents(texts)


def test_cache_covers_every_passage_of_the_bundled_corpus(tmp_path: Path) -> None:
    recorder = _RecordingFake()
    kb = KnowledgeBase(data_dir=tmp_path / "kb", embeddings=recorder)
    try:
        assert kb.sync_bundled().ok
    finally:
        kb.close()
    assert recorder.texts
    missing = [
        t for t, v in zip(recorder.texts, bundled_vectors.lookup(recorder.texts), strict=True) if v is None
    ]
    # Fails after a corpus edit until `bench/build_bundled_vectors.py` is run again.
    assert missing == [], f"{len(missing)} passages not in knowledge/bundled_vectors.npz: {missing[:2]}"


def test_cached_vectors_match_the_model(tmp_path: Path) -> None:
    recorder = _RecordingFake()
    kb = KnowledgeBase(data_dir=tmp_path / "kb", embeddings=recorder)
    try:
        kb.sync_bundled()
    finally:
        kb.close()
    sample = recorder.texts[:: max(1, len(recorder.texts) // 3)][:3]
    cached = np.array(bundled_vectors.lookup(sample), dtype=np.float32)
    fresh = np.array(e5.passages(sample, use_bundled=False), dtype=np.float32)
    cosines = (cached * fresh).sum(axis=1) / (np.linalg.norm(cached, axis=1) * np.linalg.norm(fresh, axis=1))
    assert cosines.min() > 0.999


def test_unknown_text_is_embedded_not_looked_up() -> None:
    text = "这段文字不在随包知识库里：外汇额度怎么申请？"
    assert bundled_vectors.lookup([text]) == [None]
    [vector] = e5.passages([text])
    assert len(vector) == 384 and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
