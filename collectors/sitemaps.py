"""Sitemaps (sitemaps.org 0.9 URL sets and indexes, Google News, plain text) → past article
URLs with their dates, for `cait backfill` (`collectors.backfill`).

Bytes fetched by the one fetcher go in, URLs come out; nothing here fetches. The parsing is
ultimate-sitemap-parser's `sitemap_from_str`, which never fetches either (an index's children
come back as URLs for our fetcher) and whose expat parser refuses DOCTYPE and entity
declarations, so no billion laughs and no external entities. A gzipped sitemap (`.xml.gz`
served as a file, without Content-Encoding) is inflated here under the same cap on the
decompressed size as every body the fetcher reads; the number of URLs kept per sitemap is
capped too.
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from usp.objects.sitemap import AbstractIndexSitemap, InvalidSitemap
from usp.tree import sitemap_from_str

from collectors.feeds import sane_date
from collectors.textutil import decode_body
from collectors.urls import http_url

# usp logs each local parse as the fetch of a dummy URL, and a rejected document at ERROR;
# the backfill reports what each sitemap gave, once, itself.
logging.getLogger("usp").setLevel(logging.CRITICAL)

GZIP_MAGIC = b"\x1f\x8b"
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, text/plain;q=0.5"
# sitemaps.org 0.9: at most 50,000 URLs (and 50 MB) per sitemap, the same for an index
PROTOCOL_MAX_URLS = 50_000
_XML_DECL_ENCODING = re.compile(r"^(\s*<\?xml[^>]*encoding=[\"'])[A-Za-z0-9._-]+([\"'])", re.I)


@dataclass(frozen=True)
class SitemapEntry:
    """One page a sitemap lists: `published_at` from a Google News `<news:publication_date>`,
    `modified_at` from `<lastmod>` (a page is never published after it was last modified)."""

    url: str
    published_at: datetime | None = None
    modified_at: datetime | None = None
    title: str | None = None


@dataclass
class ParsedSitemap:
    """What one sitemap document gave: pages, or (an index) the URLs of more sitemaps."""

    entries: list[SitemapEntry] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    dropped: int = 0                  # URLs past the per-sitemap cap
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class TooLarge(Exception):
    pass


def inflate(body: bytes, limit: int) -> bytes:
    """A gzip body inflated, never past `limit` bytes (raises `TooLarge`, or zlib.error)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"gzipped sitemap inflates past {limit} bytes")
    return out


def _text(body: bytes, content_type: str) -> str:
    """The document as text; an XML declaration naming another charset is rewritten, since
    expat reads the decoded text as UTF-8."""
    text, _codec = decode_body(body, content_type)
    return _XML_DECL_ENCODING.sub(r"\1utf-8\2", text.lstrip("\ufeff"), count=1)


def parse_sitemap(body: bytes, url: str, *, max_urls: int, max_bytes: int,
                  content_type: str = "") -> ParsedSitemap:
    """Parse one sitemap (gzipped or not); never raises for bad input (see `.error`).

    Page and child URLs are resolved against `url` and must be http(s); at most `max_urls`
    of each are kept, in document order."""
    if body[:2] == GZIP_MAGIC:
        try:
            body = inflate(body, max_bytes)
        except (TooLarge, zlib.error) as error:
            return ParsedSitemap(error=f"bad gzip: {error}"[:300])
    if not body.strip():
        return ParsedSitemap(error="empty sitemap")
    try:
        parsed = sitemap_from_str(_text(body, content_type))
    except Exception as error:  # usp catches its parser's errors; anything else is the input's
        return ParsedSitemap(error=f"unreadable sitemap ({type(error).__name__}: {error})"[:300])
    if isinstance(parsed, InvalidSitemap):
        return ParsedSitemap(error="not a sitemap (or a DOCTYPE/entity declaration, refused)")
    result = ParsedSitemap()
    if isinstance(parsed, AbstractIndexSitemap):
        children = [c for c in (http_url(s.url, url) for s in parsed.sub_sitemaps) if c]
        result.children = children[:max_urls]
        result.dropped = len(children) - len(result.children)
        return result
    count = 0
    for page in parsed.all_pages():
        page_url = http_url(page.url, url)
        if page_url is None:
            continue
        count += 1
        if count > max_urls:
            continue
        story = page.news_story
        result.entries.append(SitemapEntry(
            page_url,
            published_at=sane_date(story.publish_date) if story is not None else None,
            modified_at=sane_date(page.last_modified),
            title=(story.title or None) if story is not None else None))
    result.dropped = max(0, count - max_urls)
    return result
