"""What a URL the user adds is: a feed, or a site whose feed can be discovered, or a page.

Used by `cait sources add`: a feed URL is taken as it is; an HTML page is searched for
`<link rel="alternate">` feeds, then the common feed paths are tried.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.feeds import parse_feed
from collectors.fetch import Fetcher
from collectors.outcome import FetchError
from collectors.pages import discover_feed_links
from collectors.update import FEED_ACCEPT
from config import Settings


@dataclass(frozen=True)
class Discovery:
    url: str | None          # the feed URL found (None: no feed)
    title: str | None
    entries: int
    looked_at: list[str]     # every URL tried, for the error message
    error: str | None = None


async def discover_feed(settings: Settings, url: str) -> Discovery:
    """The feed at `url`, or the first feed the page at `url` leads to."""
    tried: list[str] = []
    async with Fetcher(settings) as fetcher:
        first = await fetcher.get(url, accept=FEED_ACCEPT)
        tried.append(url)
        if isinstance(first, FetchError):
            return Discovery(None, None, 0, tried, first.describe())
        parsed = parse_feed(first.body, first.headers, first.url)
        if parsed.ok:
            return Discovery(url, parsed.title, len(parsed.entries), tried)
        for candidate in discover_feed_links(first.body, first.url,
                                             first.headers.get("content-type", "")):
            if candidate in tried:
                continue
            tried.append(candidate)
            fetched = await fetcher.get(candidate, accept=FEED_ACCEPT)
            if isinstance(fetched, FetchError):
                continue
            found = parse_feed(fetched.body, fetched.headers, fetched.url)
            if found.ok:
                return Discovery(candidate, found.title, len(found.entries), tried)
    return Discovery(None, None, 0, tried, "no feed found")
