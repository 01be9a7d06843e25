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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import and_, func, insert, or_, select, true
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from collectors import store
from collectors.dedup import NearDuplicateIndex
from collectors.feeds import ParsedEntry, prev_archive_url
from collectors.fetch import Fetcher
from collectors.follow import PAGE_ACCEPT, SessionFactory, article_from_page
from collectors.offload import Offload, PreparedFeed
from collectors.outcome import FetchError, FetchResult, Severity
from collectors.robots import RobotsCache
from collectors.sitemaps import PROTOCOL_MAX_URLS, SITEMAP_ACCEPT, parse_sitemap
from collectors.update import FEED_ACCEPT
from collectors.urls import canonicalize_url, http_url, same_site
from common.errors import UserError
from config import Settings
from db.models import Backfill, BackfillUrl, Source

log = logging.getLogger("cait.backfill")
MAX_ATTEMPTS = 3  # a URL that failed for a passing reason (timeout, 429, 503) is tried again


@dataclass(frozen=True)
class Limits:
    """What one discovery may read and keep, whatever a site serves."""

    sitemaps: int = 200                         # sitemap documents fetched
    urls_per_sitemap: int = PROTOCOL_MAX_URLS   # page or child URLs taken from one sitemap
    depth: int = 3                              # index → index → … → URL set
    archive_pages: int = 100                    # feed archive pages fetched
    urls: int = 100_000                         # URLs kept by one discovery


@dataclass(frozen=True)
class Window:
    """The date range asked for: `since` inclusive, `until` exclusive (None: up to now)."""

    since: datetime
    until: datetime | None

    def holds(self, when: datetime) -> bool:
        return when >= self.since and (self.until is None or when < self.until)

    def may_hold(self, published: datetime | None, modified: datetime | None) -> bool:
        """Whether a page with these dates may have been published in the range: a page is
        never published after it was last modified, so only `since` rules out by lastmod."""
        if published is not None:
            return self.holds(published)
        return modified is None or modified >= self.since


@dataclass
class BackfillReport:
    """What one `cait backfill` run did."""

    source: str
    since: datetime
    until: datetime | None
    discovered: bool = False      # discovery ran in this run
    sitemaps: int = 0             # sitemaps read by it
    archive_pages: int = 0        # feed archive pages read by it
    found: int = 0                # URLs it added
    total: int = 0                # URLs this run set out to collect
    new: int = 0
    duplicates: int = 0
    skipped: int = 0              # dated outside the range, undated, or no text
    failed: int = 0
    retry: int = 0                # failed for a passing reason: left for the next run
    remaining: int = 0            # URLs in range still pending after this run
    notes: list[str] = field(default_factory=list)   # what discovery could not read or cut off

    def count(self, outcome: str) -> None:
        name = {"new": "new", "duplicate": "duplicates", "failed": "failed",
                "retry": "retry"}.get(outcome, "skipped")
        setattr(self, name, getattr(self, name) + 1)

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "since": self.since.date().isoformat(),
                "until": self.until.date().isoformat() if self.until else None,
                "discovered": self.discovered, "sitemaps": self.sitemaps,
                "archive_pages": self.archive_pages, "found": self.found,
                "collected": self.total, "new_articles": self.new,
                "duplicates": self.duplicates, "skipped": self.skipped, "failed": self.failed,
                "retry": self.retry, "remaining": self.remaining}


@dataclass(frozen=True)
class _Source:
    id: int
    name: str
    url: str
    kind: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


@dataclass(frozen=True)
class _Candidate:
    url: str
    canonical_url: str
    found_via: str
    published_at: datetime | None = None
    modified_at: datetime | None = None
    title: str | None = None
    summary: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class _Pending:
    id: int
    url: str
    canonical_url: str
    published_at: datetime | None
    title: str | None
    summary: str | None
    author: str | None
    attempts: int


@dataclass
class _Run:
    settings: Settings
    sessions: SessionFactory
    fetcher: Fetcher
    offload: Offload
    near: NearDuplicateIndex
    source: _Source
    window: Window
    limits: Limits
    stop: threading.Event | None
    found: dict[str, _Candidate] = field(default_factory=dict)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def keep(self, candidate: _Candidate) -> bool:
        """Add a URL found; False once the discovery holds `Limits.urls` of them."""
        if len(self.found) >= self.limits.urls:
            return False
        self.found.setdefault(candidate.canonical_url, candidate)
        return True


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
        source = _Source(row.id, row.name, row.url, row.kind)
        state = session.get(Backfill, source.id)
        covered = state is not None and _covers(state, window)
        near = store.load_near_duplicate_index(session, now)
    report = BackfillReport(name, window.since, window.until)
    async with Fetcher(settings, robots) as fetcher:
        run = _Run(settings, sessions, fetcher, offload, near, source, window, limits, stop)
        if not covered:
            await _discover(run, report, on_discovery)
            if run.stopped():
                return report
            if report.sitemaps == 0 and report.archive_pages == 0:
                why = "; ".join(report.notes[:3]) or "robots.txt names none, /sitemap.xml is none"
                raise UserError(f"no sitemap or feed archive found for {name} ({why})")
            with sessions() as session:
                report.found = _save_discovery(session, run, report, now)
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


# ---- discovery ----------------------------------------------------------------------------

async def _discover(run: _Run, report: BackfillReport,
                    on_discovery: Callable[[int, int], None] | None) -> None:
    report.discovered = True

    def progress() -> None:
        if on_discovery is not None:
            on_discovery(report.sitemaps + report.archive_pages, len(run.found))

    await _read_sitemaps(run, report, progress)
    if run.source.kind == "feed" and not run.stopped():
        await _read_archives(run, report, progress)


async def _read_sitemaps(run: _Run, report: BackfillReport, progress: Callable[[], None]
                         ) -> None:
    parts = urlsplit(run.source.url)
    listed = await run.fetcher.robots.sitemaps(run.fetcher, run.source.url)
    queue = deque((url, 0) for url in (listed or [f"{parts.scheme}://{parts.netloc}/sitemap.xml"]))
    seen: set[str] = set()
    fetched_count = 0
    while queue and not run.stopped():
        if fetched_count >= run.limits.sitemaps:
            report.notes.append(f"stopped after {run.limits.sitemaps} sitemaps "
                                f"({len(queue)} more listed)")
            return
        listed_url, depth = queue.popleft()
        url = http_url(listed_url)
        if url is None or canonicalize_url(url) in seen:
            continue  # an index listing itself, or a sitemap listed twice, is read once
        seen.add(canonicalize_url(url))
        fetched_count += 1
        fetched = await run.fetcher.get(url, accept=SITEMAP_ACCEPT, check_robots=True,
                                        untrusted_from=run.source.host)
        if isinstance(fetched, FetchError):
            report.notes.append(f"sitemap {url[:200]}: {fetched.describe()}")
            continue
        seen.add(canonicalize_url(fetched.url))
        parsed = await asyncio.to_thread(
            parse_sitemap, fetched.body, fetched.url, max_urls=run.limits.urls_per_sitemap,
            max_bytes=run.settings.max_bytes, content_type=fetched.headers.get("content-type", ""))
        if not parsed.ok:
            report.notes.append(f"sitemap {url[:200]}: {parsed.error}")
            continue
        report.sitemaps += 1
        if parsed.dropped:
            report.notes.append(f"sitemap {url[:200]}: {parsed.dropped} URLs past the cap of "
                                f"{run.limits.urls_per_sitemap} per sitemap")
        if parsed.children and depth + 1 > run.limits.depth:
            report.notes.append(f"sitemap {url[:200]}: index deeper than {run.limits.depth} "
                                f"levels, its {len(parsed.children)} sitemaps not read")
        else:
            queue.extend((child, depth + 1) for child in parsed.children)
        for entry in parsed.entries:
            entry_host = urlsplit(entry.url).hostname or ""
            # sitemaps.org: a sitemap lists its own site's pages; others are not this source's
            if not same_site(entry_host, run.source.host) or not run.window.may_hold(
                    entry.published_at, entry.modified_at):
                continue
            if not run.keep(_Candidate(entry.url, canonicalize_url(entry.url), "sitemap",
                                       entry.published_at, entry.modified_at, entry.title)):
                report.notes.append(f"stopped at {run.limits.urls} URLs")
                return
        progress()


def _paged(url: str, page: int) -> str:
    """`url` with the WordPress archive parameter `paged=page` set."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "paged"]
    query.append(("paged", str(page)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


async def _feed_page(run: _Run, url: str, trusted: bool) -> tuple[FetchResult, PreparedFeed
                                                                 ] | FetchError | None:
    """One feed (archive) document, parsed; None when it is no readable feed."""
    fetched = await run.fetcher.get(url, accept=FEED_ACCEPT,
                                    untrusted_from=None if trusted else run.source.host)
    if isinstance(fetched, FetchError):
        return fetched
    prepared = await run.offload.prepare_feed(fetched.body, fetched.headers, fetched.url)
    return (fetched, prepared) if prepared.parsed.ok else None


async def _read_archives(run: _Run, report: BackfillReport, progress: Callable[[], None]
                         ) -> None:
    """The feed, then its older pages: RFC 5005 `prev-archive` links when the feed has one,
    else `?paged=2, 3, …` (WordPress) until a page fails, repeats, or is all older."""
    first = await _feed_page(run, run.source.url, trusted=True)
    if not isinstance(first, tuple):
        return
    seen: set[str] = set()
    fetched, prepared = first
    if not _take_entries(run, prepared, seen) or _all_older(run, prepared):
        return
    previous = prev_archive_url(fetched.body, fetched.url)
    rfc5005 = previous is not None
    visited = {canonicalize_url(run.source.url), canonicalize_url(fetched.url)}
    number = 1
    while report.archive_pages < run.limits.archive_pages and not run.stopped():
        if rfc5005:
            if previous is None or canonicalize_url(previous) in visited:
                return
            url = previous
        else:
            number += 1
            url = _paged(run.source.url, number)
        visited.add(canonicalize_url(url))
        page = await _feed_page(run, url, trusted=False)
        if isinstance(page, FetchError) and rfc5005:
            report.notes.append(f"feed archive {url[:200]}: {page.describe()}")
        if not isinstance(page, tuple):
            return  # no (more) archive: `?paged=N` on a feed without one is a 404 or the feed
        fetched, prepared = page
        fresh = [e for e in prepared.parsed.entries if canonicalize_url(e.url) not in seen]
        if not fresh:
            return  # the same entries again: the site ignores `?paged`
        report.archive_pages += 1
        if not _take_entries(run, prepared, seen):
            report.notes.append(f"stopped at {run.limits.urls} URLs")
            return
        progress()
        if _all_older(run, prepared):
            return  # feeds run newest first: older pages are older still
        previous = prev_archive_url(fetched.body, fetched.url) if rfc5005 else None
    if report.archive_pages >= run.limits.archive_pages:
        report.notes.append(f"stopped after {run.limits.archive_pages} feed archive pages")


def _take_entries(run: _Run, prepared: PreparedFeed, seen: set[str]) -> bool:
    for entry in prepared.parsed.entries:
        canonical = canonicalize_url(entry.url)
        seen.add(canonical)
        if entry.published_at is not None and not run.window.holds(entry.published_at):
            continue
        if not run.keep(_Candidate(entry.url, canonical, "archive", entry.published_at, None,
                                   entry.title, entry.summary, entry.author)):
            return False
    return True


def _all_older(run: _Run, prepared: PreparedFeed) -> bool:
    dates = [e.published_at for e in prepared.parsed.entries]
    return bool(dates) and all(d is not None and d < run.window.since for d in dates)


def _save_discovery(session: Session, run: _Run, report: BackfillReport, now: datetime) -> int:
    """Record the range and the URLs found (those not recorded before); returns how many."""
    state = session.get(Backfill, run.source.id)
    if state is None:
        state = Backfill(source_id=run.source.id, since=run.window.since, started_at=now,
                         sitemaps=0, archive_pages=0)
        session.add(state)
    state.since, state.until = run.window.since, run.window.until
    state.discovered_at, state.finished_at = now, None
    state.sitemaps, state.archive_pages = report.sitemaps, report.archive_pages
    known = set(session.scalars(select(BackfillUrl.canonical_url)
                                .where(BackfillUrl.source_id == run.source.id)))
    rows = [{"source_id": run.source.id, "url": c.url, "canonical_url": c.canonical_url,
             "found_via": c.found_via, "published_at": c.published_at,
             "modified_at": c.modified_at, "title": c.title, "summary": c.summary,
             "author": c.author, "done": False, "attempts": 0}
            for c in run.found.values() if c.canonical_url not in known]
    for start in range(0, len(rows), 1000):
        session.execute(insert(BackfillUrl), rows[start:start + 1000])
    return len(rows)


# ---- collection ---------------------------------------------------------------------------

def _pending(source_id: int, window: Window) -> ColumnElement[bool]:
    """Not done, and (by what its sitemap or feed said) possibly published in `window`."""
    published = BackfillUrl.published_at
    before_until = published < window.until if window.until is not None else true()
    return and_(BackfillUrl.source_id == source_id, BackfillUrl.done.is_(False),
                or_(and_(published >= window.since, before_until),
                    and_(published.is_(None),
                         or_(BackfillUrl.modified_at.is_(None),
                             BackfillUrl.modified_at >= window.since))))


def _count_pending(session: Session, run: _Run) -> int:
    return int(session.scalar(select(func.count()).select_from(BackfillUrl)
                              .where(_pending(run.source.id, run.window))) or 0)


async def _collect(run: _Run, report: BackfillReport, on_total: Callable[[int], None] | None,
                   on_item: Callable[[str], None] | None) -> None:
    with run.sessions() as session:
        rows = session.execute(
            select(BackfillUrl.id, BackfillUrl.url, BackfillUrl.canonical_url,
                   BackfillUrl.published_at, BackfillUrl.title, BackfillUrl.summary,
                   BackfillUrl.author, BackfillUrl.attempts)
            .where(_pending(run.source.id, run.window)).order_by(BackfillUrl.id)
            .limit(max(0, run.settings.backfill_per_run))).all()
    queue = deque(_Pending(*row) for row in rows)
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


def _record(run: _Run, row_id: int, outcome: str, **values: Any) -> str:
    with run.sessions() as session:
        _mark(session, row_id, outcome, **values)
        session.commit()
    return outcome


async def _collect_guarded(run: _Run, row: _Pending) -> str:
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


async def _collect_one(run: _Run, row: _Pending) -> str:
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
