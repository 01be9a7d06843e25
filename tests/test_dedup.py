"""Canonical URLs, content hashes and near-duplicate fingerprints."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import urls
from sqlalchemy import select

from collectors import dedup
from collectors import urls as urls_module
from collectors.dedup import (
    Fingerprint,
    NearDuplicateIndex,
    content_hash,
    fingerprint,
    hamming,
    normalise_text,
    simhash,
)
from collectors.urls import canonical_urls, canonicalize_url, de_amp_url, http_url
from common.text import words
from db import migrate
from db.models import Article, Source
from db.session import make_engine, session_scope
from tests.conftest import SEEDS


@pytest.mark.parametrize(("raw", "canonical"), [
    ("HTTPS://WWW.Example.COM:443/News/A?utm_source=rss&utm_medium=x#top",
     "https://www.example.com/News/A"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com:8080/a?b=2&a=1", "http://example.com:8080/a?a=1&b=2"),
    ("https://x.com/a?fbclid=1&gclid=2&id=7", "https://x.com/a?id=7"),
    ("https://x.com/%7euser/%e6%96%b0", "https://x.com/~user/%E6%96%B0"),
    ("https://x.com/新闻/1", "https://x.com/%E6%96%B0%E9%97%BB/1"),
])
def test_canonicalize(raw: str, canonical: str) -> None:
    assert canonicalize_url(raw) == canonical


@pytest.mark.parametrize(("a", "b"), [
    ("https://x.com/a%2Fb", "https://x.com/a/b"),        # an escaped slash is not a slash
    ("https://x.com/Article", "https://x.com/article"),  # paths are case-sensitive
    ("https://x.com/a/", "https://x.com/a"),             # servers may treat these apart
    ("https://x.com/a?id=1", "https://x.com/a?id=2"),
    ("http://x.com/a", "https://x.com/a"),
])
def test_canonicalize_keeps_distinct_articles_apart(a: str, b: str) -> None:
    assert canonicalize_url(a) != canonicalize_url(b)


@given(urls())
def test_canonicalize_is_idempotent(url: str) -> None:
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once


# Near-misses of the settled form too: upper case, ports, escapes, ";", queries, fragments,
# empty labels, non-ASCII, white space.
_URL_LIKE = st.from_regex(r"\A ?[hH]ttps?://[a-zA-Z0-9.-]{1,10}(:[0-9]{1,3})?"
                          r"(/[A-Za-z0-9\-._~/:@!$&'()*+,;=%?#é ]{0,14})?\Z")
_SETTLED_EDGES = ["http://a.com", "http://a.com/", "http://a.com./x", "http://a..com/x",
                  "http://A.com/x", "http://a.com:80/x", "http://a.com/x?", "http://a.com/x#",
                  "http://a.com/x;", "http://a.com/a;b/c;d", "http://a.com/%7e", "http://a.com//x",
                  "http://a.com/x:y@z", "http://-a.com/x", "http://1.2.3.4/x", "https://a.com/é"]


_BASES = ["", "https://feeds.example/rss", "http://other.example/a/b"]


def _both_ways(url: str, base: str) -> None:
    """The same results with `_SETTLED_HTTP_URL`'s shortcut and without it (a never-matching
    pattern in its place)."""
    def results() -> tuple[str, str, str | None]:
        return (canonicalize_url(url), canonicalize_url(url, keep_fragment=True),
                http_url(url, base))

    shortcut = results()
    with mock.patch.object(urls_module, "_SETTLED_HTTP_URL", re.compile(r"(?!)")):
        assert results() == shortcut


@pytest.mark.parametrize("base", _BASES)
@pytest.mark.parametrize("url", _SETTLED_EDGES)
def test_a_settled_url_takes_the_shortcut_to_the_same_result(url: str, base: str) -> None:
    _both_ways(url, base)


@given(st.one_of(urls(), _URL_LIKE), st.sampled_from(_BASES))
def test_any_url_gets_the_same_result_with_the_shortcut(url: str, base: str) -> None:
    _both_ways(url, base)


def test_fragments_kept_only_where_they_tell_posts_apart() -> None:
    day = "http://scripting.com/2017/06/27.html"
    assert canonical_urls([f"{day}#a1", f"{day}#a2", "http://x.com/p#comments"]) == [
        f"{day}#a1", f"{day}#a2", "http://x.com/p"]
    assert canonical_urls(["http://x.com/p", "http://x.com/p#comments"]) == [
        "http://x.com/p", "http://x.com/p"]


def test_de_amp() -> None:
    assert de_amp_url("https://news.example.com/story/amp") == "https://news.example.com/story"
    assert de_amp_url("https://amp.example.com/a.amp.html?amp=1") == "https://example.com/a.html"
    assert de_amp_url("https://example.com/a") == "https://example.com/a"


def test_content_hash_ignores_case_and_spacing_but_not_words() -> None:
    text = SEEDS.joinpath("gogoai_lambert_china_ai_tour.txt").read_text()
    assert content_hash(text) == content_hash("  " + text.upper().replace(" ", "   "))
    assert content_hash(text) != content_hash(text.replace("China", "Japan", 1))
    assert content_hash("too short to identify anything") is None


def test_simhash_finds_a_lightly_edited_copy_and_not_a_different_story() -> None:
    first = SEEDS.joinpath("abmedia_lambert_china_ai_labs.txt").read_text()
    other = SEEDS.joinpath("gogoai_lambert_china_ai_tour.txt").read_text()
    edited = first.replace("Lambert believes", "Lambert thinks").replace(
        "first appeared on Lian News ABMedia.", "was syndicated.")
    a, b, c = simhash(first), simhash(edited), simhash(other)
    assert a is not None and b is not None and c is not None
    assert hamming(a, b) <= 3
    assert hamming(a, c) > 10
    index = NearDuplicateIndex()
    index.add(1, a)
    index.add(2, c)
    assert index.find(b) == 1
    assert simhash("few words") is None


def test_simhash_works_on_chinese_text() -> None:
    text = ("月之暗面和智谱等中国大模型公司正在加快开源发布，研究人员认为芯片和数据的差距"
            "是中美之间的关键区别，而人才密度和研究文化则是中国实验室的优势所在。") * 3
    edited = text.replace("关键区别", "主要区别", 1)
    a, b = simhash(text), simhash(edited)
    assert a is not None and b is not None and hamming(a, b) <= 3


def test_fingerprint_matches_the_separate_functions_when_remembered_too() -> None:
    text = SEEDS.joinpath("gogoai_lambert_china_ai_tour.txt").read_text()
    expected = Fingerprint(content_hash(text), simhash(text))
    assert expected.content_hash is not None and expected.simhash is not None
    assert fingerprint(text) == expected
    assert fingerprint(text.upper()) == expected  # same normalised text: remembered
    assert fingerprint("short") == Fingerprint(None, None)
    assert fingerprint(None) == Fingerprint(None, None)


def _simhash_one_shingle_at_a_time(text: str) -> int | None:
    """The SimHash bit by bit, one shingle at a time, in Python integers: what the numpy
    version must give. A shingle's value is its three words' BLAKE2b values rotated by 0, 21
    and 42 bits, XORed, through splitmix64's finaliser."""
    tokens = words(normalise_text(text))
    if len(tokens) < 40:
        return None
    mask = (1 << 64) - 1

    def rotated(value: int, bits: int) -> int:
        return ((value << bits) | (value >> (64 - bits))) & mask if bits else value

    counts = [0] * 64
    for i in range(len(tokens) - 2):
        value = 0
        for place in range(3):
            digest = hashlib.blake2b(tokens[i + place].encode("utf-8"), digest_size=8).digest()
            value ^= rotated(int.from_bytes(digest, "big"), 21 * place)
        value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & mask
        value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & mask
        value ^= value >> 31
        for bit in range(64):
            counts[bit] += (value >> (63 - bit)) & 1
    total = len(tokens) - 2
    result = sum(1 << (63 - bit) for bit in range(64) if counts[bit] * 2 > total)
    return result - (1 << 64) if result >= (1 << 63) else result


def test_simhash_is_the_majority_of_the_shingle_digests() -> None:
    texts = [SEEDS.joinpath("gogoai_lambert_china_ai_tour.txt").read_text(),
             "月之暗面和智谱等中国大模型公司正在加快开源发布，研究人员认为芯片和数据的差距" * 4,
             "Mixed 中文 GPT-4 text, café ﬁ ÉCOLE " * 20]
    for text in texts:
        assert simhash(text) == _simhash_one_shingle_at_a_time(text) is not None


def test_simhash_is_the_same_when_the_word_hashes_are_forgotten(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-process store of word hashes starts anew when full: no value changes."""
    text = SEEDS.joinpath("gogoai_lambert_china_ai_tour.txt").read_text()
    other = "Mixed 中文 GPT-4 text, café ﬁ ÉCOLE " * 20
    expected = simhash(text), simhash(other)
    monkeypatch.setattr(dedup, "TOKEN_HASHES", 10)
    monkeypatch.setattr(dedup, "_TOKEN_HASHES", {})
    assert (simhash(text), simhash(other)) == expected
    # the second text's words at most: the first text's were forgotten
    assert set(dedup._TOKEN_HASHES) <= set(words(normalise_text(other)))


def test_migration_0011_recomputes_the_last_30_days_simhashes(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Values of the old rule are worked out anew for the originals that near-duplicates
    are still compared with (30 days), from their text or else their summary; older rows
    keep theirs. Batches of one row: each batch starts after the last one's id."""
    monkeypatch.setattr(migrate, "REHASH_BATCH", 1)
    text = SEEDS.joinpath("gogoai_lambert_china_ai_tour.txt").read_text()
    now = datetime.now(UTC)
    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(engine, "0010")
        with session_scope(engine) as s:
            source = Source(name="m", kind="feed", url="https://m.example/feed")
            s.add(source)
            s.flush()
            for n, seen, body, summary in [(1, now - timedelta(days=1), text, None),
                                           (2, now - timedelta(days=2), None, text),
                                           (3, now - timedelta(days=60), text, None)]:
                s.add(Article(source_id=source.id, url=f"https://m.example/{n}",
                              canonical_url=f"https://m.example/{n}", text=body,
                              summary=summary, simhash=12345, first_seen_at=seen,
                              discovered_via="feed"))
        migrate.upgrade(engine)
        with session_scope(engine) as s:
            found = {url: value for url, value in s.execute(select(Article.url, Article.simhash))}
    finally:
        engine.dispose()
    new = simhash(text)
    assert new is not None and new != 12345
    assert found == {"https://m.example/1": new, "https://m.example/2": new,
                     "https://m.example/3": 12345}


def test_fingerprint_remembers_a_text_by_what_it_is_not_by_its_object() -> None:
    text = SEEDS.joinpath("gogoai_lambert_china_ai_tour.txt").read_text()
    first = fingerprint(text)
    assert fingerprint("".join(list(text))) == first  # an equal string, another object
    assert fingerprint(text + " More.") != first


def test_the_near_duplicate_index_finds_what_a_full_comparison_finds() -> None:
    """The banded index (issue 18: made cheaper) answers as comparing with every stored
    fingerprint would: the earliest id within NEAR_DUPLICATE_BITS, signed values included."""
    import random

    rng = random.Random(18)
    stored = [rng.getrandbits(64) - (1 << 63) for _ in range(300)]
    index = NearDuplicateIndex()
    for article_id, value in enumerate(stored):
        index.add(article_id, value)
    for probe in stored + [v ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64))
                           for v in stored] + [rng.getrandbits(64) - (1 << 63)
                                               for _ in range(300)]:
        near = [i for i, v in enumerate(stored) if hamming(probe, v) <= 3]
        assert index.find(probe) == (min(near) if near else None)
