"""Vocabulary: the themes, the relevance label and their term lists (`terms.toml`).

One TOML holds every term list in English and Chinese; the classifier counts them as features
and shows them as evidence, and the Related-News keyword gate reads the same lists.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from common.text import count_cjk, has_cjk, latin_word_list, sentence_ends

THEMES: tuple[str, ...] = ("chips", "data", "talent", "open_source")
RELEVANCE = "china_ai"
TERMS_FILE = Path(__file__).resolve().parent / "terms.toml"


@lru_cache(maxsize=4)
def load_terms(path: Path = TERMS_FILE) -> dict[str, tuple[str, ...]]:
    """label → its terms (English and Chinese), lower-cased."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {label: tuple(t.lower() for t in (*lists.get("en", []), *lists.get("zh", [])))
            for label, lists in data.items()}



@dataclass(frozen=True)
class TermProfile:
    """Where a document names each label's terms. A document is "title\nbody"."""

    counts: dict[str, dict[str, int]]      # label → {term: occurrences in the body}
    sentences: dict[str, frozenset[int]]   # label → indexes of body sentences naming it
    in_title: dict[str, bool]
    n_sentences: int
    n_words: int                           # body length in words (Chinese: 2 characters)
    cjk_share: float                       # share of the body's characters that are CJK


class TermMatcher:
    """Finds every label's terms in a text in one pass, with where they stand.

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
                    key = tuple(latin_word_list(term.lower()))
                    entries = self._latin.setdefault(key, [])
                    # "open-source" and "open source" are one term once hyphens split
                    if key and all(existing != label for existing, _ in entries):
                        entries.append((label, " ".join(key)))
        # Chinese terms by first character: one C-level scan finds where any may start.
        self._cjk_by_first: dict[str, list[tuple[str, str]]] = {}
        for label, term in self._cjk:
            self._cjk_by_first.setdefault(term[0], []).append((label, term))
        self._cjk_starts = re.compile(
            "[" + "".join(re.escape(c) for c in sorted(self._cjk_by_first)) + "]"
            if self._cjk_by_first else "(?!)")
        self._max_n = max((len(k) for k in self._latin), default=1)
        self._starts = {k[0] for k in self._latin if len(k) > 1}
        self._first = {k[0] for k in self._latin}

    def _hits(self, lowered: str, ends: list[int]) -> tuple[list[tuple[int, str, str]], int]:
        """(sentence index, label, term) for every term occurrence in a lower-cased text
        whose sentences end at `ends` (see `common.text.sentence_ends`), and its word count
        (Chinese: two characters a word)."""
        found: list[tuple[int, str, str]] = []
        n_words = 0
        latin, first, starts, longest = self._latin, self._first, self._starts, self._max_n
        start = 0
        for index, end in enumerate(ends):
            tokens = latin_word_list(lowered[start:end])
            n_words += len(tokens)
            start = end
            if first.isdisjoint(tokens):  # most sentences name no term: skip them in C
                continue
            for i, word in enumerate(tokens):
                if word not in first:
                    continue
                for label, term in latin.get((word,), ()):
                    found.append((index, label, term))
                if word in starts:
                    for n in range(2, min(longest, len(tokens) - i) + 1):
                        for label, term in latin.get(tuple(tokens[i:i + n]), ()):
                            found.append((index, label, term))
        if has_cjk(lowered):
            n_words += count_cjk(lowered) // 2
            # A term is counted once per non-overlapping occurrence, as str.count would.
            next_free: dict[tuple[str, str], int] = {}
            for match in self._cjk_starts.finditer(lowered):
                at = match.start()
                for label, term in self._cjk_by_first[match.group()]:
                    if at >= next_free.get((label, term), 0) and lowered.startswith(term, at):
                        found.append((bisect_right(ends, at), label, term))
                        next_free[(label, term)] = at + len(term)
        return found, n_words

    def count(self, text: str) -> dict[str, dict[str, int]]:
        """label → {term: occurrences}."""
        counts: dict[str, dict[str, int]] = {label: {} for label in self.labels}
        lowered = text.lower()
        for _, label, term in self._hits(lowered, [len(lowered)])[0]:
            counts[label][term] = counts[label].get(term, 0) + 1
        return counts

    @lru_cache(maxsize=2048)  # noqa: B019 - matchers live as long as the model; both pipelines
    def profile(self, document: str) -> TermProfile:  # profile each document once per predict
        """Counts, sentence positions and title presence of every label in a document."""
        title, _, body = document.partition("\n")
        lowered = body.lower()
        ends = sentence_ends(lowered)
        counts: dict[str, dict[str, int]] = {label: {} for label in self.labels}
        sentences: dict[str, set[int]] = {label: set() for label in self.labels}
        hits, n_words = self._hits(lowered, ends)
        for index, label, term in hits:
            counts[label][term] = counts[label].get(term, 0) + 1
            sentences[label].add(index)
        in_title = {label: bool(found) for label, found in self.count(title).items()}
        letters = sum(1 for ch in lowered if ch.isalpha()) if lowered else 0
        return TermProfile(counts, {k: frozenset(v) for k, v in sentences.items()}, in_title,
                           len(ends), max(1, n_words), count_cjk(lowered) / max(1, letters))


@lru_cache(maxsize=4)
def default_matcher(path: Path = TERMS_FILE) -> TermMatcher:
    """The matcher over the committed term lists."""
    return TermMatcher(load_terms(path))


def term_hits(text: str, label: str, path: Path = TERMS_FILE) -> list[str]:
    """The distinct terms of `label` found in `text`, most frequent first."""
    counts = default_matcher(path).count(text)[label]
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def carrying_sentences(document: str, label: str, partners: Sequence[str] = (), top: int = 2,
                       limit: int = 300) -> list[str]:
    """The one or two body sentences that carry `label`: most of its terms (and, with
    `partners`, only sentences that also name one of theirs), in reading order.

    A document is "title\n…"; the title is used only when no body sentence qualifies.
    """
    matcher = default_matcher()
    title, _, body = document.partition("\n")
    body = body.removeprefix(title + "\n") if title else body
    ends = sentence_ends(body)
    scored: list[tuple[int, int, str]] = []
    start = 0
    for index, end in enumerate(ends):
        sentence = " ".join(body[start:end].split())
        start = end
        if not sentence:
            continue
        counts = matcher.count(sentence)
        hits = sum(counts[label].values())
        if hits and (not partners or any(counts[p] for p in partners)):
            scored.append((hits + sum(sum(counts[p].values()) for p in partners), index,
                           sentence))
    best = sorted(sorted(scored, key=lambda s: (-s[0], s[1]))[:top], key=lambda s: s[1])
    chosen = [sentence for _, _, sentence in best]
    if not chosen and title.strip() and sum(matcher.count(title)[label].values()):
        chosen = [" ".join(title.split())]
    return [c if len(c) <= limit else c[:limit - 1].rstrip() + "…" for c in chosen]
