"""Feed parsing over the whole corpus and its encodings, formats and broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.dedup import canonical_urls
from collectors.feeds import parse_feed, refresh_hint_seconds
from tests.conftest import CORPUS, DATA

EXPECTED = json.loads((DATA / "feeds_expected.json").read_text())
BASE = "https://feed.example/feed.xml"
FEEDS = CORPUS / "feeds"


def test_expectations_cover_the_whole_corpus() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in FEEDS.iterdir())
    assert len(EXPECTED) == 122


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_corpus_feed_yields_its_entries_or_a_reason(name: str) -> None:
    parsed = parse_feed((FEEDS / name).read_bytes(), {}, BASE)
    expected = EXPECTED[name]
    if "error" in expected:
        assert not parsed.ok and parsed.error
        assert parsed.entries == []
    else:
        assert parsed.ok, parsed.error
        assert len(set(canonical_urls([e.url for e in parsed.entries]))) == expected["links"]
        assert all(e.url.startswith(("http://", "https://")) for e in parsed.entries)
        assert all(e.published_at is None or e.published_at.tzinfo is not None
                   for e in parsed.entries)


@pytest.mark.parametrize(("name", "headers", "expect"), [
    ("Ranchero-Software-NetNewsWire__kc0011.rss", {}, "建国35周年纪念"),
    ("miniflux-v2__encoding_WINDOWS-1251.xml", {}, "Цитата"),
    ("miniflux-v2__no_encoding_ISO-8859-1.xml", {}, "criminalité liée"),
    ("rbren-rss-parser__uolNoticias.rss", {}, "Ibope"),
    ("feedjira-feedjira__Slashdot.xml", {"content-type": "application/rss+xml"}, ""),
])
def test_encodings_come_out_as_correct_text(name: str, headers: dict[str, str],
                                            expect: str) -> None:
    parsed = parse_feed((FEEDS / name).read_bytes(), headers, BASE)
    titles = " ".join(e.title or "" for e in parsed.entries)
    assert expect in titles
    assert "\ufffd" not in titles and "Ã" not in titles


def test_http_charset_is_used_when_the_document_declares_none() -> None:
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
            '<title>华为昇腾芯片</title><link>https://x.cn/1</link></item></channel></rss>')
    parsed = parse_feed(body.encode("gb18030"), {"content-type": "text/xml; charset=gbk"}, BASE)
    assert parsed.entries[0].title == "华为昇腾芯片"


def test_json_feed_1_1_and_rss_in_json() -> None:
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [
        {"id": "1", "url": "https://x.com/a", "title": "DeepSeek", "date_published":
         "2026-05-12T10:00:00+08:00", "authors": [{"name": "Li"}], "content_text": "body"},
        {"id": "2", "external_url": "/b", "content_html": "<p>Qwen <b>3</b></p>"}]}
    parsed = parse_feed(json.dumps(feed).encode(), {}, BASE)
    assert [e.url for e in parsed.entries] == ["https://x.com/a", "https://feed.example/b"]
    first = parsed.entries[0]
    assert first.author == "Li" and first.published_at is not None
    assert first.published_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert first.published_at.hour == 2
    assert parsed.entries[1].content == "Qwen 3"


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"<html><body><h1>Moved</h1></body></html>", "HTML page"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": [', "invalid JSON"),
    (b'{"hello": "world"}', "not a JSON Feed"),
    (b"\x00\x01\x02binary", "not"),
    (b"<rss><channel><title>x</title></channel></rss>", "no entries"),
])
def test_unreadable_documents_give_a_reason(body: bytes, reason: str) -> None:
    parsed = parse_feed(body, {}, BASE)
    assert not parsed.ok and reason in (parsed.error or "")


def test_refresh_hints() -> None:
    assert refresh_hint_seconds(b"<rss><channel><ttl>30</ttl>") == 1800
    assert refresh_hint_seconds(
        b"<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>"
    ) == 1800
    assert refresh_hint_seconds(b"<rss><channel>") is None


def test_future_and_ancient_dates_fall_back_to_first_seen() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>a</title><link>https://x.com/a</link>
        <pubDate>Tue, 12 May 2099 10:00:00 GMT</pubDate></item>
      <item><title>b</title><link>https://x.com/b</link>
        <pubDate>Tue, 12 May 2026 10:00:00 +0800</pubDate></item>
    </channel></rss>"""
    a, b = parse_feed(body, {}, BASE).entries
    assert a.published_at is None
    assert b.published_at is not None and b.published_at.hour == 2


def test_fast_path_and_fallback_agree_on_a_clean_feed(tmp_path: Path) -> None:
    name = "Ranchero-Software-NetNewsWire__DaringFireball.atom"
    raw = (FEEDS / name).read_bytes()
    fast = parse_feed(raw, {}, BASE)
    slow = parse_feed(raw, {"content-type": "application/atom+xml; charset=iso-8859-1"}, BASE)
    assert fast.parser == "fastfeedparser" and slow.parser == "feedparser"
    assert [e.url for e in fast.entries] == [e.url for e in slow.entries]
    assert [e.published_at for e in fast.entries] == [e.published_at for e in slow.entries]
