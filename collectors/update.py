"""One collection pass: due sources → fetch → parse → decide → store, one outcome per source.

Each source's results (its new articles, their related links, its fetch state and its
fetch_log row) are written in one transaction, together with those of the sources that
finished at about the same time (`group_commit`, on a thread of its own), so a kill at any
moment leaves no half-written source and a re-run inserts nothing twice. Related-News links
are followed afterwards from the `article_links` table, so links left pending by a crash are
followed by the next pass. A failing source is an outcome, not an exception; an unexpected
exception is logged with its traceback, recorded on the source, and re-raised after the
other sources have finished.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from collectors import schedule, source_state, store
from collectors.dedup import NearDuplicateIndex, PendingNearIndex
from collectors.entries import (
    IdentifiedEntries,
    articles_of,
    entry_hashes,
    identified_entries,
    items_from_entries,
    new_entries,
)
from collectors.fetch import Fetcher
from collectors.follow import (
    PAGE_ACCEPT,
    PassContext,
    SessionFactory,
    article_from_page,
    follow_related,
)
from collectors.group_commit import GroupCommit
from collectors.offload import Offload
from collectors.outcome import FetchError, Reason, Severity
from collectors.related import RelevanceGate, keyword_relevance
from collectors.report import PassReport, SourceOutcome, SourceReport
from collectors.robots import RobotsCache
from common.errors import UserError
from config import Settings
from db.models import Source
from db.queries import claim_due_sources, release_leases
from db.search_index import index_pending

log = logging.getLogger("cait.collect")

# Sources that finish within this long of each other are written in one transaction, up to
# this many (`group_commit`): a source's report waits at most this long for its batch.
WRITE_LINGER_SECONDS = 0.05
WRITE_BATCH = 100

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")


@dataclass(frozen=True)
class _Snapshot:
    """What a pass needs of a source row, read once so no session spans an await."""

    id: int
    name: str
    kind: str
    url: str
    full_text: bool
    etag: str | None
    last_modified: str | None
    last_content_hash: str | None
    interval_seconds: int
    failure_score: float
    consecutive_failures: int


def _snapshot(row: Source) -> _Snapshot:
    return _Snapshot(row.id, row.name, row.kind, row.url, row.full_text, row.etag,
                     row.last_modified, row.last_content_hash, row.interval_seconds,
                     row.failure_score, row.consecutive_failures)


def utcnow() -> datetime:
    return datetime.now(UTC)


def select_sources(session: Session, now: datetime, names: list[str] | None,
                   due_only: bool, owner: str = "cli", settings: Settings | None = None
                   ) -> list[Source]:
    """The sources a pass works on: the named ones, all enabled ones, or the due ones
    (claimed with a lease, so that several workers share them)."""
    if names:
        rows = list(session.scalars(select(Source).where(Source.name.in_(names))))
        unknown = set(names) - {r.name for r in rows}
        if unknown:
            raise UserError(f"no such source: {', '.join(sorted(unknown))}")
        return rows
    if due_only:
        lease = settings.lease_seconds if settings else 900
        batch = settings.claim_batch if settings else 200
        return claim_due_sources(session, now, owner, lease, batch)
    return list(session.scalars(select(Source).where(Source.enabled.is_(True),
                                                     Source.disabled_reason.is_(None))))


def collect(sessions: SessionFactory, settings: Settings, *, names: list[str] | None = None,
            due_only: bool = True, gate: RelevanceGate | None = None,
            robots: RobotsCache | None = None, seed: int | None = None,
            on_source_done: Callable[[SourceReport], None] | None = None,
            owner: str = "cli", stop: threading.Event | None = None,
            offload: Offload | None = None) -> PassReport:
    """Run one collection pass (blocking); see `run_pass`. Without `offload` the pass
    starts and stops its own pool of CAIT_PARSE_PROCESSES (a worker keeps one for good)."""
    pool = Offload(settings.parse_process_count) if offload is None else offload
    # What is alive when the pass starts (modules, the engine, a worker's model) outlives it:
    # the pass's full collections skip it, and it goes back to the oldest generation after.
    # Walking it took the event loop 70 ms a collection, the thread every source waits on
    # (issue 18).
    gc.freeze()
    try:
        return asyncio.run(run_pass(sessions, settings, names=names, due_only=due_only,
                                    gate=gate, robots=robots, seed=seed,
                                    on_source_done=on_source_done, owner=owner, stop=stop,
                                    offload=pool))
    finally:
        gc.unfreeze()
        if offload is None:
            pool.close()


async def run_pass(sessions: SessionFactory, settings: Settings, *,
                   names: list[str] | None = None, due_only: bool = True,
                   gate: RelevanceGate | None = None, robots: RobotsCache | None = None,
                   seed: int | None = None,
                   on_source_done: Callable[[SourceReport], None] | None = None,
                   owner: str = "cli", stop: threading.Event | None = None,
                   offload: Offload | None = None) -> PassReport:
    """Fetch every selected source concurrently, then follow pending related links.

    When `stop` is set the pass cancels what is in flight and returns: a cancelled source
    not yet handed to the writing thread is not written, and its lease is given back; one
    already handed over is written whole, in its batch's transaction.
    """
    now = utcnow()
    with sessions() as session:
        claimed = select_sources(session, now, names, due_only, owner, settings)
        snapshots = [_snapshot(r) for r in claimed]
        session.commit()  # the leases
        near = store.load_near_duplicate_index(session, now)
    report = PassReport()
    offload = offload or Offload(0)
    if snapshots:  # else it starts when a pending related link needs it, if any does
        offload.start()
    async with Fetcher(settings, robots) as fetcher:
        ctx = PassContext(settings, sessions, fetcher, offload, gate or keyword_relevance, near,
                       random.Random(seed), utcnow,
                       schedule.Policy(settings.min_interval_seconds,
                                       settings.max_interval_seconds,
                                       settings.default_interval_seconds),
                       settings.related_per_run)

        writes: GroupCommit[tuple[_Snapshot, SourceOutcome], SourceReport] = GroupCommit(
            lambda batch: write_outcomes(ctx, batch), lambda item: _finish(ctx, *item),
            linger=WRITE_LINGER_SECONDS, most=WRITE_BATCH)

        async def one(snap: _Snapshot) -> SourceReport:
            result = await writes.submit((snap, await _outcome_of(ctx, snap)))
            if on_source_done is not None:
                on_source_done(result)
            return result

        tasks = [asyncio.ensure_future(one(s)) for s in snapshots]
        watcher = asyncio.ensure_future(_cancel_on(stop, tasks))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        watcher.cancel()
        await writes.drain()
        crashes: list[BaseException] = []
        interrupted: list[int] = []
        unwritten: list[int] = []
        for snap, result in zip(snapshots, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                interrupted.append(snap.id)
            elif isinstance(result, sa_exc.SQLAlchemyError):
                # The database's error (full disk, server gone), not the source's: no parse
                # error and no backoff on the source; the caller backs off the pass (issue 13).
                log.error("source=%r outcome=database_error error=%r", snap.name,
                          str(getattr(result, "orig", None) or result)[:200])
                crashes.append(result)
                unwritten.append(snap.id)
            elif isinstance(result, BaseException):
                crashes.append(result)
                report.sources.append(_record_crash(ctx, snap, result))
            else:
                report.sources.append(result)
        _give_back(sessions, owner, interrupted + unwritten)
        if interrupted:
            log.info("pass stopped: %d sources left for later", len(interrupted))
        if not (stop is not None and stop.is_set()) and not unwritten:
            followed, skipped = await follow_related(ctx)
            report.related_followed, report.related_skipped = followed, skipped
    with sessions() as session:
        # the articles this pass stored, into the search index in one statement (SQLite;
        # issue 18: an index write per insert was a tenth of the pass's writing process)
        index_pending(session.connection())
        source_state.prune_fetch_log(session, now - timedelta(days=settings.fetch_log_days))
        session.commit()
    if crashes:
        raise crashes[0]
    return report


def _give_back(sessions: SessionFactory, owner: str, source_ids: list[int]) -> None:
    """Release the leases of sources this pass did not write; best effort, since the database
    may be what failed (an unreleased lease expires by itself)."""
    if not source_ids:
        return
    try:
        with sessions() as session:
            release_leases(session, owner, source_ids)
            session.commit()
    except sa_exc.SQLAlchemyError as error:
        log.warning("leases of %d sources not released: %s", len(source_ids),
                    str(error).splitlines()[0][:200])


async def _cancel_on(stop: threading.Event | None, tasks: Sequence[asyncio.Future[Any]]) -> None:
    if stop is None:
        return
    while not stop.is_set():
        await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()


def _log_outcome(result: SourceReport) -> None:
    log.info("source=%r outcome=%s status=%s entries=%d new=%d duplicates=%d "
             "duration_ms=%d error=%r", result.name, result.outcome, result.http_status,
             result.entries, result.new_articles, result.duplicates, result.duration_ms,
             result.error)


def _record_crash(ctx: PassContext, snap: _Snapshot, error: BaseException) -> SourceReport:
    log.error("source=%r crashed: %s", snap.name, error, exc_info=error)
    failure = FetchError(snap.url, Reason.PARSE_ERROR, Severity.SOFT,
                         f"internal error {type(error).__name__}: {error}"[:500])
    return _finish(ctx, snap, SourceOutcome("crashed", failure))


def _finish(ctx: PassContext, snap: _Snapshot, result: SourceOutcome) -> SourceReport:
    """Write one source's outcome in a transaction of its own and return its report line."""
    return write_outcomes(ctx, [(snap, result)])[0]


def write_outcomes(ctx: PassContext, batch: list[tuple[_Snapshot, SourceOutcome]]
                   ) -> list[SourceReport]:
    """Write the outcomes of several sources in one transaction (`group_commit`) and return
    their report lines, in order. A source removed while it was fetched has nothing written."""
    now = ctx.now()
    near = PendingNearIndex(ctx.near)
    reports: list[SourceReport] = []
    records: list[source_state.FetchRecord] = []
    with ctx.sessions() as session:
        live = source_state.live_sources(session, (snap.id for snap, _ in batch))
        # the entries of every feed in the batch, looked up in one query; each source's
        # new rows are added to the lookup as it is written, for the sources after it
        entries = {snap.id: identified_entries(result.feed) for snap, result in batch
                   if result.feed is not None and snap.id in live}
        known = store.known_articles(
            session, (url for found in entries.values() for url in found),
            (digest for found in entries.values() for digest in entry_hashes(found)))
        for snap, result in batch:
            if snap.id not in live:  # removed while we fetched: its articles are not stored
                reports.append(SourceReport(snap.name, "failed", error="source was removed"))
                continue
            record, report = _write(session, ctx, snap, result, now, near,
                                    entries.get(snap.id), known)
            records.append(record)
            reports.append(report)
        source_state.record_outcomes(session, records)
        session.commit()
    near.keep()
    for report in reports:
        _log_outcome(report)
    return reports


def _write(session: Session, ctx: PassContext, snap: _Snapshot, result: SourceOutcome,
           now: datetime, near: NearDuplicateIndex,
           entries: IdentifiedEntries | None, known: store.Known
           ) -> tuple[source_state.FetchRecord, SourceReport]:
    """One source's articles and links, written; its fetch state to record, and its report.
    `entries`: its feed's, identified (`entries.identified_entries`); `known`: the batch's
    lookup, which learns what this source stores."""
    error, fetched = result.error, result.fetched
    if error is not None:
        decision = schedule.after_failure(now, snap.interval_seconds, snap.failure_score,
                                          snap.consecutive_failures, error.severity,
                                          ctx.policy, ctx.rng, error.retry_after)
    else:
        decision = None  # a success is scheduled after storing, by how much was new
    body_hash = None  # kept on success only (`source_state.FetchRecord.state`)
    if error is None and fetched is not None and fetched.body:
        body_hash = result.body_hash or fetched.body_hash
    new_ids: list[int] = []
    duplicates = result.known  # entries already stored before this pass
    items, lookup = result.items, result.lookup
    if entries is not None:
        # told apart and stored in one transaction: nothing is awaited in between
        fresh, stored_before, lookup = new_entries(session, entries, known)
        items = articles_of(fresh, snap.id)
        duplicates += stored_before
    if items:
        stored = store.store_articles(session, items, near, now, lookup)
        store.remember_stored(known, stored)
        new_ids = stored.new_ids
        duplicates += stored.duplicates
        for canonical, page in result.pages.items():
            article_id = stored.ids_by_canonical.get(canonical)
            if article_id is not None and page.related:
                store.store_links(session, article_id, page.related)
    if decision is None:
        decision = schedule.after_success(
            now, snap.interval_seconds, len(new_ids), result.entries, ctx.policy, ctx.rng,
            result.feed_hint, schedule.cache_max_age(result.headers.get("cache-control")))
    record = source_state.FetchRecord(
        snap.id, now=now, decision=decision, status=result.outcome,
        http_status=result.http_status, error=error,
        etag=fetched.etag if fetched is not None else None,
        last_modified=fetched.last_modified if fetched is not None else None,
        body_hash=body_hash, new_articles=len(new_ids), duplicates=duplicates,
        size=len(fetched.body) if fetched is not None else 0,
        duration_ms=result.elapsed_ms, url=snap.url)
    report = SourceReport(
        snap.name, result.outcome, http_status=result.http_status, entries=result.entries,
        new_articles=len(new_ids), duplicates=duplicates,
        error=error.describe() if error else None, next_fetch_at=decision.next_fetch_at,
        duration_ms=result.elapsed_ms)
    return record, report


async def _outcome_of(ctx: PassContext, snap: _Snapshot) -> SourceOutcome:
    """Fetch and parse one source: what became of it, to be written (`write_outcomes`)."""
    is_page = snap.kind == "page"
    fetched = await ctx.fetcher.get(snap.url, etag=snap.etag, last_modified=snap.last_modified,
                                    accept=PAGE_ACCEPT if is_page else FEED_ACCEPT)
    if isinstance(fetched, FetchError):
        return SourceOutcome("failed", fetched)
    if fetched.not_modified or (is_page and snap.last_content_hash is not None
                                and fetched.body_hash == snap.last_content_hash):
        return SourceOutcome("not_modified", fetched=fetched)
    if is_page:
        page = await ctx.offload.extract_page(fetched.body, fetched.url,
                                              fetched.headers.get("content-type", ""))
        if page.text is None and not page.title:
            failure = FetchError(snap.url, Reason.EXTRACTION_FAILED, Severity.SOFT,
                                 page.error or "no article found", fetched.status)
            return SourceOutcome("failed", failure, fetched)
        item = article_from_page(page, snap.id, None, "manual", 0, None)
        return SourceOutcome("ok", fetched=fetched, entries=1, items=[item],
                                                pages={item.canonical_url: page})
    # A feed's body is hashed and told from the last one where it is parsed (issue 18), and a
    # source's first feed, stored from the feed's own text, is fingerprinted there too.
    first = snap.last_content_hash is None and not snap.full_text
    prepared = await ctx.offload.prepare_changed_feed(fetched.body, fetched.headers, fetched.url,
                                                      snap.last_content_hash, first)
    if prepared is None:
        return SourceOutcome("not_modified", fetched=fetched,
                                                body_hash=snap.last_content_hash)
    parsed = prepared.parsed
    if not parsed.ok:
        reason = Reason.NOT_A_FEED if parsed.format in ("", "html") else Reason.PARSE_ERROR
        failure = FetchError(snap.url, reason, Severity.SOFT, parsed.error or "unreadable",
                             fetched.status)
        return SourceOutcome("failed", failure, fetched)
    if not snap.full_text:
        return SourceOutcome("ok", fetched=fetched, entries=len(parsed.entries),
                                                feed_hint=parsed.ttl_seconds, feed=prepared,
                                                body_hash=prepared.body_hash)
    items, pages, known, lookup = await items_from_entries(ctx, snap, prepared)
    return SourceOutcome("ok", fetched=fetched, entries=len(parsed.entries),
                                            items=items, pages=pages,
                                            feed_hint=parsed.ttl_seconds, known=known,
                                            lookup=lookup, body_hash=prepared.body_hash)
