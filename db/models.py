"""Typed SQLAlchemy models: the schema analysts query in SQL.

Table and column names are part of cait's interface (see README, "Schema"); add, never rename.
All timestamps are stored as UTC. Constraint names follow one convention so that Alembic
migrations can address them on SQLite (batch mode) and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from common.text import index_words

# Row ids are INTEGER on PostgreSQL (and SQLite's INTEGER PRIMARY KEY): the largest id a
# request or an imported label row may name before the database would refuse it.
MAX_ROW_ID = 2**31 - 1

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SOURCE_KINDS: tuple[str, ...] = ("feed", "page", "search")
DISCOVERED_VIA: tuple[str, ...] = ("feed", "related", "manual", "backfill")
BACKFILL_FOUND_VIA: tuple[str, ...] = ("sitemap", "archive")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always returned timezone-aware (UTC).

    SQLite has no time zones; storing naive UTC everywhere keeps `date()`/`strftime()`
    in SQL and Python's comparisons in agreement.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: cait stores only aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


class Source(Base):
    """Something cait polls: a feed, a single article page, or a news-search feed."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="feed")
    url: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    full_text: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # fetch state, one column per fact (documented in README "Schema")
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_content_hash: Mapped[str | None] = mapped_column(String(64))
    last_fetched_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_article_at: Mapped[datetime | None]
    next_fetch_at: Mapped[datetime | None] = mapped_column(index=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failure_score: Mapped[float] = mapped_column(Float, default=0.0)
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # which worker is fetching it now, until when (a crashed worker's lease simply expires)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]

    articles: Mapped[list[Article]] = relationship(back_populates="source")


def search_words(title: str | None, body: str | None) -> str | None:
    """`articles.search_words` for a title and body: their words as the one tokenizer splits
    them, space-separated, when they hold Chinese (which neither database can split); else
    None. The search index (FTS5 or tsvector) reads it beside the title and body."""
    found = index_words(f"{title or ''}\n{body or ''}")
    return " ".join(found) if found else None


def _search_words_default(context: DefaultExecutionContext) -> str | None:
    # A default that reads the row being inserted, so ORM adds and the collectors' Core
    # INSERT … ON CONFLICT both fill it, and nobody has to remember to.
    row: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return search_words(row.get("title"), row.get("text") or row.get("summary"))


class Article(Base):
    """One news article, stored once by canonical URL."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_first_seen_at", "first_seen_at"),
        Index("ix_articles_content_hash", "content_hash"),
        Index("ix_articles_source_id", "source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    discovered_via: Mapped[str] = mapped_column(String(16), default="feed")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    parent_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"))
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"))
    # the Chinese words of title and text for the search index (see `search_words`)
    search_words: Mapped[str | None] = mapped_column(Text, default=_search_words_default)

    source: Mapped[Source | None] = relationship(back_populates="articles")
    themes: Mapped[list[ArticleTheme]] = relationship(
        back_populates="article", cascade="all, delete-orphan")
    links: Mapped[list[ArticleLink]] = relationship(
        back_populates="from_article", cascade="all, delete-orphan",
        foreign_keys="ArticleLink.from_article_id")


class ArticleLink(Base):
    """A link found on an article page (for now: the links of its Related-News blocks)."""

    __tablename__ = "article_links"
    __table_args__ = (UniqueConstraint("from_article_id", "url", "kind",
                                       name="uq_article_links_from_url_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text, index=True)  # which articles list a link
    anchor_text: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="related")
    position: Mapped[int] = mapped_column(Integer, default=0)
    block: Mapped[str | None] = mapped_column(Text)
    followed: Mapped[bool] = mapped_column(Boolean, default=False)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    to_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"))

    from_article: Mapped[Article] = relationship(
        back_populates="links", foreign_keys=[from_article_id])


class ArticleTheme(Base):
    """The current model's score for one theme (or `china_ai` relevance) of one article."""

    __tablename__ = "article_themes"
    __table_args__ = (Index("ix_article_themes_theme_assigned", "theme", "assigned"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    theme: Mapped[str] = mapped_column(String(32), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    assigned: Mapped[bool] = mapped_column(Boolean)
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    evidence: Mapped[list[str]] = mapped_column(default=list)

    article: Mapped[Article] = relationship(back_populates="themes")


class Label(Base):
    """A human judgement: article X is (value=True) or is not (False) about theme T."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    theme: Mapped[str] = mapped_column(String(32))
    value: Mapped[bool] = mapped_column(Boolean)
    author: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A trained classifier: its parameters, training-data hash and measured quality."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    path: Mapped[str | None] = mapped_column(Text)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)


class FetchLog(Base):
    """One row per fetch attempt; rows older than CAIT_FETCH_LOG_DAYS are pruned."""

    __tablename__ = "fetch_log"
    __table_args__ = (Index("ix_fetch_log_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    http_status: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    new_articles: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class WorkerHeartbeat(Base):
    """One row per worker process: what it is doing and when it last said so."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_beat_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(200), default="starting")
    stopped_at: Mapped[datetime | None]


class Digest(Base):
    """A weekly theme-trend digest as written (Markdown and self-contained HTML)."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(10), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)


class ThemeDaily(Base):
    """Rollup for fast timelines: China-AI, non-duplicate articles per UTC day and theme
    (theme `*` counts all China-AI articles). Refreshed by every tagging batch for the days
    it touched (`db.rollup`); the timeline reads it instead of scanning articles."""

    __tablename__ = "theme_daily"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)   # YYYY-MM-DD, UTC
    theme: Mapped[str] = mapped_column(String(32), primary_key=True)
    articles: Mapped[int] = mapped_column(Integer)


class Backfill(Base):
    """A source's backfill (`cait backfill`): the range asked for and how far discovery got.

    One row per source. Discovery (reading the site's sitemaps and the feed's archives) is
    done once for a range; a later run for the same or a narrower range goes straight on with
    the URLs left pending in `backfill_urls`."""

    __tablename__ = "backfills"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[datetime]
    until: Mapped[datetime | None]          # None: up to the time of discovery
    discovered_at: Mapped[datetime | None]  # when discovery of this range finished
    sitemaps: Mapped[int] = mapped_column(Integer, default=0)       # sitemaps read
    archive_pages: Mapped[int] = mapped_column(Integer, default=0)  # feed archive pages read
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]    # when a run left nothing in range pending


class BackfillUrl(Base):
    """A past article URL a backfill found, with whether it is done (resumable, once only)."""

    __tablename__ = "backfill_urls"
    __table_args__ = (
        UniqueConstraint("source_id", "canonical_url", name="uq_backfill_urls_source_url"),
        Index("ix_backfill_urls_source_done", "source_id", "done"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    found_via: Mapped[str] = mapped_column(String(16))   # BACKFILL_FOUND_VIA
    published_at: Mapped[datetime | None]   # news sitemap publication date, feed entry date
    modified_at: Mapped[datetime | None]    # sitemap <lastmod>
    title: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"))


DELIVERY_KINDS: tuple[str, ...] = ("digest", "alert")
DELIVERY_CHANNELS: tuple[str, ...] = ("email", "webhook")
DELIVERY_STATUSES: tuple[str, ...] = ("sending", "sent", "failed")


class Delivery(Base):
    """One digest or spike alert on one channel: the ledger that keeps it to once.

    The row is inserted *before* sending (status `sending`); the unique key (kind, theme,
    week, channel) makes the insert succeed for one worker only, across restarts and across
    several workers, so only that worker sends. A failed send is `failed` and the next pass
    retries it (`attempts` counts the tries). A digest's theme is `*`."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("kind", "theme", "week", "channel", name="uq_deliveries_key"),
        Index("ix_deliveries_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))      # DELIVERY_KINDS
    theme: Mapped[str] = mapped_column(String(32))     # a theme, or `*` for a digest
    week: Mapped[str] = mapped_column(String(10))      # ISO week, 2026-W19
    channel: Mapped[str] = mapped_column(String(16))   # DELIVERY_CHANNELS
    status: Mapped[str] = mapped_column(String(16))    # DELIVERY_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    owner: Mapped[str | None] = mapped_column(String(120))  # the worker or CLI that sends
    error: Mapped[str | None] = mapped_column(Text)     # the last failure's reason
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)  # last claim or outcome
    sent_at: Mapped[datetime | None]
