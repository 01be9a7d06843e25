"""Near-duplicate fingerprints: the SimHash's speed and behaviour beside the previous rule.

Prints, in one run, over the distinct entry texts of the 122 corpus feeds (what a pass
fingerprints: each new entry's content or summary):
  speed      – texts/s and ms per text of `collectors.dedup.simhash` (each distinct word
               hashed once per process, the shingles mixed in numpy; run once with its word
               hashes forgotten and once with them kept, as a parser process has them), beside
               the previous rule (a BLAKE2b of each shingle's text, kept here as the baseline)
  behaviour  – for texts of 60 words or more, one word replaced at a random place: the share
               within NEAR_DUPLICATE_BITS (found as a near-duplicate) and the mean distance,
               with each rule; the mean distance of random pairs of different texts; and the
               near-duplicate pairs each rule finds among the texts themselves
A real first pass fingerprints every entry it stores, each a new text: the collection bench's
1,000 feeds are copies of these 122 and repeat the same texts, which each parser process
remembers, so this is where the SimHash's own cost is seen.

Run: .venv/bin/python -m bench.fingerprint_bench
"""

from __future__ import annotations

import hashlib
import random
import time
import warnings
from collections.abc import Callable
from functools import partial

import numpy as np

from bench.feed_server import CORPUS
from collectors import dedup
from collectors.dedup import (
    MIN_SIMHASH_TOKENS,
    NEAR_DUPLICATE_BITS,
    NearDuplicateIndex,
    hamming,
    normalise_text,
)
from collectors.feeds import parse_feed
from common.text import words

_SHINGLE_HASH = partial(hashlib.blake2b, digest_size=8)


def previous_simhash(norm: str, shingle: int = 3) -> int | None:
    """The rule before migration 0011: the 8-byte BLAKE2b of each shingle's text (its words
    joined by one space), the majority of each bit."""
    tokens = words(norm)
    if len(tokens) < MIN_SIMHASH_TOKENS:
        return None
    encoded = [token.encode("utf-8") for token in tokens]
    shingles = map(b" ".join, zip(*(encoded[i:] for i in range(shingle)), strict=False))
    digests = b"".join(map(hashlib.blake2b.digest, map(_SHINGLE_HASH, shingles)))
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 8), axis=1)
    majority = bits.sum(axis=0, dtype=np.int64) * 2 > bits.shape[0]
    value = int.from_bytes(np.packbits(majority).tobytes(), "big")
    return value - (1 << 64) if value >= (1 << 63) else value


def entry_texts() -> list[str]:
    """The distinct normalised entry texts of the corpus feeds, in a fixed order."""
    texts: set[str] = set()
    for path in sorted(CORPUS.iterdir()):
        parsed = parse_feed(path.read_bytes(), {}, "https://bench.example/feed")
        texts.update(e.body_for_identity for e in parsed.entries if e.body_for_identity)
    return sorted({normalise_text(t) for t in texts})


def timed(rule: Callable[[str], int | None], texts: list[str], passes: int = 3
          ) -> tuple[float, list[int | None]]:
    """The best CPU seconds of `passes` runs over the texts, and the values."""
    best, values = float("inf"), []
    for _ in range(passes):
        started = time.process_time()
        values = [rule(t) for t in texts]
        best = min(best, time.process_time() - started)
    return best, values


def forgetting(norm: str) -> int | None:
    dedup._TOKEN_HASHES.clear()
    return dedup._simhash_of_normalised(norm)


def edited(text: str, rng: random.Random) -> str:
    said = text.split()
    said[rng.randrange(len(said))] = "edited"
    return " ".join(said)


def near_pairs(values: list[int | None]) -> int:
    index, found = NearDuplicateIndex(), 0
    for i, value in enumerate(values):
        if value is None:
            continue
        found += index.find(value) is not None
        index.add(i, value)
    return found


def main() -> None:
    warnings.simplefilter("ignore")
    texts = entry_texts()
    words("热身 warm-up")  # the segmenter's dictionary, loaded before any clock
    hashed = sum(len(words(t)) >= MIN_SIMHASH_TOKENS for t in texts)
    print(f"{len(texts)} distinct entry texts of the 122 corpus feeds, {hashed} long enough "
          f"to fingerprint ({MIN_SIMHASH_TOKENS} words or more); CPU time, best of 3")
    rules: dict[str, Callable[[str], int | None]] = {
        "previous (BLAKE2b per shingle)": previous_simhash,
        "now, word hashes forgotten": forgetting,
        "now, word hashes kept": dedup._simhash_of_normalised,
    }
    values: dict[str, list[int | None]] = {}
    base = 0.0
    for name, rule in rules.items():
        seconds, values[name] = timed(rule, texts)
        base = base or seconds
        print(f"  {name:32}{len(texts) / seconds:9.0f} texts/s  {seconds / len(texts) * 1000:6.3f}"
              f" ms a text  {base / seconds:5.2f}x")
    now, before = values["now, word hashes kept"], values["previous (BLAKE2b per shingle)"]
    rng = random.Random(0)
    longer = [t for t in texts if len(t.split()) >= 60]
    pairs = [(t, edited(t, rng)) for t in rng.sample(longer, min(500, len(longer)))]
    print(f"one word replaced in {len(pairs)} texts of 60 words or more, within "
          f"{NEAR_DUPLICATE_BITS} bits / mean distance:")
    for name, rule in [("previous", previous_simhash), ("now", dedup._simhash_of_normalised)]:
        distances = [hamming(a, b) for a, b in ((rule(x), rule(y)) for x, y in pairs)
                     if a is not None and b is not None]
        print(f"  {name:9} {np.mean(np.array(distances) <= NEAR_DUPLICATE_BITS):.3f} / "
              f"{np.mean(distances):.2f} bits")
    kept = [i for i, v in enumerate(now) if v is not None]
    drawn = [tuple(rng.sample(kept, 2)) for _ in range(2000)]
    for name, found in [("previous", before), ("now", now)]:
        mean = np.mean([hamming(found[i], found[j]) for i, j in drawn])  # type: ignore[arg-type]
        print(f"  {name:9} random pairs of different texts: mean distance {mean:.1f} bits; "
              f"near-duplicates among the texts: {near_pairs(found)}")


if __name__ == "__main__":
    main()
