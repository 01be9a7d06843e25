"""Backfill: a source's past articles in a date range, so a new install has history on day one.

`cait backfill NAME --since …` (driven by `pipeline.run_backfill`, which tags what it stored).
Two steps, both through the one polite, guarded fetcher (per-host limits, size caps,
robots.txt, the address rule):

1. **Discovery** — the site's sitemaps (robots.txt `Sitemap:` lines, else `/sitemap.xml`;
   indexes read breadth first, gzipped children inflated under the size cap, Google News
   publication dates and `<lastmod>` used to drop what cannot be in the range) and the feed's
   archives (RFC 5005 `prev-archive`, else WordPress-style `?paged=N`). The URLs found are
   written to `backfill_urls`, once per source and canonical URL. Bounded by `Limits`:
   sitemaps read, URLs per sitemap, index depth, archive pages, URLs kept; an index that
   lists itself is read once. A later run for the same or a narrower range skips this step.
2. **Collection** — up to CAIT_BACKFILL_PER_RUN pending URLs are fetched, extracted and stored
   as full-text articles are (`discovered_via = 'backfill'`, the same dedup, related links
   recorded). Each URL's article, links and done flag are one transaction, so a stopped
   backfill goes on where it stopped and stores nothing twice. A page dated outside the
   range, or not dated at all, is marked and not stored: a backfilled article must sit in
   the timelines at its publication date, not on the day it was collected.

Sitemaps and the archive's `prev-archive` links are the site's content and may name any host:
they are fetched, like the pages they list, on the guarded path (`untrusted_from`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from collectors import store
from collectors.backfill_run import (
    MAX_ATTEMPTS,
    BackfillReport,
    BackfillRun,
    BackfillSource,
    Limits,
    PendingUrl,
    Window,
)
from collectors.discovery import discover, save_discovery
from collectors.feeds import ParsedEntry
from collectors.fetch import Fetcher
from collectors.follow import PAGE_ACCEPT, SessionFactory, article_from_page
from collectors.offload import Offload
from collectors.outcome import FetchError, Severity
from collectors.robots import RobotsCache
from common.errors import UserError
from config import Settings
from db.models import Backfill, BackfillUrl, Source
from db.search_index import index_pending

log = logging.getLogger("cait.backfill")
def backfill(sessions: SessionFactory, settings: Settings, name: str, since: datetime,
             until: datetime | None = None, *, limits: Limits | None = None,
             robots: RobotsCache | None = None, offload: Offload | None = None,
             stop: threading.Event | None = None,
             on_discovery: Callable[[int, int], None] | None = None,
             on_total: Callable[[int], None] | None = None,
             on_item: Callable[[str], None] | None = None) -> BackfillReport:
    """Backfill source `name` for [since, until) (blocking); see the module docstring.

    `on_discovery(sitemaps_and_pages_read, urls_found)` reports discovery as it goes,
    `on_total(n)` the number of URLs this run will collect, `on_item(outcome)` each one done.
    A set `stop` ends the run between URLs; what is done stays done."""
    if until is not None and until <= since:
        raise UserError("--until must be after --since")
    pool = Offload(settings.parse_process_count) if offload is None else offload
    try:
        return asyncio.run(_backfill(sessions, settings, name, Window(since, until),
                                     limits or Limits(), robots, pool, stop, on_discovery,
                                     on_total, on_item))
    finally:
        if offload is None:
            pool.close()


async def _backfill(sessions: SessionFactory, settings: Settings, name: str, window: Window,
                    limits: Limits, robots: RobotsCache | None, offload: Offload,
                    stop: threading.Event | None,
                    on_discovery: Callable[[int, int], None] | None,
                    on_total: Callable[[int], None] | None,
                    on_item: Callable[[str], None] | None) -> BackfillReport:
    now = datetime.now(UTC)
    with sessions() as session:
        row = session.scalars(select(Source).where(Source.name == name)).one_or_none()
        if row is None:
            raise UserError(f"no such source: {name}")
        if row.kind == "search":
            raise UserError(f"{name} is a news-search feed: its articles live on other sites, "
                            f"whose sitemaps are not its own; backfill those sites' sources")
        source = BackfillSource(row.id, row.name, row.url, row.kind)
        state = session.get(Backfill, source.id)
        covered = state is not None and _covers(state, window)
        near = store.load_near_duplicate_index(session, now)
    report = BackfillReport(name, window.since, window.until)
    async with Fetcher(settings, robots) as fetcher:
        run = BackfillRun(settings, sessions, fetcher, offload, near, source, window, limits, stop)
        if not covered:
            await discover(run, report, on_discovery)
            if run.stopped():
                return report
            if report.sitemaps == 0 and report.archive_pages == 0:
                why = "; ".join(report.notes[:3]) or "robots.txt names none, /sitemap.xml is none"
                raise UserError(f"no sitemap or feed archive found for {name} ({why})")
            with sessions() as session:
                report.found = save_discovery(session, run, report, now)
                session.commit()
        await _collect(run, report, on_total, on_item)
    return report


def _covers(state: Backfill, window: Window) -> bool:
    """Whether the discovery already made for `state` serves `window` too."""
    if state.discovered_at is None or window.since < state.since:
        return False
    if window.until is None:
        return state.until is None
    return window.until <= (state.until or state.discovered_at)



def _pending(source_id: int, window: Window) -> ColumnElement[bool]:
    """Not done, and (by what its sitemap or feed said) possibly published in `window`."""
    published = BackfillUrl.published_at
    before_until = published < window.until if window.until is not None else true()
    return and_(BackfillUrl.source_id == source_id, BackfillUrl.done.is_(False),
                or_(and_(published >= window.since, before_until),
                    and_(published.is_(None),
                         or_(BackfillUrl.modified_at.is_(None),
                             BackfillUrl.modified_at >= window.since))))


def _count_pending(session: Session, run: BackfillRun) -> int:
    return int(session.scalar(select(func.count()).select_from(BackfillUrl)
                              .where(_pending(run.source.id, run.window))) or 0)


async def _collect(run: BackfillRun, report: BackfillReport, on_total: Callable[[int], None] | None,
                   on_item: Callable[[str], None] | None) -> None:
    with run.sessions() as session:
        rows = session.execute(
            select(BackfillUrl.id, BackfillUrl.url, BackfillUrl.canonical_url,
                   BackfillUrl.published_at, BackfillUrl.title, BackfillUrl.summary,
                   BackfillUrl.author, BackfillUrl.attempts)
            .where(_pending(run.source.id, run.window)).order_by(BackfillUrl.id)
            .limit(max(0, run.settings.backfill_per_run))).all()
    queue = deque(PendingUrl(*row) for row in rows)
    report.total = len(queue)
    if on_total is not None:
        on_total(report.total)

    async def worker() -> None:
        while queue and not run.stopped():
            outcome = await _collect_guarded(run, queue.popleft())
            report.count(outcome)
            if on_item is not None:
                on_item(outcome)

    # as many at once as one host takes; the fetcher spaces them by CAIT_HOST_DELAY_SECONDS
    await asyncio.gather(*(worker() for _ in range(max(1, run.settings.host_concurrency))))
    with run.sessions() as session:
        index_pending(session.connection())  # what this run stored, searchable at once
        report.remaining = _count_pending(session, run)
        state = session.get(Backfill, run.source.id)
        if state is not None and report.remaining == 0:
            state.finished_at = datetime.now(UTC)
        session.commit()


def _mark(session: Session, row_id: int, outcome: str, *, done: bool = True,
          attempts: int | None = None, error: str | None = None,
          article_id: int | None = None) -> None:
    row = session.get(BackfillUrl, row_id)
    if row is not None:
        row.done, row.outcome, row.error, row.article_id = done, outcome, error, article_id
        if attempts is not None:
            row.attempts = attempts


def _record(run: BackfillRun, row_id: int, outcome: str, **values: Any) -> str:
    with run.sessions() as session:
        _mark(session, row_id, outcome, **values)
        session.commit()
    return outcome


async def _collect_guarded(run: BackfillRun, row: PendingUrl) -> str:
    """`_collect_one`, with any exception but the database's recorded as the URL's outcome."""
    try:
        return await _collect_one(run, row)
    except sa_exc.SQLAlchemyError:
        raise
    except Exception as error:  # one hostile page never stops the backfill (issue 13)
        log.warning("backfill source=%r url=%r outcome=crashed error=%r", run.source.name,
                    row.url[:300], f"{type(error).__name__}: {error}"[:300], exc_info=error)
        return _record(run, row.id, "failed",
                       error=f"internal error {type(error).__name__}: {error}"[:500])


async def _collect_one(run: BackfillRun, row: PendingUrl) -> str:
    with run.sessions() as session:
        known = store.existing_urls(session, [row.canonical_url])
    if row.canonical_url in known:  # stored by the feed, or an earlier backfill: no fetch
        return _record(run, row.id, "duplicate", article_id=known[row.canonical_url])
    fetched = await run.fetcher.get(row.url, accept=PAGE_ACCEPT, check_robots=True,
                                    untrusted_from=run.source.host)
    if isinstance(fetched, FetchError):
        attempts = row.attempts + 1
        if fetched.severity == Severity.TEMPORARY and attempts < MAX_ATTEMPTS:
            return _record(run, row.id, "retry", done=False, attempts=attempts,
                           error=fetched.describe()[:500])
        return _record(run, row.id, "failed", attempts=attempts, error=fetched.describe()[:500])
    page = await run.offload.extract_page(fetched.body, fetched.url,
                                          fetched.headers.get("content-type", ""))
    if not page.text and not row.summary:
        return _record(run, row.id, "no_text", error=page.error)
    entry = ParsedEntry(url=row.url, title=row.title, summary=row.summary, content=None,
                        author=row.author, published_at=row.published_at)
    item = article_from_page(page, run.source.id, entry, "backfill", 0, None)
    if item.published_at is None:
        return _record(run, row.id, "undated")
    if not run.window.holds(item.published_at):
        return _record(run, row.id, "out_of_range")
    with run.sessions() as session:
        stored = store.store_articles(session, [item], run.near, datetime.now(UTC))
        article_id = stored.ids_by_canonical.get(item.canonical_url)
        if stored.new_ids and article_id is not None and page.related:
            store.store_links(session, article_id, page.related)
        outcome = "new" if stored.new_ids else "duplicate"
        _mark(session, row.id, outcome, article_id=article_id)
        session.commit()
    log.info("backfill source=%r url=%s outcome=%s", run.source.name, row.url, outcome)
    return outcome
