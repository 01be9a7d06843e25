"""Term lists (anchors/terms.toml) as matchers: evidence for tags and count features."""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

TERMS_FILE = Path(__file__).resolve().parent / "anchors" / "terms.toml"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=4)
def load_terms(path: Path = TERMS_FILE) -> dict[str, tuple[str, ...]]:
    """label → its terms (English and Chinese), lower-cased."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {label: tuple(t.lower() for t in (*lists.get("en", []), *lists.get("zh", [])))
            for label, lists in data.items()}


_TOKEN = re.compile(r"\w+(?:\.\w+)*")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; hyphens split (`open-source` = `open source`), inner dots stay
    (`01.ai`, `2.0`)."""
    return _TOKEN.findall(text.lower())


class TermMatcher:
    """Counts every label's terms in a text in one pass.

    Latin terms are matched as whole token sequences (a dictionary lookup per n-gram),
    Chinese terms as substrings; regex alternations over hundreds of terms were the
    slowest part of classification.
    """

    def __init__(self, terms: Mapping[str, Sequence[str]]) -> None:
        self.labels = sorted(terms)
        self._latin: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self._cjk: list[tuple[str, str]] = []
        for label in self.labels:
            for term in terms[label]:
                if _CJK.search(term):
                    self._cjk.append((label, term))
                else:
                    key = tuple(tokens(term))
                    entries = self._latin.setdefault(key, [])
                    # "open-source" and "open source" are one term once hyphens split
                    if key and all(existing != label for existing, _ in entries):
                        entries.append((label, " ".join(key)))
        self._max_n = max((len(k) for k in self._latin), default=1)
        self._starts = {k[0] for k in self._latin if len(k) > 1}
        self._single = {k[0] for k in self._latin if len(k) == 1}

    def count(self, text: str) -> dict[str, dict[str, int]]:
        """label → {term: occurrences}."""
        return self.count_with_length(text)[0]

    def count_with_length(self, text: str) -> tuple[dict[str, dict[str, int]], int]:
        """label → {term: occurrences}, and the text's length in words (CJK: 2 chars a word)."""
        found: dict[str, dict[str, int]] = {label: {} for label in self.labels}
        words = tokens(text)
        length = len(words)
        latin, longest = self._latin, self._max_n
        counted = Counter(words)
        # set intersections run in C: only words that are (or start) a term are looked at
        for word in counted.keys() & self._single:
            for label, term in latin[(word,)]:
                found[label][term] = found[label].get(term, 0) + counted[word]
        if counted.keys() & self._starts:
            starts = self._starts
            for i, word in enumerate(words):
                if word in starts:
                    for n in range(2, min(longest, len(words) - i) + 1):
                        for label, term in latin.get(tuple(words[i:i + n]), ()):
                            found[label][term] = found[label].get(term, 0) + 1
        if _CJK.search(text):
            length += len(_CJK.findall(text)) // 2
            for label, term in self._cjk:
                occurrences = text.count(term)
                if occurrences:
                    found[label][term] = found[label].get(term, 0) + occurrences
        return found, max(1, length)


@lru_cache(maxsize=4)
def default_matcher(path: Path = TERMS_FILE) -> TermMatcher:
    return TermMatcher(load_terms(path))


def term_hits(text: str, label: str, path: Path = TERMS_FILE) -> list[str]:
    """The distinct terms of `label` found in `text`, most frequent first."""
    counts = default_matcher(path).count(text)[label]
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


class TermCounts(BaseEstimator, TransformerMixin):
    """Per label: log(1+hits), log(1+distinct terms) and hits per 100 words of the text."""

    def __init__(self, terms: Mapping[str, Sequence[str]] | None = None) -> None:
        self.terms = terms

    def fit(self, X: Iterable[str], y: Any = None) -> TermCounts:  # noqa: N803 - sklearn API
        terms = self.terms if self.terms is not None else load_terms()
        self.labels_ = sorted(terms)
        self.matcher_ = TermMatcher(terms)
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:  # noqa: N803
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
