"""Hostile and broken input: each case is bounded, recorded as the source's error, and the
other sources still collect."""

from __future__ import annotations

import resource
import time

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from collectors.feeds import MAX_ENTRIES, parse_feed
from collectors.sources import SourceSpec
from collectors.store import add_sources
from collectors.update import collect
from config import Settings
from db.models import Article, Source
from tests.server import LoopbackServer, Reply

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>
<link>https://x.example/a</link></item></channel></rss>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>leak &secret;</title>
<link>https://x.example/b</link><description>&secret;</description></item></channel></rss>"""


def huge_feed(items: int) -> bytes:
    body = "".join(f"<item><link>https://x.example/{i}</link></item>" for i in range(items))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}' \
           f"</channel></rss>".encode()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_billion_laughs_is_refused_quickly() -> None:
    started, before = time.monotonic(), peak_rss_mb()
    parsed = parse_feed(BILLION_LAUGHS, {}, "https://x.example/feed")
    assert time.monotonic() - started < 5 and peak_rss_mb() - before < 200
    titles = " ".join(e.title or "" for e in parsed.entries)
    assert "lollollol" not in titles * 1  # never expanded
    assert len(titles) < 10_000


def test_external_entities_are_not_resolved() -> None:
    parsed = parse_feed(EXTERNAL_ENTITY, {}, "https://x.example/feed")
    text = " ".join(f"{e.title} {e.summary}" for e in parsed.entries)
    assert "root:" not in text and "/bin/" not in text


def test_a_feed_with_100000_items_is_capped() -> None:
    parsed = parse_feed(huge_feed(100_000), {}, "https://x.example/feed")
    assert len(parsed.entries) == MAX_ENTRIES
    assert any("100000 entries" in w for w in parsed.warnings)


def test_invalid_utf8_and_wrong_content_type_still_parse() -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t'
            '</title><item><title>caf\xe9 \xff</title><link>https://x.example/c</link></item>'
            "</channel></rss>").encode("latin-1")
    parsed = parse_feed(body, {"content-type": "image/png"}, "https://x.example/feed")
    assert [e.url for e in parsed.entries] == ["https://x.example/c"]


def test_hostile_sources_are_recorded_and_others_collect(
        server: LoopbackServer, settings: Settings, sessions: sessionmaker[Session]) -> None:
    good = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
            "<title>DeepSeek</title><link>https://ok.example/1</link></item></channel></rss>")
    server.routes["/good"] = Reply(200, good.encode(), content_type="application/xml")
    server.routes["/laughs"] = Reply(200, BILLION_LAUGHS, content_type="application/xml")
    server.routes["/xxe"] = Reply(200, EXTERNAL_ENTITY, content_type="application/xml")
    server.routes["/huge"] = Reply(200, huge_feed(100_000), content_type="application/xml")
    server.routes["/png"] = Reply(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 5000,
                                  content_type="image/png")
    with sessions() as s:
        add_sources(s, [SourceSpec(n, server.url(f"/{n}"))
                        for n in ("good", "laughs", "xxe", "huge", "png")], 3600)
        s.commit()
    started = time.monotonic()
    report = collect(sessions, settings, due_only=False)
    assert time.monotonic() - started < 60
    outcome = {r.name: r for r in report.sources}
    assert outcome["good"].outcome == "ok" and outcome["good"].new_articles == 1
    assert outcome["huge"].new_articles == MAX_ENTRIES
    assert outcome["png"].outcome == "failed" and outcome["png"].error
    with sessions() as s:
        stored = " ".join(a.title or "" for a in s.scalars(select(Article)))
        assert "root:" not in stored and "lollollollol" not in stored
        assert s.scalar(select(func.count()).select_from(Source)
                        .where(Source.last_fetched_at.is_(None))) == 0


def test_a_full_disk_is_a_clear_error_and_leaves_no_half_written_source(
        server: LoopbackServer, settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from db import migrate
    from db.session import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'full.db'}")
    migrate.upgrade(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    items = "".join(f"<item><title>{'x' * 2000} {i}</title><link>https://x.example/{i}</link>"
                    f"<description>story {i}: {'y' * 3000}</description></item>"
                    for i in range(400))
    server.routes["/big"] = Reply(200, f'<?xml version="1.0"?><rss version="2.0"><channel>'
                                       f"<title>t</title>{items}</channel></rss>".encode(),
                                  content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec("big", server.url("/big"))], 3600)
        s.commit()
        pages = s.execute(text("PRAGMA page_count")).scalar_one()

    @event.listens_for(engine, "connect")
    def limit(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 40}")  # "the disk is full"

    engine.dispose()  # new connections get the limit
    with pytest.raises(OperationalError, match="full"):
        collect(sessions, settings, due_only=False)
    event.remove(engine, "connect", limit)
    engine.dispose()
    with sessions() as s:  # the source's transaction was rolled back as a whole ...
        assert s.scalar(select(func.count()).select_from(Article)) == 0
        source = s.scalars(select(Source)).one()  # ... and not blamed for the database's
        assert source.last_error is None and source.consecutive_failures == 0  # error (#13)
        assert source.failure_score == 0 and source.lease_owner is None
    engine.dispose()
