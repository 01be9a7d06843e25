"""`cait backfill`: past articles from sitemaps and feed archives, against loopback sites, on
SQLite and PostgreSQL — each case bounded, resumable, and nothing stored twice."""

from __future__ import annotations

import gzip
import html
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cli import app
from collectors.backfill import backfill
from collectors.backfill_run import Limits
from collectors.sitemaps import parse_sitemap
from collectors.sources import SourceSpec
from collectors.store import add_sources
from config import Settings
from db.models import Article, Backfill, BackfillUrl
from tests.server import LoopbackServer, Reply, gzip_bomb, gzipped

Sessions = sessionmaker[Session]
ANCHORS = Path(__file__).resolve().parents[1] / "classify" / "anchors" / "articles.jsonl"
# Real, hand-labelled China-AI chips articles: distinct texts, so no two pages are duplicates.
ARTICLES = [row for row in map(json.loads, ANCHORS.read_text().splitlines())
            if row.get("china_ai") is True and "chips" in row["labels"]
            and len(row["text"]) > 1500]
JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)


def day(month: int, d: int, year: int = 2025) -> datetime:
    return datetime(year, month, d, 9, 0, tzinfo=UTC)


def page(n: int, published: datetime | None) -> Reply:
    """Article page n (a real article's text), dated by its meta tag when `published`."""
    row = ARTICLES[n]
    sentences = row["text"].split(". ")
    paragraphs = "".join(f"<p>{html.escape('. '.join(sentences[i:i + 3]))}.</p>"
                         for i in range(0, len(sentences), 3))
    meta = (f'<meta property="article:published_time" content="{published.isoformat()}">'
            if published else "")
    title = html.escape(row["title"])
    return Reply(200, (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                       f"<title>{title}</title>{meta}</head><body><article><h1>{title}</h1>"
                       f"{paragraphs}</article></body></html>").encode())


def urlset(entries: list[tuple[str, datetime | None]]) -> bytes:
    body = "".join(f"<url><loc>{html.escape(u)}</loc>"
                   + (f"<lastmod>{m.date().isoformat()}</lastmod>" if m else "") + "</url>"
                   for u, m in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?><urlset '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>').encode()


def news_sitemap(entries: list[tuple[str, datetime]]) -> bytes:
    body = "".join(
        f"<url><loc>{html.escape(u)}</loc><news:news><news:publication><news:name>Site"
        f"</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{d.isoformat()}</news:publication_date>"
        f"<news:title>Story {i}</news:title></news:news></url>" for i, (u, d) in enumerate(entries))
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
            'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{body}</urlset>").encode()


def index(urls: list[str]) -> bytes:
    body = "".join(f"<sitemap><loc>{html.escape(u)}</loc></sitemap>" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>').encode()


def rss(items: list[tuple[str, datetime]]) -> bytes:
    body = "".join(f"<item><title>Item {i}</title><link>{html.escape(u)}</link>"
                   f"<pubDate>{d.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
                   f"<description>Summary {i}</description></item>"
                   for i, (u, d) in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            f"{body}</channel></rss>").encode()


def robots(server: LoopbackServer, *sitemaps: str) -> None:
    lines = "".join(f"Sitemap: {server.url(s)}\n" for s in sitemaps)
    server.routes["/robots.txt"] = Reply(200, f"User-agent: *\nAllow: /\n{lines}".encode(),
                                         content_type="text/plain")


def add_source(sessions: Sessions, url: str, name: str = "site") -> None:
    with sessions() as s:
        add_sources(s, [SourceSpec(name, url)], 3600)
        s.commit()


def stored(sessions: Sessions) -> list[Article]:
    with sessions() as s:
        rows = list(s.scalars(select(Article).order_by(Article.id)))
        s.expunge_all()
        return rows


def hits(server: LoopbackServer, path: str) -> int:
    return len(server.hits(path))


def per_run(settings: Settings, n: int, **more: object) -> Settings:
    return replace(settings, backfill_per_run=n, **more)  # type: ignore[arg-type]


def test_a_sitemap_index_with_three_children_one_gzipped_resumes_and_stores_once(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    robots(server, "/sitemap_index.xml")
    server.routes["/sitemap_index.xml"] = Reply(200, index(
        [server.url("/s1.xml"), server.url("/s2.xml"), server.url("/s3.xml.gz")]),
        content_type="application/xml")
    dates = {n: day(1, 3 + n) for n in range(9)}
    for n, when in dates.items():
        server.routes[f"/a/{n}"] = page(n, when)
    server.routes["/old"] = page(20, day(6, 1, 2024))
    children = [urlset([(server.url(f"/a/{n}"), dates[n]) for n in range(k, k + 3)])
                for k in (0, 3, 6)]
    # lastmod before --since: cannot have been published in the range, never fetched
    children[0] = urlset([(server.url(f"/a/{n}"), dates[n]) for n in range(3)]
                         + [(server.url("/old"), day(6, 1, 2024))])
    server.routes["/s1.xml"] = Reply(200, children[0], content_type="application/xml")
    server.routes["/s2.xml"] = gzipped(children[1])              # Content-Encoding: gzip
    server.routes["/s3.xml.gz"] = Reply(200, gzip.compress(children[2]),  # a .gz file
                                        content_type="application/x-gzip")
    add_source(sessions, server.url("/feed"))

    first = backfill(sessions, per_run(settings, 4), "site", JAN, FEB)
    assert (first.discovered, first.sitemaps, first.found) == (True, 4, 9)
    assert (first.total, first.new, first.remaining) == (4, 4, 5)
    second = backfill(sessions, per_run(settings, 4), "site", JAN, FEB)
    assert (second.discovered, second.total, second.new, second.remaining) == (False, 4, 4, 1)
    third = backfill(sessions, per_run(settings, 4), "site", JAN, FEB)
    assert (third.total, third.new, third.remaining) == (1, 1, 0)
    again = backfill(sessions, per_run(settings, 4), "site", JAN, FEB)
    assert (again.total, again.new) == (0, 0)

    articles = stored(sessions)
    assert len(articles) == 9 and len({a.canonical_url for a in articles}) == 9
    assert {a.discovered_via for a in articles} == {"backfill"}
    # the page's own date, as trafilatura reads it (to the day)
    assert sorted(a.published_at.date() for a in articles if a.published_at) == sorted(
        d.date() for d in dates.values())
    assert all(hits(server, f"/a/{n}") == 1 for n in range(9))
    assert hits(server, "/old") == 0
    assert all(hits(server, p) == 1 for p in ("/sitemap_index.xml", "/s1.xml", "/s2.xml",
                                              "/s3.xml.gz"))
    with sessions() as s:
        state = s.scalars(select(Backfill)).one()
        assert state.finished_at is not None and state.sitemaps == 4


def test_a_news_sitemap_gives_dates_and_the_range_interrupted_and_resumed(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    # no robots.txt: /sitemap.xml is where the sitemap is looked for
    dated = {0: day(1, 5), 1: day(1, 12), 2: day(1, 20), 3: day(12, 20, 2024),
             4: day(12, 28, 2024), 5: day(3, 2)}
    server.routes["/sitemap.xml"] = Reply(200, news_sitemap(
        [(server.url(f"/n/{n}"), when) for n, when in dated.items()]),
        content_type="application/xml")
    for n in dated:
        server.routes[f"/n/{n}"] = page(n, None)  # undated page: the news sitemap's date counts
    add_source(sessions, server.url("/feed"))
    stop = threading.Event()
    one_at_a_time = per_run(settings, 100, host_concurrency=1)

    first = backfill(sessions, one_at_a_time, "site", JAN, FEB, stop=stop,
                     on_item=lambda _outcome: stop.set())
    assert (first.found, first.total, first.new) == (3, 3, 1)
    rest = backfill(sessions, one_at_a_time, "site", JAN, FEB)
    assert (rest.discovered, rest.new, rest.remaining) == (False, 2, 0)

    articles = stored(sessions)
    assert sorted(a.published_at for a in articles) == [dated[0], dated[1], dated[2]]
    assert all(hits(server, f"/n/{n}") == 1 for n in (0, 1, 2))
    assert all(hits(server, f"/n/{n}") == 0 for n in (3, 4, 5))  # out of range: not fetched
    assert hits(server, "/sitemap.xml") == 1


def test_a_paged_feed_archive_is_read_until_it_is_older_than_the_range(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    pages = {"/feed": [day(3, 3), day(3, 2), day(3, 1)],
             "/feed?paged=2": [day(2, 20), day(2, 10), day(2, 1)],
             "/feed?paged=3": [day(1, 20), day(1, 10), day(12, 20, 2024)],
             "/feed?paged=4": [day(11, 3, 2024), day(11, 2, 2024)]}
    n = 0
    for path, dates in pages.items():
        items = []
        for when in dates:
            server.routes[f"/p/{n}"] = page(n, when)
            items.append((server.url(f"/p/{n}"), when))
            n += 1
        server.routes[path] = Reply(200, rss(items), content_type="application/rss+xml")
    add_source(sessions, server.url("/feed"))

    runs = [backfill(sessions, per_run(settings, 3), "site", JAN) for _ in range(4)]
    assert runs[0].archive_pages == 3 and runs[0].found == 8  # the feed's own page included
    assert [r.new for r in runs] == [3, 3, 2, 0]
    assert hits(server, "/feed?paged=4") == 1 and hits(server, "/feed?paged=5") == 0
    articles = stored(sessions)
    assert len(articles) == 8 and {a.discovered_via for a in articles} == {"backfill"}
    assert min(a.published_at for a in articles) == day(1, 10)
    assert all(hits(server, f"/p/{i}") <= 1 for i in range(n))
    assert hits(server, "/p/8") == 0  # dated before --since in the feed: never fetched


def test_an_rfc5005_archive_chain_is_followed_and_a_loop_ends(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    def atom(entries: list[int], prev: str | None) -> Reply:
        link = f'<link rel="prev-archive" href="{server.url(prev)}"/>' if prev else ""
        body = "".join(f"<entry><title>E{i}</title><link href='{server.url(f'/e/{i}')}'/>"
                       f"<id>urn:e:{i}</id><updated>{day(1, 2 + i).isoformat()}</updated>"
                       f"</entry>" for i in entries)
        return Reply(200, (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
                           f"<title>A</title>{link}{body}</feed>").encode(),
                     content_type="application/atom+xml")

    server.routes["/atom"] = atom([5, 4], "/archive/2")
    server.routes["/archive/2"] = atom([3, 2], "/archive/1")
    server.routes["/archive/1"] = atom([1, 0], "/archive/2")  # a loop back: read once
    for i in range(6):
        server.routes[f"/e/{i}"] = page(30 + i, day(1, 2 + i))
    add_source(sessions, server.url("/atom"))

    report = backfill(sessions, settings, "site", JAN, FEB)
    assert (report.archive_pages, report.found, report.new) == (2, 6, 6)
    assert hits(server, "/archive/2") == 1 and hits(server, "/archive/1") == 1
    assert hits(server, "/atom?paged=2") == 0


def test_a_sitemap_bomb_is_bounded_and_resumable(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    robots(server, "/index.xml")
    server.routes["/index.xml"] = Reply(200, index(
        [server.url("/index.xml"), server.url("/bomb.xml"), server.url("/zip.xml.gz"),
         server.url("/deep/0.xml")]), content_type="application/xml")
    server.routes["/bomb.xml"] = Reply(200, urlset(
        [(server.url(f"/b/{i}"), None) for i in range(50_000)]), content_type="application/xml")
    # a .gz file that inflates to 50 MB: cut off at CAIT_MAX_BYTES, never inflated whole
    server.routes["/zip.xml.gz"] = Reply(200, gzip_bomb(50).body,
                                         content_type="application/x-gzip")
    for level in range(10):  # indexes nested ten deep
        server.routes[f"/deep/{level}.xml"] = Reply(200, index(
            [server.url(f"/deep/{level + 1}.xml")]), content_type="application/xml")
    for i in range(10):
        server.routes[f"/b/{i}"] = page(40 + i, day(1, 10 + i))
    add_source(sessions, server.url("/feed"))
    limits = Limits(urls_per_sitemap=2_000)

    first = backfill(sessions, per_run(settings, 5), "site", JAN, limits=limits)
    assert (first.found, first.total, first.new) == (2_000, 5, 5)
    notes = " | ".join(first.notes)
    assert "48000 URLs past the cap of 2000" in notes
    assert "inflates past" in notes and "deeper than 3 levels" in notes
    assert hits(server, "/index.xml") == 1  # it lists itself: read once
    assert [hits(server, f"/deep/{level}.xml") for level in range(4)] == [1, 1, 1, 0]

    second = backfill(sessions, per_run(settings, 5), "site", JAN, limits=limits)
    assert (second.discovered, second.new, second.remaining) == (False, 5, 1_990)
    articles = stored(sessions)
    assert len(articles) == 10 and len({a.canonical_url for a in articles}) == 10
    assert all(hits(server, f"/b/{i}") == 1 for i in range(10))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(BackfillUrl)) == 2_000


def test_parse_sitemap_refuses_entities_and_reads_plain_text() -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
              b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><urlset '
              b'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://x.test/&b;'
              b"</loc></url></urlset>")
    refused = parse_sitemap(laughs, "http://x.test/s.xml", max_urls=10, max_bytes=1000)
    assert not refused.ok and refused.entries == []
    text = parse_sitemap(b"http://x.test/1\nhttp://x.test/2\n", "http://x.test/s.txt",
                         max_urls=1, max_bytes=1000)
    assert [e.url for e in text.entries] == ["http://x.test/1"] and text.dropped == 1


# ---- through the CLI ----------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def env(cli_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on the test database (conftest `cli_env`), parsing in-process."""
    monkeypatch.setenv("CAIT_PARSE_PROCESSES", "0")


def test_backfilled_articles_are_tagged_and_count_in_the_timeline_at_their_dates(
        server: LoopbackServer, env: None) -> None:
    dates = [day(1, 7), day(1, 8), day(1, 15)]
    server.routes["/sitemap.xml"] = Reply(200, news_sitemap(
        [(server.url(f"/c/{n}"), when) for n, when in enumerate(dates)]),
        content_type="application/xml")
    for n, when in enumerate(dates):
        server.routes[f"/c/{n}"] = page(n, when)
    assert runner.invoke(app, ["sources", "add", server.url("/feed"), "--name", "site",
                               "--no-discover"]).exit_code == 0
    result = runner.invoke(app, ["backfill", "site", "--since", "2025-01-01", "--until",
                                 "2025-02-01", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # the loopback server may log to stderr
    assert (summary["new_articles"], summary["remaining"]) == (3, 0)
    assert summary["tagged"] >= 3
    timeline = runner.invoke(app, ["timeline", "--theme", "chips", "--since", "2025-01-01",
                                   "--until", "2025-02-01", "--format", "json"])
    assert timeline.exit_code == 0, timeline.output
    weeks = {row["week"]: row["articles"] for row in json.loads(timeline.output)}
    assert weeks["2025-W02"] == 2 and weeks["2025-W03"] == 1
    again = runner.invoke(app, ["backfill", "site", "--since", "2025-01-01", "--until",
                                "2025-02-01"])
    assert again.exit_code == 0 and "collected 0" in again.output


@pytest.mark.parametrize(("args", "message"), [
    (["backfill", "nope", "--since", "2025-01-01"], "no such source: nope"),
    (["backfill", "site", "--since", "January"], "--since must be a date like"),
    (["backfill", "site", "--since", "2025-03-01", "--until", "2025-01-01"],
     "--until must be after --since"),
    (["backfill", "site", "--since", "2099-01-01"], "--since must be a date in the past"),
    (["backfill", "site", "--since", "2025-01-01"], "no sitemap or feed archive found for site"),
])
def test_backfill_errors_are_one_line(server: LoopbackServer, env: None, args: list[str],
                                      message: str) -> None:
    assert runner.invoke(app, ["sources", "add", server.url("/feed"), "--name", "site",
                               "--no-discover"]).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    # (the loopback server's own threads may print to the same captured stderr)
    [line] = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert message in line and "Traceback" not in result.output.split("error:")[-1]
