"""Identity of articles: canonical URLs, exact content hashes and near-duplicate fingerprints.

Pure functions, no I/O. An article is stored once per canonical URL; the content hash
catches the same text under two URLs; the 64-bit SimHash catches the same wire story
lightly edited on several sites.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import numpy as np

# Query parameters that only track the reader, never select content.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid",
    "_ga", "_gl", "ref_src", "ref_url", "cmpid", "ocid", "icid", "ncid", "taid", "smid",
    "spm", "mkt_tok", "oly_anon_id", "oly_enc_id",
})
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hmsr", "__twitter")
DEFAULT_PORTS = {"http": 80, "https": 443}


def http_url(href: str, base: str = "") -> str | None:
    """`href` resolved against `base` if that gives a well-formed http(s) URL, else None.

    Untrusted pages and feeds contain anything (`javascript:`, `http://[::1`, bad ports);
    urllib raises ValueError for some of it, so every untrusted URL passes through here.
    """
    try:
        absolute = urljoin(base, href.strip()) if base else href.strip()
        parts = urlsplit(absolute)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return absolute


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalise_path(path: str) -> str:
    """RFC 3986 6.2.2: upper-case escapes, decode only unreserved ones, encode raw non-ASCII."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    path = _PERCENT.sub(fix, path)
    return quote(path, safe="/:@!$&'()*+,;=-._~%") or "/"


def canonicalize_url(url: str, keep_fragment: bool = False) -> str:
    """The normalised form of an article URL under which it is stored.

    Lower-cases scheme and host, drops default ports, fragments, tracking parameters and
    empty queries, sorts the remaining query parameters and normalises percent-encoding.
    Only transformations that cannot turn two different articles into one are applied:
    path case, trailing slashes and non-tracking parameters are kept. `keep_fragment` is
    for the rare sites whose posts differ only by fragment (see `canonical_urls`).
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # malformed: left as it is, and the fetcher reports it as a bad URL
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return url.strip()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if ":" not in host else f"[{host}]"
    if port and DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{netloc}:{port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _is_tracking(k)]
    query.sort()
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, _normalise_path(parts.path), urlencode(query), fragment))


def canonical_urls(urls: list[str]) -> list[str]:
    """Canonical forms of one feed's entry URLs, keeping fragments where they tell posts apart.

    Some sites (Scripting News, live blogs) publish many posts on one page, told apart only
    by `#fragment`; dropping it there would merge distinct articles. Fragments are kept only
    when every entry pointing at the page has one and they differ; a bare page URL next to
    `#comments` is one article.
    """
    plain = [canonicalize_url(u) for u in urls]
    variants: dict[str, set[str]] = {}
    for url, canonical in zip(urls, plain, strict=True):
        variants.setdefault(canonical, set()).add(url.partition("#")[2])
    return [canonicalize_url(url, keep_fragment=True)
            if len(variants[canonical]) > 1 and "" not in variants[canonical] else canonical
            for url, canonical in zip(urls, plain, strict=True)]


_AMP_PATH = re.compile(r"(/amp/?$)|(/amp(?=/))|(\.amp(?=\.html?$))")


def de_amp_url(url: str) -> str:
    """The regular page behind an AMP URL (`…/amp`, `amp.` host, `?amp=1`), else `url`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = parts.netloc
    if host.lower().startswith("amp."):
        host = host[4:]
    path = _AMP_PATH.sub("", parts.path) or "/"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() not in {"amp", "outputtype"}])
    return urlunsplit((parts.scheme, host, path, query, parts.fragment))


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


_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _tokens(norm: str) -> list[str]:
    if not _CJK.search(norm):
        return _WORD.findall(norm)
    tokens: list[str] = []
    for word in _WORD.findall(norm):
        if _CJK.search(word):
            # Chinese has no spaces: use character bigrams as the unit.
            tokens.extend(word[i:i + 2] for i in range(max(1, len(word) - 1)))
        else:
            tokens.append(word)
    return tokens


MIN_SIMHASH_TOKENS = 40


def simhash(text: str | None, shingle: int = 3) -> int | None:
    """64-bit SimHash over word shingles, as a signed integer (fits BIGINT); None if too short."""
    return _simhash_of_normalised(normalise_text(text), shingle) if text else None


def _simhash_of_normalised(norm: str, shingle: int = 3) -> int | None:
    tokens = _tokens(norm)
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
