"""Following Related-News links: from `article_links` rows to stored related articles.

Links are read back from the database rather than carried in memory, so links left pending
by an interrupted pass are followed by the next one. A link is followed when its anchor text
passes the relevance gate, within CAIT_RELATED_DEPTH hops and CAIT_RELATED_PER_RUN per pass;
third-party pages may only lead to the same site or to public addresses.

Every exception from one link becomes that link's recorded outcome (marked, with a skip reason,
logged): links found in the wild are hostile or broken, and one of them must never stop the
pass, nor the tagging after it, nor the next pass (issue 13, item 1). Only database errors
propagate: they belong to the pass, not to the link.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from collectors import schedule, store
from collectors.dedup import NearDuplicateIndex
from collectors.fetch import Fetcher
from collectors.offload import Offload
from collectors.outcome import FetchError
from collectors.related import GATE_THRESHOLD, RelevanceGate
from collectors.urls import canonicalize_url
from config import Settings
from db.models import Article, ArticleLink

if TYPE_CHECKING:  # pages and feeds (trafilatura, lxml, feed parsers) load where parsing runs
    from collectors.feeds import ParsedEntry
    from collectors.pages import ExtractedPage

log = logging.getLogger("cait.collect")
SessionFactory = Callable[[], Session]
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass
class PassContext:
    """What one collection pass shares between its sources and its related-link follow-up."""

    settings: Settings
    sessions: SessionFactory
    fetcher: Fetcher
    offload: Offload
    gate: RelevanceGate
    near: NearDuplicateIndex
    rng: random.Random
    now: Callable[[], datetime]
    policy: schedule.Policy
    related_budget: int


def article_from_page(page: ExtractedPage, source_id: int | None, entry: ParsedEntry | None,
                       via: str, depth: int, parent: int | None) -> store.NewArticle:
    return store.NewArticle(
        url=page.url, canonical_url=canonicalize_url(page.canonical_url),
        title=page.title or (entry.title if entry else None),
        summary=entry.summary if entry else None,
        text=page.text or (entry.content if entry else None),
        language=page.language, author=page.author or (entry.author if entry else None),
        published_at=(entry.published_at if entry and entry.published_at else page.published_at),
        source_id=source_id, discovered_via=via, depth=depth, parent_article_id=parent)


async def follow_related(ctx: PassContext) -> tuple[int, int]:
    """Follow pending related links (any pass's), within depth and the per-run budget."""
    followed = skipped = 0
    for _round in range(max(0, ctx.settings.related_depth)):
        pending = _pending_links(ctx)
        if not pending:
            break
        tasks = []
        for _link_id, from_id, url, anchor, depth, source_id, parent_url in pending:
            if depth + 1 > ctx.settings.related_depth:
                _mark(ctx, from_id, url, False, skip_reason="depth limit")
                skipped += 1
                continue
            if not anchor:  # an image-only link: nothing to judge its relevance by
                _mark(ctx, from_id, url, False, skip_reason="no anchor text")
                skipped += 1
                continue
            score = ctx.gate(anchor)
            if score < GATE_THRESHOLD:
                _mark(ctx, from_id, url, False, skip_reason=f"not relevant ({score:.2f})")
                skipped += 1
                continue
            if ctx.related_budget <= 0:
                break  # left pending for the next pass
            ctx.related_budget -= 1
            tasks.append(_follow_guarded(ctx, from_id, url, depth + 1, source_id, parent_url))
        # return_exceptions: a database error in one link must not orphan the others mid-write
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        followed += sum(1 for r in results if r)
        skipped += sum(1 for r in results if not r)
        if ctx.related_budget <= 0:
            break
    return followed, skipped


PendingLink = tuple[int, int, str, str | None, int, int | None, str]


def _pending_links(ctx: PassContext) -> list[PendingLink]:
    with ctx.sessions() as session:
        rows = session.execute(
            select(ArticleLink.id, ArticleLink.from_article_id, ArticleLink.url,
                   ArticleLink.anchor_text, Article.depth, Article.source_id, Article.url)
            .join(Article, Article.id == ArticleLink.from_article_id)
            .where(ArticleLink.kind == "related", ArticleLink.followed.is_(False),
                   ArticleLink.skip_reason.is_(None))
            .order_by(ArticleLink.id)
            .limit(max(ctx.related_budget, 0) + 500))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _mark(ctx: PassContext, from_id: int, url: str, followed: bool, *,
          to_article_id: int | None = None, skip_reason: str | None = None) -> None:
    with ctx.sessions() as session:
        store.mark_link(session, from_id, url, followed=followed, to_article_id=to_article_id,
                        skip_reason=skip_reason)
        session.commit()


async def _follow_guarded(ctx: PassContext, from_id: int, url: str, depth: int,
                          source_id: int | None, parent_url: str) -> bool:
    """`_follow_one`, with any exception but the database's recorded as the link's outcome."""
    try:
        return await _follow_one(ctx, from_id, url, depth, source_id, parent_url)
    except sa_exc.SQLAlchemyError:
        raise
    except Exception as error:  # one hostile link is never the pass's problem
        log.warning("related=%r from_article=%d outcome=crashed error=%r", url[:300], from_id,
                    f"{type(error).__name__}: {error}"[:300], exc_info=error)
        _mark(ctx, from_id, url, False,
              skip_reason=f"internal error {type(error).__name__}: {error}"[:500])
        return False


async def _follow_one(ctx: PassContext, from_id: int, url: str, depth: int,
                      source_id: int | None, parent_url: str) -> bool:
    canonical = canonicalize_url(url)
    with ctx.sessions() as session:
        known = store.existing_urls(session, [canonical])
    if canonical in known:
        _mark(ctx, from_id, url, True, to_article_id=known[canonical])
        return True
    started = time.monotonic()
    fetched = await ctx.fetcher.get(url, accept=PAGE_ACCEPT, check_robots=True,
                                    untrusted_from=urlsplit(parent_url).hostname or "")
    if isinstance(fetched, FetchError):
        _mark(ctx, from_id, url, False, skip_reason=f"fetch failed: {fetched.describe()}"[:500])
        log.info("related=%s from_article=%d outcome=failed error=%r", url, from_id,
                 fetched.describe())
        return False
    page = await ctx.offload.extract_page(fetched.body, fetched.url,
                                          fetched.headers.get("content-type", ""))
    if not page.text:
        _mark(ctx, from_id, url, False, skip_reason=page.error or "no article text")
        return False
    item = article_from_page(page, source_id, None, "related", depth, from_id)
    with ctx.sessions() as session:
        stored = store.store_articles(session, [item], ctx.near, ctx.now())
        article_id = stored.ids_by_canonical.get(item.canonical_url)
        if article_id is not None and page.related:
            store.store_links(session, article_id, page.related)
        store.mark_link(session, from_id, url, followed=True, to_article_id=article_id)
        session.commit()
    log.info("related=%s from_article=%d outcome=ok new=%d duration_ms=%d", url, from_id,
             len(stored.new_ids), int((time.monotonic() - started) * 1000))
    return True
