"""Term-list counts as classifier features (the lists and matcher are `common.vocabulary`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from common.vocabulary import TermMatcher, load_terms


class TermCounts(BaseEstimator, TransformerMixin):
    """Per label: log(1+hits), log(1+distinct terms) and hits per 100 words of the text."""

    def __init__(self, terms: Mapping[str, Sequence[str]] | None = None) -> None:
        self.terms = terms

    def fit(self, X: Iterable[str], y: Any = None) -> TermCounts:
        terms = self.terms if self.terms is not None else load_terms()
        self.labels_ = sorted(terms)
        self.matcher_ = TermMatcher(terms)
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        rows = []
        for text in X:
            counts, words = self.matcher_.count_with_length(text)
            row: list[float] = []
            for label in self.labels_:
                hits = sum(counts[label].values())
                row += [math.log1p(hits), math.log1p(len(counts[label])),
                        min(10.0, 100.0 * hits / words)]
            rows.append(row)
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), 3 * len(self.labels_))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"terms:{label}:{kind}" for label in self.labels_
                           for kind in ("hits", "distinct", "density")], dtype=object)
