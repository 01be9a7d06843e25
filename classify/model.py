"""The classifier: theme and relevance pipelines, prediction, explanation and persistence.

Features are word TF-IDF over `common.text.words` (Chinese segmented into words) plus the
term-list counts of `terms.TermCounts`.
Each theme has its own logistic regression (`PerThemeLogistic`) with a threshold chosen by
cross-validation in `train.py`; China-AI relevance is a separate logistic regression.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler, normalize

from classify.terms import KINDS, CoOccurrence, TermCounts
from common.errors import ModelMismatch
from common.text import has_cjk, latin_words_and_ends, words
from common.vocabulary import RELEVANCE, THEMES, carrying_sentences, term_hits

MODEL_FILE = "model.joblib"


@lru_cache(maxsize=2048)
def document_words(document: str) -> tuple[str, ...]:
    """`common.text.words` of a document, remembered: both pipelines tokenize each one.

    Without Chinese, the body's words are those the term profile already found
    (`latin_words_and_ends`, the same `\\w+` runs there), which saves a regex pass.
    """
    if has_cjk(document):
        return tuple(words(document))
    title, _, body = document.partition("\n")
    return (*words(title), *filter(None, latin_words_and_ends(body.lower())))  # ends are ''


@lru_cache(maxsize=512)
def document_word_counts(document: str) -> dict[str, int]:
    """How often each of `document_words` occurs, remembered for one batch (tagging
    classifies 500 at a time): both pipelines count them."""
    return Counter(document_words(document))


class WordTfidf(TfidfVectorizer):
    """TF-IDF over `document_words` that looks the words of a whole batch up at once.

    scikit-learn's transform looks every token up in a Python loop, a fifth of classification
    time; here each document's words are counted once (in C, shared by both pipelines) and
    the distinct words of the batch go through one `map` over the vocabulary. Same numbers:
    word unigrams only, anything else goes to scikit-learn (`tests/test_classify.py`).
    """

    def transform(self, raw_documents: Any) -> sp.csr_matrix:
        if (self.tokenizer is not document_words or self.ngram_range != (1, 1) or self.binary
                or self.analyzer != "word" or self.stop_words is not None
                or self.preprocessor is not None or self.lowercase):
            return super().transform(raw_documents)
        words: list[str] = []
        counts: list[int] = []
        lengths: list[int] = []
        for document in raw_documents:
            found = document_word_counts(document)
            words.extend(found)
            counts.extend(found.values())
            lengths.append(len(found))
        columns = np.fromiter(map(self.vocabulary_.get, words, repeat(-1)), dtype=np.int64,
                              count=len(words))
        known = columns >= 0
        rows = np.repeat(np.arange(len(lengths)), lengths)[known]
        columns = columns[known]
        values = np.asarray(counts, dtype=np.float64)[known]
        if self.sublinear_tf:
            values = np.log(values) + 1.0
        if self.use_idf:
            values = values * self.idf_[columns]
        matrix = sp.csr_matrix((values.astype(self.dtype), (rows, columns)),
                               shape=(len(lengths), len(self.vocabulary_)))
        matrix.sort_indices()
        return normalize(matrix, norm=self.norm, copy=False) if self.norm else matrix


def _term_features(labels: list[str]) -> TermCounts:
    return TermCounts(labels)


def build_theme_pipeline(c: float = 4.0, max_features: int = 60_000,
                         words_weight: float = 1.0, ngram_max: int = 1) -> Pipeline:
    """Unfitted multi-label pipeline: TF-IDF + theme term counts → one LR per theme.

    `words_weight` scales the TF-IDF block against the term counts; with few labelled
    examples the term counts generalise better, and cross-validation picks the balance.
    """
    features = FeatureUnion([
        ("words", WordTfidf(tokenizer=document_words, lowercase=False, token_pattern=None,
                                  ngram_range=(1, ngram_max), sublinear_tf=True, min_df=1,
                                  max_features=max_features, dtype=np.float32)),
        ("terms", _term_features(list(THEMES))),
    ], transformer_weights={"words": words_weight, "terms": 1.0})
    return Pipeline([("features", features), ("classify", PerThemeLogistic(c=c))])


class PerThemeLogistic(BaseEstimator, ClassifierMixin):
    """One logistic regression per theme over the shared TF-IDF and that theme's own terms.

    Expects the feature layout of `build_theme_pipeline`: TF-IDF columns, then `len(KINDS)`
    term columns per theme in sorted theme order. Hiding the other themes' term counts keeps a
    tag's evidence its own: with few labels, themes that co-occur in the training texts
    (data and talent in the seed tour reports) would otherwise borrow each other's terms.
    """

    def __init__(self, c: float = 4.0) -> None:
        self.c = c

    def _mask(self, n_columns: int, theme_index: int) -> sp.dia_matrix:
        n_terms = len(KINDS) * len(THEMES)
        mask = np.ones(n_columns)
        mask[n_columns - n_terms:] = 0.0
        own = n_columns - n_terms + len(KINDS) * sorted(THEMES).index(THEMES[theme_index])
        mask[own:own + len(KINDS)] = 1.0
        return sp.diags(mask)

    def fit(self, X: Any, y: np.ndarray) -> PerThemeLogistic:
        X = sp.csr_matrix(X)
        self.classes_ = np.arange(y.shape[1])  # multi-label, as OneVsRestClassifier reports
        self.estimators_ = []
        for i in range(y.shape[1]):
            estimator = LogisticRegression(C=self.c, class_weight="balanced",
                                           solver="liblinear", max_iter=2000)
            if len(np.unique(y[:, i])) < 2:  # a fold without positives: predict the prior
                estimator = _Constant(float(y[:, i].mean()))
            self.estimators_.append(estimator.fit(X @ self._mask(X.shape[1], i), y[:, i]))
        # Masking only zeroes columns, so one product with the masked coefficients predicts
        # all themes at once.
        self.coef_ = np.column_stack([
            np.asarray(est.coef_[0]) * self._mask(X.shape[1], i).diagonal()
            for i, est in enumerate(self.estimators_)])
        self.intercept_ = np.array([float(np.ravel(est.intercept_)[0])
                                    for est in self.estimators_])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(expit(sp.csr_matrix(X) @ self.coef_ + self.intercept_))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)


class _Constant:
    """Stands in for a theme with one class only in a cross-validation fold."""

    def __init__(self, prior: float) -> None:
        self.prior = prior
        self.coef_ = np.zeros((1, 0))
        self.intercept_ = np.array([float(np.log(max(prior, 1e-6) / max(1 - prior, 1e-6)))])

    def fit(self, X: Any, y: Any) -> _Constant:
        self.coef_ = np.zeros((1, X.shape[1]))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.column_stack([np.full(X.shape[0], 1 - self.prior),
                                np.full(X.shape[0], self.prior)])


def build_relevance_pipeline(c: float = 10.0, words_weight: float = 1.0) -> Pipeline:
    """Unfitted binary pipeline: is the text substantially about AI in China?

    The evidence is where China and AI are named (`TermCounts` over the China, AI and chips
    lists: headline, spread over the sentences, density) and whether they are named together
    (`CoOccurrence`), plus word TF-IDF for what the lists miss. The training set holds hard
    negatives on purpose (AI news without China, China news without AI, passing mentions), so
    the words learn what separates them rather than standing in for "China".
    """
    features = FeatureUnion([
        ("terms", Pipeline([("count", _term_features([RELEVANCE, "ai", "chips"])),
                            ("scale", StandardScaler())])),
        ("together", Pipeline([("count", CoOccurrence()), ("scale", StandardScaler())])),
        ("words", WordTfidf(tokenizer=document_words, lowercase=False, token_pattern=None,
                                  sublinear_tf=True, min_df=2, dtype=np.float32)),
    ], transformer_weights={"terms": 1.0, "together": 1.0, "words": words_weight})
    return Pipeline([
        ("features", features),
        ("classify", LogisticRegression(C=c, class_weight="balanced", solver="liblinear",
                                        max_iter=3000)),
    ])


@dataclass
class Prediction:
    themes: list[str]
    scores: dict[str, float]
    china_ai: bool
    china_ai_score: float
    evidence: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self, item_id: Any) -> dict[str, Any]:
        return {"id": item_id, "themes": self.themes,
                "scores": {t: round(self.scores[t], 4) for t in THEMES},
                "china_ai": self.china_ai, "china_ai_score": round(self.china_ai_score, 4)}


@dataclass
class ThemeModel:
    """A fitted model: both pipelines, thresholds, and what it was trained on and how well."""

    themes_pipeline: Pipeline
    relevance_pipeline: Pipeline
    thresholds: dict[str, float]
    relevance_threshold: float
    version: str
    params: dict[str, Any]
    metrics: dict[str, Any]

    def predict(self, documents: list[str]) -> list[Prediction]:
        """Scores for each document (see `examples.document` for what a document is)."""
        if not documents:
            return []
        theme_probs = np.asarray(self.themes_pipeline.predict_proba(documents))
        relevance = self.relevance_pipeline.predict_proba(documents)[:, 1]
        out = []
        for row, rel in zip(theme_probs, relevance, strict=True):
            scores = {t: float(p) for t, p in zip(THEMES, row, strict=True)}
            out.append(Prediction(
                themes=[t for t in THEMES if scores[t] >= self.thresholds[t]],
                scores=scores, china_ai=bool(rel >= self.relevance_threshold),
                china_ai_score=float(rel)))
        return out

    def explain(self, document_text: str, top: int = 8) -> dict[str, list[tuple[str, float]]]:
        """Per theme (and relevance), the features that pushed the score up most."""
        result: dict[str, list[tuple[str, float]]] = {}
        features = self.themes_pipeline.named_steps["features"]
        values = features.transform([document_text])
        names = features.get_feature_names_out()
        row = values.toarray()[0] if hasattr(values, "toarray") else np.asarray(values)[0]
        coefficients = self.themes_pipeline.named_steps["classify"].coef_
        for i, theme in enumerate(THEMES):
            result[theme] = _top_contributions(row, coefficients[:, i], names, top)
        rel_features = self.relevance_pipeline.named_steps["features"]
        rel_values = rel_features.transform([document_text])
        rel_row = (rel_values.toarray()[0] if hasattr(rel_values, "toarray")
                   else np.asarray(rel_values)[0])
        result[RELEVANCE] = _top_contributions(
            rel_row, self.relevance_pipeline.named_steps["classify"].coef_[0],
            rel_features.get_feature_names_out(), top)
        return result

    def evidence(self, document_text: str, prediction: Prediction) -> dict[str, list[str]]:
        """Why each assigned tag: the one or two sentences that carry it (China-AI: China named
        beside AI or chips), else the terms found, else the features that pushed it up."""
        out: dict[str, list[str]] = {}
        for label in [*prediction.themes, *([RELEVANCE] if prediction.china_ai else [])]:
            partners = ("ai", "chips") if label == RELEVANCE else ()
            out[label] = (carrying_sentences(document_text, label, partners)
                          or term_hits(document_text, label)[:8]
                          or [name for name, _ in self.explain(document_text)[label][:5]])
        return out

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.version}.joblib"
        joblib.dump({"model": self, "sklearn": sklearn.__version__}, path, compress=3)
        return path

    @staticmethod
    def load(path: Path) -> ThemeModel:
        bundle = joblib.load(path)
        if bundle.get("sklearn") != sklearn.__version__:
            raise ModelMismatch(f"{path} was saved by scikit-learn {bundle.get('sklearn')}, "
                                f"this is {sklearn.__version__}: run `cait train`")
        model: ThemeModel = bundle["model"]
        return model



def _top_contributions(values: np.ndarray, coefficients: np.ndarray, names: np.ndarray,
                       top: int) -> list[tuple[str, float]]:
    contributions = values * coefficients
    order = np.argsort(-contributions)[:top]
    return [(_pretty(str(names[i])), round(float(contributions[i]), 4)) for i in order
            if contributions[i] > 0]


def _pretty(name: str) -> str:
    # FeatureUnion prefixes names with the transformer name ("words__chip export")
    return name.split("__", 1)[1] if "__" in name else name
