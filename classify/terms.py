"""Term-list counts as classifier features (the lists and matcher are `common.vocabulary`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from common.vocabulary import TermProfile, default_matcher, load_terms

KINDS = ("hits", "distinct", "density", "title", "coverage")


class _ProfileFeatures(BaseEstimator, TransformerMixin):
    """Features read off each document's `TermProfile`; subclasses say which (`_row`)."""

    def fit(self, X: Iterable[str], y: Any = None) -> _ProfileFeatures:
        # One matcher for every transformer: a document is profiled once per prediction.
        self.matcher_ = default_matcher()
        return self

    def _row(self, found: TermProfile) -> list[float]:
        raise NotImplementedError

    def transform(self, X: Iterable[str]) -> np.ndarray:
        rows = [self._row(self.matcher_.profile(text)) for text in X]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


class TermCounts(_ProfileFeatures):
    """Per label, where its terms are: log(1+hits), log(1+distinct terms), hits per 100 words,
    whether the title (the document's first line) has one, and the share of body sentences
    that do.

    The last two carry the main-point rule of the labelling guide: a theme named in the
    headline, or spread over many sentences, is what the item is about; one sentence with an
    export-control aside in a talent story is a passing mention.
    """

    def __init__(self, labels: Sequence[str] | None = None) -> None:
        self.labels = labels

    def fit(self, X: Iterable[str], y: Any = None) -> TermCounts:
        self.labels_ = sorted(self.labels if self.labels is not None else load_terms())
        super().fit(X, y)
        return self

    def _row(self, found: TermProfile) -> list[float]:
        row: list[float] = []
        for label in self.labels_:
            hits = sum(found.counts[label].values())
            row += [math.log1p(hits), math.log1p(len(found.counts[label])),
                    min(10.0, 100.0 * hits / found.n_words),
                    1.0 if found.in_title[label] else 0.0,
                    len(found.sentences[label]) / found.n_sentences]
        return row

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"terms:{label}:{kind}" for label in self.labels_ for kind in KINDS],
                          dtype=object)


class CoOccurrence(_ProfileFeatures):
    """Whether China and AI are named *together*: the share of body sentences (and whether the
    title) holding a term of `label` beside a term of any of `partners`, and how many.

    "China" in one paragraph and "AI" in another is a China story and an AI story side by
    side; the China-AI item names them in the same sentences. Last, the share of the text
    written in Chinese characters: a Chinese-language outlet rarely names China at all.
    """

    def __init__(self, label: str = "china_ai", partners: Sequence[str] = ("ai", "chips")
                 ) -> None:
        self.label = label
        self.partners = partners

    def _row(self, found: TermProfile) -> list[float]:
        partners = frozenset().union(*(found.sentences[p] for p in self.partners))
        both = len(found.sentences[self.label] & partners)
        in_title = found.in_title[self.label] and any(found.in_title[p] for p in self.partners)
        return [both / found.n_sentences, math.log1p(both), 1.0 if in_title else 0.0,
                found.cjk_share]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"together:{self.label}:{kind}" for kind in
                           ("coverage", "sentences", "title", "chinese_text")], dtype=object)
