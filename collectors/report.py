"""What one collection pass produced: a `SourceOutcome` per source before it is written,
a `SourceReport` line per source after, and the `PassReport` that `cait collect` prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from collectors.outcome import FetchError, FetchResult
from collectors.store import Known, NewArticle

if TYPE_CHECKING:  # pages and feeds (trafilatura, lxml, feed parsers) load where parsing runs
    from collectors.pages import ExtractedPage
    from collectors.prepare import PreparedFeed


@dataclass
class SourceOutcome:
    """What became of one source in this pass, handed to `update.write_outcomes` to be written.

    `error` is set for a failure (with `fetched` too when the body came but was unusable);
    `items` and `pages` are the articles to store and the pages whose related links to keep;
    `feed` is a parsed feed whose new entries are still to be told from the stored ones, in
    the transaction that stores them (a source without full text).
    """

    outcome: str                 # ok | not_modified | failed | crashed
    error: FetchError | None = None
    fetched: FetchResult | None = None
    entries: int = 0
    items: list[NewArticle] = field(default_factory=list)
    pages: dict[str, ExtractedPage] = field(default_factory=dict)
    feed_hint: int | None = None  # the feed's own refresh hint (ttl), seconds
    known: int = 0               # entries stored before this pass
    lookup: Known | None = None  # what the entries' lookup found stored (reused to store)
    feed: PreparedFeed | None = None
    body_hash: str | None = None  # the body's hash when the parser process took it

    @property
    def http_status(self) -> int | None:
        """The response's status, else the failure's (None when nothing answered)."""
        if self.fetched is not None:
            return self.fetched.status
        return self.error.status if self.error is not None else None

    @property
    def elapsed_ms(self) -> int:
        if self.fetched is not None:
            return self.fetched.elapsed_ms
        return self.error.elapsed_ms if self.error is not None else 0

    @property
    def headers(self) -> dict[str, str]:
        return self.fetched.headers if self.fetched is not None else {}


@dataclass
class SourceReport:
    name: str
    outcome: str                 # ok | not_modified | failed | crashed
    http_status: int | None = None
    entries: int = 0
    new_articles: int = 0
    duplicates: int = 0
    error: str | None = None
    next_fetch_at: datetime | None = None
    duration_ms: int = 0


@dataclass
class PassReport:
    sources: list[SourceReport] = field(default_factory=list)
    related_followed: int = 0
    related_skipped: int = 0

    def summary(self) -> dict[str, int]:
        def count(outcome: str) -> int:
            return sum(1 for s in self.sources if s.outcome == outcome)

        return {
            "sources": len(self.sources),
            "fetched": count("ok"),
            "not_modified": count("not_modified"),
            "failed": count("failed") + count("crashed"),
            "new_articles": sum(s.new_articles for s in self.sources),
            "duplicates": sum(s.duplicates for s in self.sources),
            "related_followed": self.related_followed,
        }

    def to_json(self) -> dict[str, object]:
        return {**self.summary(), "per_source": [
            {**asdict(s), "next_fetch_at": s.next_fetch_at.isoformat() if s.next_fetch_at
             else None} for s in self.sources]}
