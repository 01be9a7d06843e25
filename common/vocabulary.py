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
from itertools import accumulate, compress
from operator import not_
from pathlib import Path

from common.text import (
    TEXT_END_MARKS,
    count_cjk,
    has_cjk,
    latin_word_list,
    latin_words_and_ends,
    sentence_ends,
)

THEMES: tuple[str, ...] = ("chips", "data", "talent", "open_source")
RELEVANCE = "china_ai"
TERMS_FILE = Path(__file__).resolve().parent / "terms.toml"
# Characters that are not letters, found in C (a per-character generator was a fifth of
# classification time); the letters are the rest.
_NOT_LETTER = re.compile(r"[\W\d_]")


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

    def _hits(self, lowered: str, by_sentence: bool = True
              ) -> tuple[list[tuple[int, str, str]], int, int, int]:
        """(sentence index, label, term) for every term occurrence in a lower-cased text,
        its word count (Chinese: two characters a word), its number of sentences
        (`common.text.sentence_ends`) and of CJK characters. With `by_sentence` off the text
        is one sentence.

        One C-level pass gives the words and the sentence ends ('' in the list); the text is
        walked word by word only when it holds a word that starts a term.
        """
        found: list[tuple[int, str, str]] = []
        tokens = (latin_words_and_ends if by_sentence else latin_word_list)(lowered)
        markers = tokens.count("") if by_sentence else 0
        n_words = len(tokens) - markers
        latin, first, starts, longest = self._latin, self._first, self._starts, self._max_n
        if not first.isdisjoint(tokens):
            # Where a term may start, and each word's sentence (the ends before it), found in
            # C: a Python loop over every word was most of the term profile's time (issue 18).
            positions = compress(range(len(tokens)), map(first.__contains__, tokens))
            sentence_of = list(accumulate(map(not_, tokens), initial=0)) if markers else None
            for i in positions:
                word = tokens[i]
                index = sentence_of[i] if sentence_of is not None else 0
                for label, term in latin.get((word,), ()):
                    found.append((index, label, term))
                if word in starts:  # an end ('') inside the n-gram makes it match nothing
                    for n in range(2, min(longest, len(tokens) - i) + 1):
                        for label, term in latin.get(tuple(tokens[i:i + n]), ()):
                            found.append((index, label, term))
        n_cjk = count_cjk(lowered) if has_cjk(lowered) else 0
        if n_cjk:
            n_words += n_cjk // 2
            ends = sentence_ends(lowered) if by_sentence else [len(lowered)]
            # A term is counted once per non-overlapping occurrence, as str.count would.
            next_free: dict[tuple[str, str], int] = {}
            for match in self._cjk_starts.finditer(lowered):
                at = match.start()
                for label, term in self._cjk_by_first[match.group()]:
                    if at >= next_free.get((label, term), 0) and lowered.startswith(term, at):
                        found.append((bisect_right(ends, at), label, term))
                        next_free[(label, term)] = at + len(term)
        # sentence_ends counts the text after the last end as one more sentence
        n_sentences = markers + (0 if markers and lowered.endswith(TEXT_END_MARKS) else 1)
        return found, n_words, n_sentences, n_cjk

    def count(self, text: str) -> dict[str, dict[str, int]]:
        """label → {term: occurrences}."""
        counts: dict[str, dict[str, int]] = {label: {} for label in self.labels}
        for _, label, term in self._hits(text.lower(), by_sentence=False)[0]:
            counts[label][term] = counts[label].get(term, 0) + 1
        return counts

    @lru_cache(maxsize=2048)  # noqa: B019 - matchers live as long as the model; both pipelines
    def profile(self, document: str) -> TermProfile:  # profile each document once per predict
        """Counts, sentence positions and title presence of every label in a document."""
        title, _, body = document.partition("\n")
        lowered = body.lower()
        counts: dict[str, dict[str, int]] = {label: {} for label in self.labels}
        sentences: dict[str, set[int]] = {label: set() for label in self.labels}
        hits, n_words, n_sentences, n_cjk = self._hits(lowered)
        for index, label, term in hits:
            counts[label][term] = counts[label].get(term, 0) + 1
            sentences[label].add(index)
        in_title = {label: bool(found) for label, found in self.count(title).items()}
        # Regex passes are most of the cost here: count letters only where CJK is to share.
        cjk_share = n_cjk / max(1, len(lowered) - len(_NOT_LETTER.findall(lowered))) \
            if n_cjk else 0.0
        return TermProfile(counts, {k: frozenset(v) for k, v in sentences.items()}, in_title,
                           n_sentences, max(1, n_words), cjk_share)


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
