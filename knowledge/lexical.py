"""Lexical side of retrieval: jieba tokenisation (loaded once, quietly, cache under the data dir) and a
BM25 index (bm25s) over the stored chunks."""

from __future__ import annotations

import logging
import marshal
import math
import re
import sys
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Domain terms jieba would otherwise cut apart; cut_for_search still emits their parts (钻石, 客户 …).
_DOMAIN_WORDS_TEXT = """
    日均金融资产 金融资产 钻石客户 白金客户 黄金客户 潜在客户 私人银行 私行客户 高净值
    高净值客户 超高净值 超高净值客户 客户经理 客户关系经理 私人银行家 增值服务 贵宾厅
    机场贵宾 贵宾通道 专家门诊 专家预约 陪诊 体检 洗车 保养 代驾 接送机 机票 手续费
    免收 风险偏好 风险承受能力 投资期限 理财产品 反洗钱 尽职调查 黑名单 高风险国家 政要
    政治公众人物 开户 身份核实 满意度调查 投诉处理 客户隐私 个人信息 生日关怀 节日问候
    定期拜访 资产配置 家族信托 财富传承 考核指标 问责 着装 礼仪 禁忌
"""
DOMAIN_WORDS: tuple[str, ...] = tuple(_DOMAIN_WORDS_TEXT.split())

_STOPWORDS_TEXT = """
    的 了 是 吗 呢 吧 啊 呀 么 在 和 与 及 或 而 都 也 就 还 又 要 会 能 可
    可以 有 没有 什么 怎么 怎样 如何 哪些 哪个 哪 多少 几 是否 请问 一下 我 你 您
    他 她 它 我们 你们 他们 这 那 这个 那个 这些 那些 给 对 把 被 让 为 为了 从
    到 以 等 之 其 该 时 时候 需要 应该 应当 一个 个 上 下 中 里 吗？ 嘛 呗
    几次 几个 几天 几年 几种 多久 多长 多少次 多少钱 什么样 有没有 能不能 可不可以 要不要 是不是
    行不行 怎么办 怎么样 干什么 为什么 啥 咋
    the a an of to in is are and or for on with
    what how which do does can
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_PUNCT_ONLY = re.compile(r"^[\W_]+$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
#: Prefix of single-character features, kept apart from one-character words.
CHAR_PREFIX = "#"

_lock = threading.Lock()
_tokenizer: Any = None


def _jieba(cache_dir: Path | None) -> Any:
    """Return the process-wide jieba tokenizer, initialised once (quietly, cache under `cache_dir`)."""
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba = _import_jieba()
            jieba.setLogLevel(logging.WARNING)  # jieba prints "Building prefix dict…" at DEBUG to stderr
            tok = jieba.Tokenizer()
            if cache_dir is not None:
                try:
                    cache_dir.mkdir(parents=True, exist_ok=True)
                    tok.tmp_dir = str(cache_dir)
                except OSError:
                    logger.debug("jieba cache dir %s not writable; using the system temp dir", cache_dir)
            _initialise(tok)
            for word in DOMAIN_WORDS:
                tok.add_word(word, freq=200000)
            _tokenizer = tok
    return _tokenizer


def _import_jieba() -> Any:
    """Import jieba without `pkg_resources`: jieba 0.42 imports it only to open its bundled model files and
    falls back to plain `open()` without it. That import alone costs ~0.3 s of every fresh CLI process (and
    a DeprecationWarning)."""
    if "pkg_resources" in sys.modules:
        import jieba

        return jieba
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes `import pkg_resources` fail
    try:
        import jieba
    finally:
        del sys.modules["pkg_resources"]
    return jieba


def _initialise(tok: Any) -> None:
    """jieba's own cache load uses marshal.load on a file object, ~4x slower than marshal.loads on bytes
    (1.3 s vs 0.35 s of a fresh CLI process). Load the cache it wrote ourselves; fall back to jieba."""
    cache = Path(tok.tmp_dir or tempfile.gettempdir()) / "jieba.cache"
    if cache.is_file():
        try:
            tok.FREQ, tok.total = marshal.loads(cache.read_bytes())
            tok.initialized = True
            return
        except (OSError, ValueError, EOFError, TypeError):
            logger.debug("unreadable jieba cache %s; rebuilding", cache)
    tok.initialize()  # builds the prefix dictionary and writes the cache for next time


def normalise(text: str) -> str:
    """NFKC (full-width digits/letters to ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def tokenize(text: str, *, cache_dir: Path | None = None, precise: bool = False) -> list[str]:
    """Words of `text`, lower-cased, punctuation and stop words dropped.

    Default: jieba cut_for_search (compounds plus their parts: 钻石客户, 钻石, 客户), for matching.
    `precise=True`: one token per word (钻石客户), for weighing a question's concepts once each.
    """
    tok = _jieba(cache_dir)
    words = tok.cut(normalise(text)) if precise else tok.cut_for_search(normalise(text))
    out: list[str] = []
    for token in words:
        token = token.strip()
        if token and token not in _STOPWORDS and not _PUNCT_ONLY.match(token):
            out.append(token)
    return out


def is_word(word: str, *, cache_dir: Path | None = None) -> bool:
    """`word` is in jieba's dictionary (or the domain words), not a piece its HMM guessed."""
    return bool(_jieba(cache_dir).FREQ.get(normalise(word), 0))


_pos_lock = threading.Lock()
_pos_tokenizer: Any = None


def verbs(text: str, *, cache_dir: Path | None = None) -> list[str]:
    """The verbs of a short phrase (jieba part-of-speech tags v/vn/vd), lower-cased, in order."""
    global _pos_tokenizer
    if _pos_tokenizer is None:
        with _pos_lock:
            if _pos_tokenizer is None:
                import jieba.posseg

                _pos_tokenizer = jieba.posseg.POSTokenizer(_jieba(cache_dir))
    return [
        pair.word.strip()
        for pair in _pos_tokenizer.cut(normalise(text))
        if pair.flag.startswith("v") and pair.word.strip() and pair.word.strip() not in _STOPWORDS
    ]


def search_tokens(text: str, *, cache_dir: Path | None = None) -> list[str]:
    """BM25 features: the words of `tokenize` plus every CJK character (as "#字").

    Single characters let "男" match "男性" and "硬推" match "硬性推销", which jieba words alone miss.
    """
    chars = [CHAR_PREFIX + c for c in normalise(text) if _CJK.match(c) and c not in _STOPWORDS]
    return tokenize(text, cache_dir=cache_dir) + chars


class BM25Index:
    """BM25 over pre-tokenised documents; positions are indexes into the documents given to `__init__`."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self._n = len(documents)
        self._df: Counter[str] = Counter()
        for doc in documents:
            self._df.update(set(doc))
        self._bm25: Any = None
        if self._n:
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
            self._bm25 = bm25s.BM25(k1=k1, b=b)
            # bm25s needs at least one token per document; "" is its own empty token.
            self._bm25.index([list(d) or [""] for d in documents], show_progress=False)

    def __len__(self) -> int:
        return self._n

    def idf(self, token: str) -> float:
        """BM25-style IDF, 0 for a token no document contains."""
        df = self._df.get(token, 0)
        if not df:
            return 0.0
        return math.log(1.0 + (self._n - df + 0.5) / (df + 0.5))

    def search(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Top-k (position, score) with score > 0, best first."""
        if self._bm25 is None:
            return []
        known = [t for t in query_tokens if t in self._df]
        if not known:
            return []
        import numpy as np

        scores = self._bm25.get_scores(known)
        k = min(k, self._n)
        top = np.argpartition(-scores, k - 1)[:k] if k < self._n else np.arange(self._n)
        ranked = sorted(((int(i), float(scores[i])) for i in top if scores[i] > 0), key=lambda x: -x[1])
        return ranked
