"""Identity of article texts: exact content hashes and near-duplicate fingerprints.

Pure functions, no I/O. An article is stored once per canonical URL (`collectors.urls`); the
content hash catches the same text under two URLs; the 64-bit SimHash catches the same wire story
lightly edited on several sites.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

from common.text import words


def normalise_text(text: str) -> str:
    """Text reduced to what identifies content: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


MIN_HASHABLE_CHARS = 200


def content_hash(text: str | None) -> str | None:
    """SHA-256 of the normalised text, or None when the text is too short to identify."""
    return _content_hash_of_normalised(normalise_text(text)) if text else None


def _content_hash_of_normalised(norm: str) -> str | None:
    if len(norm) < MIN_HASHABLE_CHARS:
        return None
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


MIN_SIMHASH_TOKENS = 40


def simhash(text: str | None, shingle: int = 3) -> int | None:
    """64-bit SimHash over word shingles, as a signed integer (fits BIGINT); None if too short."""
    return _simhash_of_normalised(normalise_text(text), shingle) if text else None


def _simhash_of_normalised(norm: str, shingle: int = 3) -> int | None:
    import numpy as np  # here: a pass with nothing to hash never loads it (issue 18)

    tokens = words(norm)  # the one tokenizer: Chinese as words, not character pairs
    if len(tokens) < MIN_SIMHASH_TOKENS:
        return None
    digests = b"".join(
        hashlib.blake2b(" ".join(tokens[i:i + shingle]).encode("utf-8"), digest_size=8).digest()
        for i in range(len(tokens) - shingle + 1))
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 8), axis=1)
    majority = bits.sum(axis=0, dtype=np.int64) * 2 > bits.shape[0]
    value = int.from_bytes(np.packbits(majority).tobytes(), "big")
    return value - (1 << 64) if value >= (1 << 63) else value


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a text's content: exact hash and SimHash (None when too short)."""

    content_hash: str | None
    simhash: int | None


def fingerprint(text: str | None) -> Fingerprint:
    """Both fingerprints of a text, normalising it once. The SimHash of a text seen recently
    is remembered by its content hash: a changed feed repeats mostly known entries and wire
    stories recur across feeds, and the SimHash is nearly all of the cost."""
    if not text:
        return Fingerprint(None, None)
    norm = normalise_text(text)
    digest = _content_hash_of_normalised(norm)
    if digest is None:
        return Fingerprint(None, _simhash_of_normalised(norm))
    if digest in _RECENT_SIMHASHES:
        _RECENT_SIMHASHES.move_to_end(digest)
        return Fingerprint(digest, _RECENT_SIMHASHES[digest])
    value = _RECENT_SIMHASHES[digest] = _simhash_of_normalised(norm)
    if len(_RECENT_SIMHASHES) > RECENT_SIMHASHES:
        _RECENT_SIMHASHES.popitem(last=False)
    return Fingerprint(digest, value)


RECENT_SIMHASHES = 20_000  # ~2 MB
_RECENT_SIMHASHES: OrderedDict[str, int | None] = OrderedDict()


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


NEAR_DUPLICATE_BITS = 3


class NearDuplicateIndex:
    """Finds a stored fingerprint within NEAR_DUPLICATE_BITS of a new one.

    Splits the 64 bits into four 16-bit bands: two fingerprints at most 3 bits apart agree
    exactly on at least one band, so only articles sharing a band are compared.
    """

    def __init__(self) -> None:
        self._bands: list[dict[int, list[tuple[int, int]]]] = [{} for _ in range(4)]

    @staticmethod
    def _band_keys(fingerprint: int) -> list[int]:
        unsigned = fingerprint & ((1 << 64) - 1)
        return [(unsigned >> (16 * i)) & 0xFFFF for i in range(4)]

    def add(self, article_id: int, fingerprint: int) -> None:
        for band, key in zip(self._bands, self._band_keys(fingerprint), strict=True):
            band.setdefault(key, []).append((article_id, fingerprint))

    def find(self, fingerprint: int) -> int | None:
        """The id of the earliest-added near-duplicate, or None."""
        best: int | None = None
        for band, key in zip(self._bands, self._band_keys(fingerprint), strict=True):
            for article_id, other in band.get(key, ()):
                if hamming(fingerprint, other) <= NEAR_DUPLICATE_BITS and (
                        best is None or article_id < best):
                    best = article_id
        return best
