"""Clustering questions by meaning: agglomerative clustering (scikit-learn) on cosine distance.

Average linkage with a distance threshold, so the number of clusters follows the data: two questions
end up together when their vectors are on average closer than `MAX_DISTANCE`.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: Average cosine distance below which questions are grouped: the value that best recovers the pairs of
#: bench/gap_paraphrases.jsonl (adjusted Rand index; bench/bench_gaps.py reports it per distance). Wider
#: merges unrelated questions that share a sentence frame, narrower splits paraphrases.
MAX_DISTANCE = 0.07


def cluster(vectors: np.ndarray, *, max_distance: float = MAX_DISTANCE) -> list[list[int]]:
    """Groups of row indices, largest first (ties: the group with the earliest row first)."""
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    from sklearn.cluster import AgglomerativeClustering  # lazy: ~0.5 s of imports, only for the inbox

    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=max_distance
    ).fit_predict(np.asarray(vectors, dtype=np.float64))
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))
