"""Identity of article texts: exact content hashes and near-duplicate fingerprints.

Pure functions, no I/O. An article is stored once per canonical URL (`collectors.urls`); the
content hash catches the same text under two URLs; the 64-bit SimHash catches the same wire story
lightly edited on several sites.
"""

from __future__ import annotations

import hashlib
import sys
import unicodedata
from collections import OrderedDict
from typing import TypeVar

from common.text import words


def normalise_text(text: str) -> str:
    """Text reduced to what identifies content: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


MIN_HASHABLE_CHARS = 200


def body_hash(body: bytes) -> str:
    """SHA-256 of a response body, hex: what tells an unchanged feed without parsing it, and
    what a source keeps to tell the next one (`sources.last_content_hash`)."""
    return hashlib.sha256(body).hexdigest()


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


def token_hash(token: str) -> int:
    """A word's 64 bits: the 8-byte BLAKE2b of its UTF-8, big-endian."""
    digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# A shingle's 64 bits are its words' (`token_hash`), each rotated by its place in the
# shingle, XORed, and mixed by splitmix64's finaliser, so that every bit of the shingle's
# depends on every bit of its words'. (Migration 0011: before, each shingle's text was hashed
# whole, and a BLAKE2b per shingle was most of a SimHash's time.)
SHINGLE_ROTATION = 21  # bits, per place in the shingle
_MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
_ALL_BITS = (1 << 64) - 1  # a fingerprint's 64 bits, whatever its sign


def _simhash_of_normalised(norm: str, shingle: int = 3) -> int | None:
    import numpy as np  # here: a pass with nothing to hash never loads it (issue 18)

    tokens = words(norm)  # the one tokenizer: Chinese as words, not character pairs
    if len(tokens) < MIN_SIMHASH_TOKENS:
        return None
    # Each distinct word is hashed once per process (`_TOKEN_HASHES`), and the shingles are
    # worked out together in numpy (`bench/fingerprint_bench.py`: 1.6-2.1x the texts a second of a
    # BLAKE2b per shingle, issue 18).
    known = _TOKEN_HASHES
    found = list(map(known.get, tokens))
    if None in found:
        if len(known) > TOKEN_HASHES:
            known.clear()
        for place, value in enumerate(found):
            if value is None:
                token = tokens[place]
                value = known.get(token)
                if value is None:
                    value = known[token] = token_hash(token)
                found[place] = value
    hashes = np.array(found, dtype=np.uint64)
    count = len(tokens) - shingle + 1
    mixed = np.zeros(count, dtype=np.uint64)
    for place in range(shingle):
        part = hashes[place:place + count]
        rotation = SHINGLE_ROTATION * place % 64
        mixed ^= (part << np.uint64(rotation)) | (part >> np.uint64(64 - rotation)) if rotation \
            else part
    mixed ^= mixed >> np.uint64(30)
    mixed *= np.uint64(_MIX[0])
    mixed ^= mixed >> np.uint64(27)
    mixed *= np.uint64(_MIX[1])
    mixed ^= mixed >> np.uint64(31)
    # each value's bits from its lowest (the machine's byte order is read as it is), and the
    # majority packed back the same way: bit k of the fingerprint is the majority of bit k
    bits = np.unpackbits(mixed.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    majority = bits.sum(axis=0, dtype=np.int64) * 2 > count
    value = int.from_bytes(np.packbits(majority, bitorder="little").tobytes(), sys.byteorder)
    return value - (1 << 64) if value >= (1 << 63) else value


# Distinct words whose hashes a process keeps (about 15 MB at most); when full, it starts anew.
TOKEN_HASHES = 100_000
_TOKEN_HASHES: dict[str, int] = {}


class Fingerprint:
    """What identifies a text's content: the exact hash, taken at once, and the SimHash,
    worked out when first read (each None when the text is too short).

    A collection pass reads the SimHash only of the texts it stores: the hash tells a feed's
    known entries and exact copies apart, and the SimHash, nearly all the cost of a new text,
    is needed only for a row that is written (issue 18: every entry's SimHash was worked out
    in each parser process, stored or not)."""

    __slots__ = ("_norm", "_simhash", "content_hash")

    def __init__(self, content_hash: str | None, simhash: int | None = None, *,
                 norm: str | None = None) -> None:
        self.content_hash = content_hash
        self._simhash = simhash
        self._norm = norm  # the normalised text while its SimHash is still to be worked out

    @property
    def simhash(self) -> int | None:
        if self._norm is not None:
            self._simhash = _remembered_simhash(self._norm, self.content_hash)
            self._norm = None
        return self._simhash

    def resolved(self) -> Fingerprint:
        """This fingerprint with its SimHash worked out: what a parser process sends back
        (without the normalised text it no longer needs)."""
        self._simhash = self.simhash
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fingerprint):
            return NotImplemented
        return (self.content_hash, self.simhash) == (other.content_hash, other.simhash)

    def __hash__(self) -> int:
        return hash((self.content_hash, self.simhash))

    def __repr__(self) -> str:
        return f"Fingerprint({self.content_hash!r}, {self.simhash!r})"


def fingerprint(text: str | None) -> Fingerprint:
    """The fingerprints of a text: its hash now, its SimHash when read (`Fingerprint`).

    A changed feed repeats mostly known entries and wire stories recur across feeds. A text
    seen recently is remembered by a digest of the text as given, so that it is not even
    normalised again (normalising every repeat was a third of the hashing, issue 18), and
    its SimHash is worked out once; a text whose normalised form is known (other spacing or
    case) reuses its SimHash. A remembered text whose SimHash was never read keeps its
    normalised form until it is forgotten (RECENT_SIMHASHES texts at most).
    """
    if not text:
        return Fingerprint(None, None)
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    known = _RECENT_TEXTS.get(key)
    if known is not None:
        _RECENT_TEXTS.move_to_end(key)
        return known
    norm = normalise_text(text)
    found = Fingerprint(_content_hash_of_normalised(norm), norm=norm)
    _remember(_RECENT_TEXTS, key, found)
    return found


def _remembered_simhash(norm: str, digest: str | None) -> int | None:
    """The SimHash of a normalised text whose content hash is `digest`, remembered by it."""
    if digest is None:
        return _simhash_of_normalised(norm)
    if digest in _RECENT_SIMHASHES:
        _RECENT_SIMHASHES.move_to_end(digest)
        return _RECENT_SIMHASHES[digest]
    found = _simhash_of_normalised(norm)
    _remember(_RECENT_SIMHASHES, digest, found)
    return found


RECENT_SIMHASHES = 20_000  # entries in each of the two
_RECENT_SIMHASHES: OrderedDict[str, int | None] = OrderedDict()  # by content hash
_RECENT_TEXTS: OrderedDict[bytes, Fingerprint] = OrderedDict()  # by digest of the text
_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(recent: OrderedDict[_K, _V], key: _K, value: _V) -> None:
    recent[key] = value
    if len(recent) > RECENT_SIMHASHES:
        recent.popitem(last=False)


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & _ALL_BITS).bit_count()


NEAR_DUPLICATE_BITS = 3


class NearDuplicateIndex:
    """Finds a stored fingerprint within NEAR_DUPLICATE_BITS of a new one.

    Splits the 64 bits into four 16-bit bands: two fingerprints at most 3 bits apart agree
    exactly on at least one band, so only articles sharing a band are compared.
    """

    def __init__(self) -> None:
        self._bands: list[dict[int, list[tuple[int, int]]]] = [{} for _ in range(4)]

    @staticmethod
    def _band_keys(fingerprint: int) -> tuple[int, int, int, int]:
        unsigned = fingerprint & _ALL_BITS
        return (unsigned & 0xFFFF, (unsigned >> 16) & 0xFFFF, (unsigned >> 32) & 0xFFFF,
                unsigned >> 48)

    # Both run for every article a pass stores: the band keys in one expression, one entry
    # shared by the four bands and the distance counted inline (issue 18: 40 % less time).
    def add(self, article_id: int, fingerprint: int) -> None:
        entry = (article_id, fingerprint)
        for band, key in zip(self._bands, self._band_keys(fingerprint), strict=True):
            band.setdefault(key, []).append(entry)

    def find(self, fingerprint: int) -> int | None:
        """The id of the earliest-added near-duplicate, or None."""
        best: int | None = None
        for band, key in zip(self._bands, self._band_keys(fingerprint), strict=True):
            for article_id, other in band.get(key, ()):
                # `hamming` written inline: a call per compared pair was a share of the time
                if ((fingerprint ^ other) & _ALL_BITS).bit_count() <= NEAR_DUPLICATE_BITS and (
                        best is None or article_id < best):
                    best = article_id
        return best


class PendingNearIndex(NearDuplicateIndex):
    """One transaction's additions on top of the pass's index: found together with it, and
    handed to it (`keep`) only once the transaction has committed, so that a rolled-back write
    leaves no SimHash pointing at a row that does not exist."""

    def __init__(self, committed: NearDuplicateIndex) -> None:
        super().__init__()
        self._committed = committed
        self._added: list[tuple[int, int]] = []

    def add(self, article_id: int, fingerprint: int) -> None:
        super().add(article_id, fingerprint)
        self._added.append((article_id, fingerprint))

    def find(self, fingerprint: int) -> int | None:
        found = [i for i in (self._committed.find(fingerprint), super().find(fingerprint))
                 if i is not None]
        return min(found) if found else None

    def keep(self) -> None:
        """Hand the additions to the pass's index (the transaction has committed)."""
        for article_id, fingerprint in self._added:
            self._committed.add(article_id, fingerprint)
        self._added.clear()
