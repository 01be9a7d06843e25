"""Backfill discovery: the URLs of a source's past articles, from its sitemaps and its feed's
archives (step 1 of `collectors/backfill.py`; see there). Everything is fetched through the
run's polite, guarded fetcher; what is found is written to `backfill_urls` once per source and
canonical URL, bounded by the run's `Limits`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from collectors.backfill_run import BackfillReport, BackfillRun, FoundUrl
from collectors.feeds import prev_archive_url
from collectors.outcome import FetchError, FetchResult
from collectors.prepare import PreparedFeed
from collectors.sitemaps import SITEMAP_ACCEPT, parse_sitemap
from collectors.update import FEED_ACCEPT
from collectors.urls import canonicalize_url, http_url, same_site
from db.models import Backfill, BackfillUrl


async def discover(run: BackfillRun, report: BackfillReport,
                    on_discovery: Callable[[int, int], None] | None) -> None:
    report.discovered = True

    def progress() -> None:
        if on_discovery is not None:
            on_discovery(report.sitemaps + report.archive_pages, len(run.found))

    await _read_sitemaps(run, report, progress)
    if run.source.kind == "feed" and not run.stopped():
        await _read_archives(run, report, progress)


async def _read_sitemaps(run: BackfillRun, report: BackfillReport, progress: Callable[[], None]
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
            if not run.keep(FoundUrl(entry.url, canonicalize_url(entry.url), "sitemap",
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


async def _feed_page(run: BackfillRun, url: str, trusted: bool) -> tuple[FetchResult, PreparedFeed
                                                                 ] | FetchError | None:
    """One feed (archive) document, parsed; None when it is no readable feed."""
    fetched = await run.fetcher.get(url, accept=FEED_ACCEPT,
                                    untrusted_from=None if trusted else run.source.host)
    if isinstance(fetched, FetchError):
        return fetched
    prepared = await run.offload.prepare_feed(fetched.body, fetched.headers, fetched.url)
    return (fetched, prepared) if prepared.parsed.ok else None


async def _read_archives(run: BackfillRun, report: BackfillReport, progress: Callable[[], None]
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


def _take_entries(run: BackfillRun, prepared: PreparedFeed, seen: set[str]) -> bool:
    for entry in prepared.parsed.entries:
        canonical = canonicalize_url(entry.url)
        seen.add(canonical)
        if entry.published_at is not None and not run.window.holds(entry.published_at):
            continue
        if not run.keep(FoundUrl(entry.url, canonical, "archive", entry.published_at, None,
                                   entry.title, entry.summary, entry.author)):
            return False
    return True


def _all_older(run: BackfillRun, prepared: PreparedFeed) -> bool:
    dates = [e.published_at for e in prepared.parsed.entries]
    return bool(dates) and all(d is not None and d < run.window.since for d in dates)


def save_discovery(session: Session, run: BackfillRun, report: BackfillReport, now: datetime
                   ) -> int:
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

