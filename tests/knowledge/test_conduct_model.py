"""The learned second opinion of the message check (knowledge/conduct_model.py): the runtime features
equal scikit-learn's, the packaged file loads without pickle, a paraphrased promise no rule lists is
flagged while disclosures and negations are not, and a broken file fails loudly."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from knowledge.conduct import CATEGORIES, default_rules
from knowledge.conduct_model import STOP, ConductModel, default_model, normalised

#: Promises in words no rule lists (no 保本, 稳赚, 不会亏 …): the model has to generalise.
PARAPHRASED_PROMISES = (
    "您把钱放我这儿，明年这个时候只会比现在多，这个您尽管放心。",
    "这只产品放进去就安安心心地往上长，睡着觉钱就多了。",
    "买这个就跟把钱锁进保险柜一样，到期本金原封不动还给您。",
)
#: Correct disclosures and negations, which look risky to a keyword list.
DISCLOSURES = (
    "这款产品不保本，净值会有波动，过往业绩不代表未来表现。",
    "理财非存款，产品有风险，投资须谨慎。",
    "这款理财是R3中风险产品，不承诺收益，请您根据自己的风险承受能力决定。",
    "风险测评需要您本人如实填写，我不能替您作答。",
)


def _arrays(
    vocabulary: list[str], weights: dict[str, dict[str, float]], threshold: float = 0.5
) -> dict[str, Any]:
    """A hand-made model: each n-gram raises the heads it names (idf 1)."""
    categories = [c for c in CATEGORIES if c != "suitability"]
    heads = [*categories, STOP]
    coef = np.zeros((len(vocabulary), len(heads)))
    for term, by_head in weights.items():
        for head, w in by_head.items():
            coef[vocabulary.index(term), heads.index(head)] = w
    return {
        "categories": np.array(categories),
        "vocabulary": np.array(vocabulary),
        "idf": np.ones(len(vocabulary)),
        "coef": coef,
        "intercept": np.full(len(heads), -4.0),
        "threshold": np.array(threshold),
        "ngram_range": np.array([1, 3]),
    }


def test_runtime_features_equal_scikit_learn() -> None:
    texts = [
        "这款理财保本保收益",
        "理财非存款，产品有风险",
        "名额有限 今天就截止！！",
        "稳赚 不赔💰",
        "您好",
    ] * 2
    texts += ["ＡＢＣ  abc 唔会蚀本", "本金安全，收益6%"]
    docs = [normalised(t) for t in texts]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1, lowercase=False)
    x = vec.fit_transform(docs)
    labels = np.array([[i % 2, i % 3 == 0] for i in range(len(texts))])
    models = [LogisticRegression(C=10).fit(x, labels[:, k]) for k in range(2)]
    vocabulary = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
    model = ConductModel.from_arrays(
        {
            "categories": np.array(["guarantee"]),
            "vocabulary": np.array(vocabulary),
            "idf": vec.idf_,
            "coef": np.column_stack([m.coef_[0] for m in models]),
            "intercept": np.array([m.intercept_[0] for m in models]),
            "threshold": np.array(0.5),
            "ngram_range": np.array([1, 3]),
        }
    )
    for text in [*texts, "从没见过的字", ""]:
        expected = [m.predict_proba(vec.transform([normalised(text)]))[0, 1] for m in models]
        got = model.probabilities(text)
        assert got["guarantee"] == pytest.approx(expected[0], abs=1e-9)
        assert got[STOP] == pytest.approx(expected[1], abs=1e-9)


def test_the_flagged_sentence_is_the_one_the_model_rates_highest() -> None:
    model = ConductModel.from_arrays(_arrays(["您好", "钱多多"], {"钱多多": {"guarantee": 12, STOP: 12}}))
    text = "王总您好！明年钱多多。周六网点照常营业"
    [flag] = model.flags(text)
    assert flag.category == "guarantee" and text[flag.start : flag.end] == "明年钱多多。"
    [whole] = model.flags("明年钱多多")
    assert (whole.start, whole.end) == (0, 5)
    assert model.flags("王总您好！周六网点照常营业") == ()


def test_only_the_categories_over_the_threshold_or_the_most_probable() -> None:
    weights: dict[str, dict[str, float]] = {
        "保": {"guarantee": 10, STOP: 8},
        "最": {"superlative": 5, STOP: 8},
        "催": {"pressure": 3},
    }
    model = ConductModel.from_arrays(_arrays(["保", "最", "催"], weights))
    assert [f.category for f in model.flags("保最")] == ["guarantee"]  # superlative under 0.5 alone
    assert [f.category for f in model.flags("催")] == []  # no stop: the score stays low


def test_the_packaged_model_loads_without_pickle() -> None:
    model = default_model()
    assert set(model.categories) == set(CATEGORIES) - {"suitability"}
    assert 0.0 < model.threshold < 1.0
    # every category the model can flag is cited by a rule of the table (document and article)
    rules = default_rules()
    assert all(rules.cited_for(c).source.startswith("《") for c in model.categories)
    assert rules.cited_for("privacy").id == "privacy_other"


@pytest.mark.parametrize("text", PARAPHRASED_PROMISES)
def test_a_paraphrased_promise_without_keywords_is_flagged(text: str) -> None:
    assert default_rules().scan(text) == ()  # no rule lists these words
    flags = default_model().flags(text)
    assert "guarantee" in {f.category for f in flags}


@pytest.mark.parametrize("text", DISCLOSURES)
def test_disclosures_and_negations_stay_ok(text: str) -> None:
    assert default_model().flags(text) == ()


def test_a_broken_or_mismatched_file_fails_loudly() -> None:
    with pytest.raises((ValueError, OSError, zipfile.BadZipFile)):
        ConductModel.load(b"not a model")
    arrays = _arrays(["保"], {"保": {"guarantee": 1}})
    arrays["coef"] = arrays["coef"][:, :3]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with pytest.raises(ValueError, match="disagree"):
        ConductModel.load(buffer.getvalue())
    # an object array needs pickle, which loading refuses
    arrays = _arrays(["保"], {"保": {"guarantee": 1}}) | {"vocabulary": np.array([{"保": 0}], dtype=object)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with pytest.raises(ValueError, match="pickle"):
        ConductModel.load(buffer.getvalue())
