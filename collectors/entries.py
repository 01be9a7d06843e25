"""Feed entries → articles: new entries only, and for full-text sources their pages fetched
(through the guarded path: entry links are third-party content) and extracted.

Part of one collection pass (`collectors.update`); nothing here writes to the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from collectors import store
from collectors.dedup import Fingerprint, fingerprint
from collectors.follow import PAGE_ACCEPT, PassContext, article_from_page
from collectors.outcome import FetchError

if TYPE_CHECKING:  # pages and feeds (trafilatura, lxml, feed parsers) load where parsing runs
    from collectors.feeds import ParsedEntry
    from collectors.pages import ExtractedPage
    from collectors.prepare import PreparedFeed

log = logging.getLogger("cait.collect")


class EntrySource(Protocol):
    """What the entries need to know of their source."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def full_text(self) -> bool: ...


def _article_from_entry(entry: ParsedEntry, source_id: int, canonical: str,
                        identity: Fingerprint) -> store.NewArticle:
    return store.NewArticle(
        url=entry.url, canonical_url=canonical, title=entry.title,
        summary=entry.summary, text=entry.content, language=None, author=entry.author,
        published_at=entry.published_at, source_id=source_id, fingerprint=identity)


# A feed's entries by canonical URL (the first of each), with their fingerprints.
IdentifiedEntries = dict[str, tuple["ParsedEntry", Fingerprint]]


def identified_entries(prepared: PreparedFeed) -> IdentifiedEntries:
    """The feed's entries by canonical URL (the first of each), with their fingerprints. Only
    the hash is taken here, and the SimHash waits until a row is written, unless the parser
    process took both (`prepare.prepare_changed_feed`)."""
    unique: dict[str, ParsedEntry] = {}
    for canonical, entry in zip(prepared.canonical_urls, prepared.parsed.entries, strict=True):
        unique.setdefault(canonical, entry)
    given = prepared.fingerprints or {}  # a source's first feed: taken where it was parsed
    return {url: (entry, given.get(url) or fingerprint(entry.body_for_identity))
            for url, entry in unique.items()}


def entry_hashes(entries: IdentifiedEntries) -> Iterator[str]:
    """The content hashes of identified entries (`identified_entries`), where they have one."""
    return (identity.content_hash for _, identity in entries.values()
            if identity.content_hash is not None)


def new_entries(session: Session, entries: IdentifiedEntries, already: store.Known | None = None
                ) -> tuple[list[tuple[str, ParsedEntry, Fingerprint]], int, store.Known]:
    """Of identified entries (`identified_entries`), those not stored yet, how many were
    stored already, and the lookup that said so (by URL and by content hash, in one query
    for what `already` did not ask about: storing the new ones reuses it instead of asking
    again)."""
    lookup = store.known_articles(session, entries, entry_hashes(entries), already)
    fresh = [(url, entry, identity) for url, (entry, identity) in entries.items()
             if url not in lookup.by_url]
    return fresh, len(entries) - len(fresh), lookup


def articles_of(fresh: list[tuple[str, ParsedEntry, Fingerprint]], source_id: int
                ) -> list[store.NewArticle]:
    """New entries (`new_entries`) as the articles to store, from the feed's own text."""
    return [_article_from_entry(entry, source_id, url, identity) for url, entry, identity in fresh]


async def items_from_entries(ctx: PassContext, source: EntrySource, prepared: PreparedFeed
                             ) -> tuple[list[store.NewArticle], dict[str, ExtractedPage], int,
                                        store.Known]:
    """New entries as articles, for a full-text source with their pages fetched and extracted
    (`new_entries` tells which are new, in a transaction of its own: the pages are awaited
    before anything is written); how many distinct entries were stored already, and the
    lookup that said so. A source without full text decides and stores its entries in its
    writing transaction instead (`update.write_outcomes`)."""
    with ctx.sessions() as session:
        fresh, known_count, lookup = new_entries(session, identified_entries(prepared))
    items = articles_of(fresh, source.id)
    pages: dict[str, ExtractedPage] = {}
    if not source.full_text:
        return items, pages, known_count, lookup
    budget = ctx.settings.full_text_per_source
    source_host = urlsplit(source.url).hostname or ""

    async def with_page(index: int, entry: ParsedEntry) -> None:
        try:
            await fetch_page(index, entry)
        except Exception as error:  # one entry's page never fails its source (issue 13)
            log.warning("source=%r page=%r full text failed: %s", source.name, entry.url[:300],
                        f"{type(error).__name__}: {error}"[:300], exc_info=error)

    async def fetch_page(index: int, entry: ParsedEntry) -> None:
        # Entry links are third-party content (search feeds above all): the same rules as
        # Related-News links (issue 13, item 11).
        fetched = await ctx.fetcher.get(entry.url, accept=PAGE_ACCEPT, check_robots=True,
                                        untrusted_from=source_host)
        if isinstance(fetched, FetchError):
            log.info("source=%r page=%s full text unavailable: %s", source.name, entry.url,
                     fetched.describe())
            return  # the feed's summary stands in
        page = await ctx.offload.extract_page(fetched.body, fetched.url,
                                              fetched.headers.get("content-type", ""),
                                              date_known=entry.published_at is not None)
        if page.text:
            items[index] = article_from_page(page, source.id, entry, "feed", 0, None)
            pages[items[index].canonical_url] = page

    await asyncio.gather(*(with_page(i, e) for i, (_, e, _) in enumerate(fresh[:budget])))
    return items, pages, known_count, lookup
