"""Vocabulary: the themes, the relevance label and their term lists (`terms.toml`).

One TOML holds every term list in English and Chinese; the classifier counts them as features
and shows them as evidence, and the Related-News keyword gate reads the same lists.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from common.text import has_cjk, words

THEMES: tuple[str, ...] = ("chips", "data", "talent", "open_source")
RELEVANCE = "china_ai"
TERMS_FILE = Path(__file__).resolve().parent / "terms.toml"


@lru_cache(maxsize=4)
def load_terms(path: Path = TERMS_FILE) -> dict[str, tuple[str, ...]]:
    """label → its terms (English and Chinese), lower-cased."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {label: tuple(t.lower() for t in (*lists.get("en", []), *lists.get("zh", [])))
            for label, lists in data.items()}



class TermMatcher:
    """Counts every label's terms in a text in one pass.

    Latin terms are matched as whole token sequences (a dictionary lookup per n-gram),
    Chinese terms as substrings (a segmenter may split a rare term differently in context);
    regex alternations over hundreds of terms were the slowest part of classification.
    """

    def __init__(self, terms: Mapping[str, Sequence[str]]) -> None:
        self.labels = sorted(terms)
        self._latin: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self._cjk: list[tuple[str, str]] = []
        for label in self.labels:
            for term in terms[label]:
                if has_cjk(term):
                    self._cjk.append((label, term))
                else:
                    key = tuple(words(term))
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
        """label → {term: occurrences}, and the text's length in words."""
        found: dict[str, dict[str, int]] = {label: {} for label in self.labels}
        all_words = words(text)
        tokens = [w for w in all_words if not has_cjk(w)] if has_cjk(text) else all_words
        latin, longest = self._latin, self._max_n
        counted = Counter(tokens)
        # set intersections run in C: only words that are (or start) a term are looked at
        for word in counted.keys() & self._single:
            for label, term in latin[(word,)]:
                found[label][term] = found[label].get(term, 0) + counted[word]
        if counted.keys() & self._starts:
            starts = self._starts
            for i, word in enumerate(tokens):
                if word in starts:
                    for n in range(2, min(longest, len(tokens) - i) + 1):
                        for label, term in latin.get(tuple(tokens[i:i + n]), ()):
                            found[label][term] = found[label].get(term, 0) + 1
        if len(tokens) != len(all_words):
            lowered = text.lower()
            for label, term in self._cjk:
                occurrences = lowered.count(term)
                if occurrences:
                    found[label][term] = found[label].get(term, 0) + occurrences
        return found, max(1, len(all_words))


@lru_cache(maxsize=4)
def default_matcher(path: Path = TERMS_FILE) -> TermMatcher:
    """The matcher over the committed term lists."""
    return TermMatcher(load_terms(path))


def term_hits(text: str, label: str, path: Path = TERMS_FILE) -> list[str]:
    """The distinct terms of `label` found in `text`, most frequent first."""
    counts = default_matcher(path).count(text)[label]
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
