"""Issue 13: titles are capped as bodies are; a 9 MB title is never stored whole."""

from __future__ import annotations

import json
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collectors.feeds import parse_feed
from collectors.pages import extract_page
from collectors.sources import SourceSpec
from collectors.store import add_sources
from collectors.textutil import MAX_TITLE_CHARS
from collectors.update import collect
from config import Settings
from db.models import Article
from tests.server import LoopbackServer, Reply

HUGE = "DeepSeek " * 1_000_000  # 9 MB


def _rss(title: str, channel: str | None = None) -> bytes:
    channel = title if channel is None else channel
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{channel}</title>'
            f"<item><title>{title}</title><link>https://x.example/1</link></item>"
            f"</channel></rss>").encode()


def test_feed_titles_are_capped() -> None:
    started = time.monotonic()
    rss = parse_feed(_rss(HUGE), {}, "https://x.example/feed")
    as_json = parse_feed(json.dumps({"version": "https://jsonfeed.org/version/1.1",
                                     "title": HUGE, "items": [
                                         {"id": "1", "url": "https://x.example/1",
                                          "title": f"<b>{HUGE}</b>"}]}).encode(),
                         {}, "https://x.example/feed")
    for parsed in (rss, as_json):
        assert parsed.ok and parsed.title is not None
        assert 0 < len(parsed.title) <= MAX_TITLE_CHARS
        [entry] = parsed.entries
        assert entry.title is not None and 0 < len(entry.title) <= MAX_TITLE_CHARS
    assert time.monotonic() - started < 60


def test_page_titles_are_capped() -> None:
    page = extract_page(f"<html><head><title>{HUGE}</title></head><body><p>x</p></body>"
                        f"</html>".encode(), "https://x.example/a")
    assert page.title is not None and 0 < len(page.title) <= MAX_TITLE_CHARS


def test_a_9mb_feed_title_is_not_stored_whole(server: LoopbackServer, settings: Settings,
                                              sessions: sessionmaker[Session]) -> None:
    server.routes["/f"] = Reply(200, _rss(HUGE, "t"), content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec("f", server.url("/f"))], 3600)
        s.commit()
    report = collect(sessions, settings, due_only=False)
    assert report.sources[0].new_articles == 1
    with sessions() as s:
        title = s.scalars(select(Article.title)).one()
        assert title is not None and len(title) <= MAX_TITLE_CHARS
