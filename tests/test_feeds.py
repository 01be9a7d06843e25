"""Feed parsing over the whole corpus and its encodings, formats and broken files."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest

from collectors.feeds import parse_feed, refresh_hint_seconds
from collectors.urls import canonical_urls
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


# feedparser reads kc0011's "2020/1/10 14:33:00" as 1 November 2020; fastfeedparser is right.
FEEDPARSER_DATE_ERRORS = {"Ranchero-Software-NetNewsWire__kc0011.rss"}


def test_fast_path_dates_agree_with_feedparser_across_the_corpus() -> None:
    fast_feeds = disagree = 0
    for path in sorted(FEEDS.iterdir()):
        raw = path.read_bytes()
        parsed = parse_feed(raw, {}, BASE)
        if parsed.parser != "fastfeedparser":
            continue
        fast_feeds += 1
        reference = feedparser.parse(raw, sanitize_html=False)
        theirs = [dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")
                  for e in reference.entries if e.get("link") or e.get("id")]
        ours = [e.published_at for e in parsed.entries]
        same = all(mine is None or their is None
                   or mine.replace(microsecond=0) == datetime(*their[:6], tzinfo=UTC)
                   for mine, their in zip(ours, theirs, strict=False))
        if not same:
            disagree += 1
            assert path.name in FEEDPARSER_DATE_ERRORS, path.name
    assert fast_feeds >= 100 and disagree == len(FEEDPARSER_DATE_ERRORS)


def _gbk_feed(declaration: str) -> bytes:
    items = "".join(f"<item><title>华为昇腾芯片与国产算力 第{i}期</title><link>https://x.cn/{i}</link>"
                    "<description>深度求索发布新模型，开源社区反应热烈。</description></item>"
                    for i in range(3))
    return (f'{declaration}<rss version="2.0"><channel><title>科技</title>{items}'
            "</channel></rss>").encode("gb18030")


@pytest.mark.parametrize(("declaration", "headers"), [
    ("", {}),
    ('<?xml version="1.0" encoding="gb2312"?>', {}),
    ("", {"content-type": "application/rss+xml; charset=GBK"}),
])
def test_chinese_feeds_read_right_with_or_without_a_declared_charset(
        declaration: str, headers: dict[str, str]) -> None:
    parsed = parse_feed(_gbk_feed(declaration), headers, BASE)
    assert [e.title for e in parsed.entries][:1] == ["华为昇腾芯片与国产算力 第0期"]
    assert parsed.entries[0].summary == "深度求索发布新模型，开源社区反应热烈。"


def test_big5_feed_without_a_declaration() -> None:
    title = "台積電先進製程與人工智慧晶片出口管制"
    body = (f'<rss version="2.0"><channel><title>科技</title><item><title>{title}</title>'
            "<link>https://x.tw/1</link></item></channel></rss>").encode("big5")
    assert parse_feed(body, {}, BASE).entries[0].title == title
