"""The state of one backfill run (`collectors/backfill.py`): the date range, the limits, what
it found, and the report it makes; shared by discovery (`collectors/discovery.py`) and
collection."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from collectors.dedup import NearDuplicateIndex
from collectors.fetch import Fetcher
from collectors.follow import SessionFactory
from collectors.offload import Offload
from collectors.sitemaps import PROTOCOL_MAX_URLS
from config import Settings

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
class BackfillSource:
    id: int
    name: str
    url: str
    kind: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


@dataclass(frozen=True)
class FoundUrl:
    url: str
    canonical_url: str
    found_via: str
    published_at: datetime | None = None
    modified_at: datetime | None = None
    title: str | None = None
    summary: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class PendingUrl:
    id: int
    url: str
    canonical_url: str
    published_at: datetime | None
    title: str | None
    summary: str | None
    author: str | None
    attempts: int


@dataclass
class BackfillRun:
    settings: Settings
    sessions: SessionFactory
    fetcher: Fetcher
    offload: Offload
    near: NearDuplicateIndex
    source: BackfillSource
    window: Window
    limits: Limits
    stop: threading.Event | None
    found: dict[str, FoundUrl] = field(default_factory=dict)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def keep(self, candidate: FoundUrl) -> bool:
        """Add a URL found; False once the discovery holds `Limits.urls` of them."""
        if len(self.found) >= self.limits.urls:
            return False
        self.found.setdefault(candidate.canonical_url, candidate)
        return True

