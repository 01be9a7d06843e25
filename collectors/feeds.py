"""Feed parsing: response bytes + headers → `ParsedFeed`; the one module importing a feed parser.

XML feeds (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) go through fastfeedparser, re-encoded as UTF-8
first when they are not (charset from the HTTP header, the XML declaration or detection, read
with the same superset rules as pages, so GB2312 means GB18030). feedparser is the fallback
when fastfeedparser rejects the document, finds no entries or produces replacement
characters (some RDF feeds, Atom it takes for HTML), and for documents declaring entities;
it sees the HTTP headers and is never allowed to fetch. bench/collect_bench.py measures the
trade-off. JSON Feed 1.0/1.1 (which feedparser does not read) is parsed here.
"""

from __future__ import annotations

import calendar
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import fastfeedparser
import feedparser

from collectors.textutil import (
    decode_body,
    header_charset,
    strip_html,
    title_text,
    xml_charset,
)
from collectors.urls import http_url


@dataclass(frozen=True)
class ParsedEntry:
    url: str
    title: str | None
    summary: str | None
    content: str | None
    author: str | None
    published_at: datetime | None

    @property
    def body_for_identity(self) -> str | None:
        """The text its fingerprints are taken of (`store.NewArticle.body_for_identity`)."""
        return self.content or self.summary


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: list[ParsedEntry]
    format: str                       # "rss", "atom", "json", … ("" when unknown)
    parser: str                       # which parser produced it
    ttl_seconds: int | None = None    # the feed's own refresh hint (<ttl>, sy:updatePeriod)
    error: str | None = None          # why nothing (or not everything) could be read
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


_XML_DECL_TEXT = re.compile(r"^(\s*<\?xml[^>]*encoding=[\"'])[A-Za-z0-9._-]+([\"'])", re.I)
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html)", re.I)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
UPDATE_PERIOD_SECONDS = {"hourly": 3600, "daily": 86400, "weekly": 604800,
                         "monthly": 2592000, "yearly": 31536000}
FUTURE_TOLERANCE = timedelta(days=1)
MAX_ENTRIES = 1000  # a feed is a window on recent items; more is an error or an attack


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _is_clean_utf8(body: bytes, headers: dict[str, str]) -> bool:
    for declared in (header_charset(headers.get("content-type", "")), xml_charset(body)):
        if declared is not None and declared.lower() not in ("utf-8", "utf8"):
            return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def sane_date(value: datetime | None, now: datetime | None = None) -> datetime | None:
    """UTC, or None when implausible (far future, before 1995): first-seen time stands in."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    now = now or datetime.now(UTC)
    if value > now + FUTURE_TOLERANCE or value.year < 1995:
        return None
    return value


def _struct_to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _iso_to_datetime(value: Any) -> datetime | None:
    text = _clean(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)  # RFC 822, as RSS uses
    except (TypeError, ValueError, IndexError):
        return None


def parse_feed(body: bytes, headers: dict[str, str] | None = None,
               url: str = "") -> ParsedFeed:
    """Parse a feed document; never raises for bad input (the reason goes in `.error`).

    At most MAX_ENTRIES entries are kept, in document order (feeds list the newest first);
    the rest are dropped with a warning."""
    parsed = _parse_any(body, headers, url)
    if len(parsed.entries) > MAX_ENTRIES:
        kept = len(parsed.entries)
        parsed.entries[MAX_ENTRIES:] = []
        parsed.warnings.append(f"{kept} entries: only the first {MAX_ENTRIES} were kept")
    return parsed


def _parse_any(body: bytes, headers: dict[str, str] | None, url: str) -> ParsedFeed:
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        return ParsedFeed(None, [], "", "none", error="empty response body")
    if stripped[:1] in (b"{", b"["):
        return _parse_json_feed(stripped, url)
    if _HTML_START.match(stripped[:500]) and b"<feed" not in stripped[:5000]:
        return ParsedFeed(None, [], "html", "none",
                          error="an HTML page, not a feed (use the site's feed URL, "
                                "or `cait sources add` to discover it)")
    if not _ENTITY_DECL.search(body[:4096]):
        utf8 = body if _is_clean_utf8(body, headers) else _to_utf8(body, headers)
        fast = _parse_fast(utf8, url)
        if fast is not None:
            return fast
    return _parse_feedparser(body, headers, url)


def _to_utf8(body: bytes, headers: dict[str, str]) -> bytes:
    """The document re-encoded as UTF-8 (charset from header, XML declaration or detection,
    as for pages), its declaration rewritten to match, so that the fast parser reads it."""
    text, _codec = decode_body(body, headers.get("content-type", ""))
    return _XML_DECL_TEXT.sub(r"\1utf-8\2", text, count=1).encode("utf-8")


def _parse_fast(body: bytes, url: str) -> ParsedFeed | None:
    try:
        data = fastfeedparser.parse(body, include_media=False, include_enclosures=False,
                                    include_tags=False)
    except Exception:  # any rejection means: let feedparser try
        return None
    entries = _present(_entry_from_dict(e, url) for e in data.get("entries", []))
    if not entries or any("\ufffd" in (e.title or "") for e in entries):
        return None
    feed = data.get("feed", {})
    return ParsedFeed(title_text(feed.get("title"), markup=False), entries, _sniff_format(body),
                      "fastfeedparser", refresh_hint_seconds(body))


def _parse_feedparser(body: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    # Hand feedparser the bytes and headers only: it must never fetch (it has no timeout).
    # Without a Content-Type feedparser flags every document; the XML declaration still rules.
    given = {"content-type": "application/xml", "content-location": url, **headers}
    try:
        data = feedparser.parse(body, response_headers=given, sanitize_html=False,
                                resolve_relative_uris=False)
    except Exception as failure:  # feedparser raises on some broken input
        return ParsedFeed(None, [], "", "feedparser",
                          error=f"unreadable feed ({type(failure).__name__}: {failure})"[:300])
    entries = _present(_entry_from_dict(e, url) for e in data.entries)
    warnings: list[str] = []
    error: str | None = None
    if data.get("bozo"):
        problem = f"{type(data.bozo_exception).__name__}: {data.bozo_exception}"[:300]
        if entries:
            warnings.append(f"recovered from {problem}")
        else:
            error = f"not a readable feed ({problem})"
    if not entries and error is None:
        if data.entries:
            error = f"{len(data.entries)} entries, none with a link"
        else:
            error = "the feed has no entries" if data.get("version") else "not a feed"
    return ParsedFeed(title_text(data.feed.get("title"), markup=False), entries,
                      data.get("version", "") or _sniff_format(body), "feedparser",
                      refresh_hint_seconds(body), error, warnings)


def _absolute(link: str | None, base_url: str) -> str | None:
    """Entry links resolved against the feed URL; only http(s) links are kept."""
    if not link:
        return None
    return http_url(link, base_url)


def _present(entries: Iterable[ParsedEntry | None]) -> list[ParsedEntry]:
    return [e for e in entries if e is not None]


def _entry_from_dict(entry: Any, base_url: str) -> ParsedEntry | None:
    guid = _clean(entry.get("id"))
    link = _absolute(_clean(entry.get("link")), base_url)
    if not link and guid and guid.startswith(("http://", "https://")):
        link = http_url(guid)
    if not link:
        return None
    content = None
    contents = entry.get("content")
    if contents:
        first = contents[0]
        content = _clean(first.get("value") if isinstance(first, dict) else first)
    # dict.get, not entry.get: feedparser's own lookup maps updated→published with a warning
    published = (_struct_to_datetime(dict.get(entry, "published_parsed"))
                 or _struct_to_datetime(dict.get(entry, "updated_parsed"))
                 or _iso_to_datetime(dict.get(entry, "published"))
                 or _iso_to_datetime(dict.get(entry, "updated")))
    raw_summary = _clean(entry.get("summary") or entry.get("description"))
    summary = strip_html(raw_summary)
    # fastfeedparser copies the description into the content: stripped once, not twice
    body = summary if content == raw_summary else strip_html(content)
    return ParsedEntry(
        url=link,
        title=title_text(entry.get("title")),
        summary=summary,
        content=None if body == summary else body,  # fastfeedparser copies the description
        author=_clean(entry.get("author")),
        published_at=sane_date(published),
    )


_TTL = re.compile(rb"<ttl>\s*(\d{1,6})\s*</ttl>", re.I)
_UPDATE_PERIOD = re.compile(rb"<sy:updatePeriod>\s*(\w+)\s*</sy:updatePeriod>", re.I)
_UPDATE_FREQUENCY = re.compile(rb"<sy:updateFrequency>\s*(\d{1,4})\s*</sy:updateFrequency>", re.I)


def refresh_hint_seconds(body: bytes) -> int | None:
    """The feed's own refresh hint: RSS `<ttl>` (minutes) or `sy:updatePeriod`/`Frequency`."""
    head = body[:20_000]  # both live in the channel header, before the items
    ttl = _TTL.search(head)
    if ttl:
        return int(ttl.group(1)) * 60
    period = _UPDATE_PERIOD.search(head)
    if period and period.group(1).decode().lower() in UPDATE_PERIOD_SECONDS:
        frequency = _UPDATE_FREQUENCY.search(head)
        per = max(1, int(frequency.group(1))) if frequency else 1
        return UPDATE_PERIOD_SECONDS[period.group(1).decode().lower()] // per
    return None


_LINK_TAG = re.compile(rb"<(?:[\w-]+:)?link\b[^>]*>", re.I)
_ATTRIBUTE = re.compile(rb"""\b(rel|href)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def prev_archive_url(body: bytes, base_url: str) -> str | None:
    """The feed's RFC 5005 `<link rel="prev-archive" href>` (Atom, or `atom:link` in RSS):
    the archive document of the entries before this one, resolved against `base_url`."""
    head = body[:20_000]  # feed-level links come before the entries
    for tag in _LINK_TAG.findall(head):
        attributes = {m.group(1).lower(): (m.group(2) or m.group(3) or b"")
                      for m in _ATTRIBUTE.finditer(tag)}
        if attributes.get(b"rel", b"").strip().lower() == b"prev-archive" and b"href" in attributes:
            href = html.unescape(attributes[b"href"].decode("utf-8", errors="replace"))
            return http_url(href, base_url)
    return None


_ROOT = re.compile(rb"<(rss|feed|rdf:RDF|RDF)\b", re.I)


def _sniff_format(body: bytes) -> str:
    match = _ROOT.search(body[:5000])
    if not match:
        return ""
    return {"rss": "rss", "feed": "atom"}.get(match.group(1).decode().lower(), "rdf")


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError as error:
        return ParsedFeed(None, [], "json", "json", error=f"invalid JSON: {error}"[:300])
    if not isinstance(data, dict):
        return ParsedFeed(None, [], "json", "json", error="JSON, but not a feed object")
    if isinstance(data.get("rss"), dict):  # "RSS-in-JSON" (scripting.com)
        channel = data["rss"].get("channel") or {}
        items = channel.get("item") or []
        entries = [_json_item({"url": i.get("link") or i.get("guid"), "title": i.get("title"),
                               "summary": i.get("description"), "date_published":
                               i.get("pubDate")}, url) for i in items if isinstance(i, dict)]
        found = [e for e in entries if e is not None]
        return ParsedFeed(title_text(channel.get("title"), markup=False), found, "rss-in-json",
                          "json", error=None if found else "the feed has no entries")
    version = str(data.get("version", ""))
    if "jsonfeed.org" not in version and "items" not in data:
        return ParsedFeed(None, [], "json", "json", error="JSON, but not a JSON Feed")
    items = data.get("items") or []
    found = [e for e in (_json_item(i, url) for i in items if isinstance(i, dict))
             if e is not None]
    fmt = "json1.1" if version.endswith("1.1") else "json1"
    return ParsedFeed(title_text(data.get("title"), markup=False), found, fmt, "json",
                      error=None if found else "the feed has no entries")


def _json_item(item: dict[str, Any], base_url: str = "") -> ParsedEntry | None:
    link = _absolute(_clean(item.get("url")) or _clean(item.get("external_url")), base_url)
    item_id = _clean(item.get("id"))
    if not link and item_id and item_id.startswith(("http://", "https://")):
        link = http_url(item_id)
    if not link:
        return None
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict)
                                      else [])
    author = next((_clean(a.get("name")) for a in authors if isinstance(a, dict)), None)
    published = _iso_to_datetime(item.get("date_published")) or _iso_to_datetime(
        item.get("date_modified"))
    content = _clean(item.get("content_html")) or _clean(item.get("content_text"))
    return ParsedEntry(
        url=link,
        title=title_text(item.get("title")),
        summary=strip_html(_clean(item.get("summary"))),
        content=strip_html(content),
        author=author,
        published_at=sane_date(published),
    )
