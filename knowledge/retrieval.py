"""Hybrid retrieval: fusion of the dense and BM25 result lists (normalised scores by default, or reciprocal
rank fusion), duplicates merged by the caller."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

#: RRF constant; small values reward agreement at the very top (our lists are short).
DEFAULT_RRF_K = 20.0
#: Score fusion (the default): weight of BM25 against dense, and the cosine spread earning dense full trust.
DEFAULT_BM25_WEIGHT = 0.4
DEFAULT_DENSE_SPREAD = 0.08

_SPACE = re.compile(r"\s+")


def rrf(
    rankings: Mapping[str, Sequence[str]],
    *,
    k: float = DEFAULT_RRF_K,
    weights: Mapping[str, float] | None = None,
) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = Σ weight / (k + rank), rank from 1. Best first."""
    scores: dict[str, float] = {}
    for name, ids in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        seen: set[str] = set()
        for rank, chunk_id in enumerate(ids, start=1):
            if chunk_id in seen:
                continue
            seen.add(chunk_id)
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def score_fusion(
    bm25: Mapping[str, float],
    dense: Mapping[str, float],
    *,
    bm25_weight: float = DEFAULT_BM25_WEIGHT,
    dense_spread: float = DEFAULT_DENSE_SPREAD,
) -> list[tuple[str, float]]:
    """Fuse by normalised scores: w·bm25/max(bm25) + (1-w)·(cos - min)/max(max - min, spread).

    Unlike RRF this keeps how *much* better the top hit is. The dense side is scaled by its own spread, but
    never by less than `dense_spread`: when all cosines are nearly equal (e5 on messy text) dense is unsure
    and should not overrule a clear BM25 winner. On the eval set this beats RRF (bench/bench_knowledge.py).
    """
    scores: dict[str, float] = {}
    if bm25:
        top = max(bm25.values())
        if top > 0:
            for chunk_id, value in bm25.items():
                scores[chunk_id] = bm25_weight * value / top
    if dense:
        hi, lo = max(dense.values()), min(dense.values())
        scale = max(hi - lo, dense_spread, 1e-9)
        for chunk_id, value in dense.items():
            scores[chunk_id] = scores.get(chunk_id, 0.0) + (1.0 - bm25_weight) * (value - lo) / scale
    return sorted(scores.items(), key=lambda item: -item[1])


def dedupe_key(text: str) -> str:
    """Texts equal up to whitespace are the same passage (e.g. the same FAQ in two files)."""
    return _SPACE.sub("", text)
