"""Issue 13: hostile Related-News links and redirects are each one link's outcome; the worker
pass, the other links and the tagging after them go on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from collectors.fetch import Fetcher
from collectors.offload import Offload
from collectors.outcome import FetchError, FetchResult
from collectors.sources import SourceSpec
from collectors.store import add_sources
from collectors.update import collect
from config import Settings
from db.models import Article, ArticleLink, ArticleTheme, Source
from tests.pages import article_page, seed_paragraphs
from tests.server import LoopbackServer, Reply, redirect
from worker import Worker

RELEVANT = ["DeepSeek raises new funding as China AI competition heats up",
            "Huawei Ascend chips power DeepSeek model training in China",
            "China AI labs DeepSeek and Moonshot release open models",
            "DeepSeek Raises Funding at $45B Valuation Amid AI Competition"]


def _seed(server: LoopbackServer, links: dict[str, str]) -> None:
    body, _ = seed_paragraphs()
    server.routes["/seed"] = Reply(200, article_page("China's AI labs", body,
                                                     related=links).encode())


def test_a_worker_pass_with_poisoned_links_still_tags(
        server: LoopbackServer, settings: Settings, engine: Engine,
        sessions: sessionmaker[Session], model_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    boom = server.url("/news/boom")
    poisoned = {RELEVANT[0]: "http://a..evil.test/x",          # IDNA: UnicodeError
                RELEVANT[1]: "http://ev\u00adil.test/x",        # soft hyphen: InvalidURL
                RELEVANT[2]: server.url("/news/p\x7fq"),        # DEL in the path
                RELEVANT[3]: boom}                               # extraction raises (a bug)
    _seed(server, poisoned)
    body, _ = seed_paragraphs()
    server.routes["/news/boom"] = Reply(200, article_page("DeepSeek", body).encode())
    real_extract = Offload.extract_page

    async def extract(self: Offload, body: bytes, url: str, content_type: str,  # type: ignore[no-untyped-def]
                      date_known: bool = False):
        if url == boom:
            raise RuntimeError("an unexpected bug on one page")
        return await real_extract(self, body, url, content_type, date_known)

    monkeypatch.setattr(Offload, "extract_page", extract)
    with sessions() as s:
        add_sources(s, [SourceSpec("seed", server.url("/seed"), kind="page")], 3600)
        s.commit()
    strict = Settings(**{**settings.__dict__, "allow_private_networks": False,
                         "model_dir": str(model_dir)})
    worker = Worker(strict, engine)
    try:
        worker.pass_once()
    finally:
        worker.offload.close()
    assert worker.failures == 0
    with sessions() as s:
        links = {link.url: link for link in s.scalars(select(ArticleLink))}
        assert set(links) == set(poisoned.values())
        for url, link in links.items():
            assert not link.followed and link.skip_reason, url  # marked: never pending again
        assert "RuntimeError" in (links[boom].skip_reason or "")
        assert s.scalar(select(func.count()).select_from(ArticleTheme)) > 0  # tagging ran
        assert s.scalars(select(Source)).one().last_status == "ok"


@pytest.mark.parametrize("location", ["javascript:alert(1)", "mailto:a@example.com",
                                      "data:text/html,<script>alert(1)</script>"])
def test_a_redirect_to_a_non_http_location_is_one_fetch_error(
        server: LoopbackServer, settings: Settings, location: str) -> None:
    server.routes["/r"] = redirect(location)

    async def run() -> list[FetchResult | FetchError]:
        async with Fetcher(settings) as fetcher:
            return [await fetcher.get(server.url("/r")),
                    await fetcher.get(server.url("/r"), untrusted_from="news.example.com",
                                      check_robots=True)]

    for outcome in asyncio.run(run()):
        assert isinstance(outcome, FetchError)  # a value, never an exception
        assert outcome.reason == "bad_url" and "non-http" in outcome.message


def test_a_javascript_redirect_fails_the_source_and_the_link_not_the_pass(
        server: LoopbackServer, settings: Settings, sessions: sessionmaker[Session]) -> None:
    server.routes["/feed"] = redirect("javascript:alert(1)")
    server.routes["/news/js"] = redirect("javascript:alert(1)")
    _seed(server, {RELEVANT[1]: server.url("/news/js"),  # a block is two links or more
                   "Weekend weather in Lisbon": server.url("/news/weather")})
    with sessions() as s:
        add_sources(s, [SourceSpec("js", server.url("/feed")),
                        SourceSpec("seed", server.url("/seed"), kind="page")], 3600)
        s.commit()
    report = collect(sessions, settings, due_only=False)
    outcome = {r.name: r for r in report.sources}
    assert outcome["js"].outcome == "failed"
    assert (outcome["js"].error or "").startswith("bad_url")
    assert outcome["seed"].outcome == "ok"
    with sessions() as s:
        link = s.scalars(select(ArticleLink).where(ArticleLink.url.like("%/news/js"))).one()
        assert not link.followed and "bad_url" in (link.skip_reason or "")
        js = s.scalars(select(Source).where(Source.name == "js")).one()
        assert "parse_error" not in (js.last_error or "")



def test_an_exception_on_one_entry_page_fails_neither_the_source_nor_the_pass(
        server: LoopbackServer, settings: Settings, sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    body, _ = seed_paragraphs()
    for name in ("good", "boom"):
        server.routes[f"/a/{name}"] = Reply(200, article_page(name, body).encode())
    items = "".join(f"<item><title>{n}</title><link>{server.url(f'/a/{n}')}</link>"
                    f"<description>summary {n}</description></item>" for n in ("good", "boom"))
    server.routes["/feed"] = Reply(200, f'<?xml version="1.0"?><rss version="2.0"><channel>'
                                        f"<title>t</title>{items}</channel></rss>".encode(),
                                   content_type="application/xml")
    real_extract = Offload.extract_page

    async def extract(self: Offload, body: bytes, url: str, content_type: str,  # type: ignore[no-untyped-def]
                      date_known: bool = False):
        if url.endswith("/boom"):
            raise RuntimeError("an unexpected bug on one page")
        return await real_extract(self, body, url, content_type, date_known)

    monkeypatch.setattr(Offload, "extract_page", extract)
    with sessions() as s:
        add_sources(s, [SourceSpec("f", server.url("/feed"), full_text=True)], 3600)
        s.commit()
    report = collect(sessions, settings, due_only=False)
    assert report.sources[0].outcome == "ok" and report.sources[0].new_articles == 2
    with sessions() as s:
        texts = {a.title: (a.text, a.summary) for a in s.scalars(select(Article))}
    assert texts["good"][0] and texts["boom"] == (None, "summary boom")


def test_a_robots_txt_the_parser_chokes_on_allows(server: LoopbackServer, settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def choke(content: str) -> object:
        raise ValueError("unparseable")

    monkeypatch.setattr("collectors.robots.Protego.parse", choke)
    server.routes["/robots.txt"] = Reply(200, b"\xff\xfe garbage", content_type="text/plain")
    server.routes["/page"] = Reply(200, b"<html>page</html>")

    async def run() -> FetchResult | FetchError:
        async with Fetcher(settings) as fetcher:
            return await fetcher.get(server.url("/page"), check_robots=True)

    assert isinstance(asyncio.run(run()), FetchResult)
