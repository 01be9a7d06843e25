"""Group commit: sources that finish together are written in one transaction (real loopback
server, real SQLite and PostgreSQL), and the batcher's own rules (real asyncio)."""

from __future__ import annotations

import asyncio
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from collectors.dedup import NearDuplicateIndex, PendingNearIndex
from collectors.group_commit import GroupCommit
from collectors.sources import SourceSpec
from collectors.store import add_sources
from collectors.update import collect
from config import Settings
from db.models import Article, FetchLog, Source
from tests.server import LoopbackServer, Reply

Sessions = sessionmaker[Session]


def rss(tag: str, items: int) -> bytes:
    body = "".join(f"<item><title>{tag} story {i}</title><link>https://x.cn/{tag}/{i}</link>"
                   f"<description>{tag} {i}</description></item>" for i in range(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{tag}'
            f"</title>{body}</channel></rss>").encode()


def count(sessions: Sessions, model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_sources_that_finish_together_share_a_transaction(
        server: LoopbackServer, settings: Settings, sessions: Sessions, engine: Engine) -> None:
    for k in range(20):
        server.routes[f"/f{k}"] = Reply(200, rss(f"s{k}", 3), content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec(f"feed {k}", server.url(f"/f{k}")) for k in range(20)], 3600)
        s.commit()
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    report = collect(sessions, settings, due_only=False, seed=1)
    assert sorted(r.outcome for r in report.sources) == ["ok"] * 20
    assert {r.new_articles for r in report.sources} == {3}
    assert count(sessions, Article) == 60 and count(sessions, FetchLog) == 20
    # one per source before (20, and the pass's own few); the 20 loopback feeds answer
    # within a few milliseconds of each other
    assert len(commits) < 10, len(commits)
    with sessions() as s:
        assert all(row.last_content_hash and row.next_fetch_at and row.lease_owner is None
                   for row in s.scalars(select(Source)))


def test_a_source_removed_while_fetched_is_not_written_and_its_batch_is(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    for k in range(5):
        server.routes[f"/f{k}"] = Reply(200, rss(f"s{k}", 2), content_type="application/xml")

    def removed_meanwhile(handler: BaseHTTPRequestHandler) -> None:
        with sessions() as s:  # the user removes the source while its feed is on the way
            s.execute(delete(Source).where(Source.name == "doomed"))
            s.commit()
        body = rss("doomed", 2)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server.routes["/doomed"] = removed_meanwhile
    with sessions() as s:
        add_sources(s, [SourceSpec(f"feed {k}", server.url(f"/f{k}")) for k in range(5)]
                    + [SourceSpec("doomed", server.url("/doomed"))], 3600)
        s.commit()
    report = {r.name: r for r in collect(sessions, settings, due_only=False, seed=1).sources}
    assert (report["doomed"].outcome, report["doomed"].error) == ("failed", "source was removed")
    assert all(report[f"feed {k}"].new_articles == 2 for k in range(5))
    with sessions() as s:
        urls = set(s.scalars(select(Article.canonical_url)))
        assert len(urls) == 10 and not any("/doomed/" in url for url in urls)
        assert s.scalar(select(func.count()).select_from(FetchLog)) == 5


def test_sources_in_one_batch_see_what_the_ones_before_them_stored(
        server: LoopbackServer, settings: Settings, sessions: Sessions, engine: Engine) -> None:
    """One lookup for the batch's feeds, and what each source stores is known to the next:
    the same URL or the same text in two feeds of one batch is stored once."""
    story = ("Shanghai chipmaker SMIC said on Tuesday it had begun volume production of a "
             "seven-nanometre process for domestic AI accelerators, despite export controls, "
             "according to people briefed on the matter; analysts expect more capacity soon.")
    item = "<item><title>{t}</title><link>{link}</link><description>{d}</description></item>"
    feeds = {  # the same story under one URL in two feeds, and under a second URL in a third
        "/a": item.format(t="SMIC", link="https://x.cn/smic", d=story),
        "/b": item.format(t="SMIC again", link="https://x.cn/smic#top", d=story)
        + item.format(t="Other", link="https://x.cn/other", d=story[::-1]),
        "/c": item.format(t="SMIC copy", link="https://y.cn/copy-of-smic", d=story),
    }
    for path, items in feeds.items():
        server.routes[path] = Reply(200, (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"{items}</channel></rss>").encode(), content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec(path, server.url(path)) for path in feeds], 3600)
        s.commit()
    lookups: list[str] = []  # `store.known_articles`: by URL or content hash

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT articles.id, articles.canonical_url, "
                                         "articles.content_hash"):
            lookups.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    report = collect(sessions, settings, due_only=False, seed=1)
    assert sum(r.new_articles for r in report.sources) == 2  # the story once, and "Other"
    assert sum(r.duplicates for r in report.sources) == 2
    with sessions() as s:  # the story under the URL of whichever source was written first
        urls = sorted(s.scalars(select(Article.canonical_url)))
        assert len(urls) == 2 and "https://x.cn/other" in urls
    assert len(lookups) < len(feeds), lookups  # the three feeds were one batch, one lookup


def _batcher(written: list[list[str]], most: int = 50) -> GroupCommit[str, str]:
    def write(batch: list[str]) -> list[str]:
        written.append(list(batch))
        if "slow" in batch:
            time.sleep(0.2)  # on the writing thread: the loop goes on meanwhile
        if "bad" in batch:
            raise ValueError("one bad item spoils the batch")
        return [item.upper() for item in batch]

    def write_alone(item: str) -> str:
        written.append([item])
        if item == "bad":
            raise ValueError(f"cannot write {item}")
        return item.upper()

    return GroupCommit(write, write_alone, linger=0.02, most=most)


def test_items_submitted_together_are_written_as_one_batch() -> None:
    written: list[list[str]] = []

    async def main() -> list[str]:
        batcher = _batcher(written)
        results = await asyncio.gather(*(batcher.submit(x) for x in ["a", "b", "c"]))
        await batcher.drain()
        return list(results)

    assert asyncio.run(main()) == ["A", "B", "C"]
    assert written == [["a", "b", "c"]]


def test_a_failed_batch_is_written_item_by_item_each_with_its_own_outcome() -> None:
    written: list[list[str]] = []

    async def main() -> list[Any]:
        batcher = _batcher(written)
        results = await asyncio.gather(*(batcher.submit(x) for x in ["a", "bad", "c"]),
                                       return_exceptions=True)
        await batcher.drain()
        return list(results)

    a, bad, c = asyncio.run(main())
    assert (a, c) == ("A", "C")
    assert isinstance(bad, ValueError) and str(bad) == "cannot write bad"
    assert written == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


def test_a_cancelled_item_is_never_written() -> None:
    written: list[list[str]] = []

    async def main() -> str:
        batcher = _batcher(written)
        doomed = asyncio.ensure_future(batcher.submit("stopped"))
        kept = asyncio.ensure_future(batcher.submit("kept"))
        await asyncio.sleep(0)  # both are waiting for the batch
        doomed.cancel()
        result = await kept
        await batcher.drain()
        return result

    assert asyncio.run(main()) == "KEPT"
    assert written == [["kept"]]


def test_a_batch_waits_for_the_one_being_written() -> None:
    """While one batch is on the writing thread, what comes in makes the next batch."""
    written: list[list[str]] = []

    async def main() -> list[str]:
        batcher = _batcher(written)
        first = asyncio.ensure_future(batcher.submit("slow"))
        await asyncio.sleep(0.05)  # the first batch is being written
        rest = [asyncio.ensure_future(batcher.submit(x)) for x in ["b", "c"]]
        await asyncio.sleep(0.05)  # their linger is over, the first batch is not
        assert not first.done() and written == [["slow"]]
        results = [await first] + [await task for task in rest]
        await batcher.drain()
        return results

    assert asyncio.run(main()) == ["SLOW", "B", "C"]
    assert written == [["slow"], ["b", "c"]]


def test_a_full_batch_waits_for_the_one_being_written() -> None:
    """What waits is bounded: once `most` items wait, the next submitter waits too."""
    written: list[list[str]] = []

    async def main() -> list[str]:
        batcher = _batcher(written, most=2)
        first = asyncio.ensure_future(batcher.submit("slow"))
        await asyncio.sleep(0.05)  # the first batch is being written
        rest = [asyncio.ensure_future(batcher.submit(x)) for x in ["b", "c", "d"]]
        results = [await first] + [await task for task in rest]
        await batcher.drain()
        return results

    assert asyncio.run(main()) == ["SLOW", "B", "C", "D"]
    assert written == [["slow"], ["b", "c"], ["d"]]


def test_a_pending_near_duplicate_index_is_kept_only_when_told() -> None:
    committed = NearDuplicateIndex()
    committed.add(7, 0b1011)
    pending = PendingNearIndex(committed)
    pending.add(3, 0b1111 << 40)
    assert pending.find(0b1010) == 7  # one bit from the committed one
    assert pending.find(0b1110 << 40) == 3  # one bit from the pending one
    assert committed.find(0b1110 << 40) is None  # not kept: as if rolled back
    pending.keep()
    assert committed.find(0b1110 << 40) == 3
