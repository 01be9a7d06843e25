"""Decide and store: the articles and links collection writes, within the caller's transaction
(a source's own fetch state is `source_state`'s).

Insertion is idempotent: an article is inserted with ON CONFLICT DO NOTHING on its
canonical URL, so re-running a pass (or two workers racing) never stores it twice; an
exact content-hash match is skipped as a duplicate; a near-duplicate is stored with
`duplicate_of` pointing at the first copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from collectors import site_lists
from collectors.dedup import Fingerprint, NearDuplicateIndex, fingerprint
from collectors.sources import SourceSpec
from collectors.urls import canonicalize_url, site_of
from common.errors import UserError
from db.models import Article, ArticleLink, Source, search_words
from db.queries import bound_list, in_bound_list

if TYPE_CHECKING:  # pages and feeds (trafilatura, lxml, feed parsers) load where parsing runs
    from collectors.pages import RelatedLink

NEAR_DUPLICATE_WINDOW = timedelta(days=30)


@dataclass
class NewArticle:
    url: str
    canonical_url: str
    title: str | None
    summary: str | None
    text: str | None
    language: str | None
    author: str | None
    published_at: datetime | None
    source_id: int | None
    discovered_via: str = "feed"
    depth: int = 0
    parent_article_id: int | None = None
    # Of body_for_identity; computed by store_articles unless the parser process did it.
    fingerprint: Fingerprint | None = None

    @property
    def body_for_identity(self) -> str | None:
        return self.text or self.summary


@dataclass
class StoreResult:
    new_ids: list[int]
    duplicates: int
    ids_by_canonical: dict[str, int]
    new_hashes: dict[str, int] = field(default_factory=dict)  # content hash → new row's id


def add_sources(session: Session, specs: Iterable[SourceSpec], interval: int,
                replace: bool = False, skip_known_urls: bool = False) -> tuple[int, int]:
    """Insert sources by name; existing names are left alone (or updated with `replace`).

    A URL that is already another source's (compared in canonical form, so an IDN host and
    its punycode are one) is refused with a `UserError` naming that source, or skipped like
    an existing name with `skip_known_urls` (the curated list beside the user's own).
    Returns (added, updated)."""
    owners = {canonicalize_url(url): name
              for name, url in session.execute(select(Source.name, Source.url))}
    added = updated = 0
    for spec in specs:
        key = canonicalize_url(spec.url)
        row = session.scalars(select(Source).where(Source.name == spec.name)).one_or_none()
        if row is not None and not replace:
            continue
        owner = owners.get(key)
        if owner is not None and owner != spec.name:
            if skip_known_urls:
                continue
            raise UserError(f"{spec.url} is already the source {owner!r} (not added again "
                            f"as {spec.name!r})")
        if row is None:
            session.add(Source(name=spec.name, url=spec.url, kind=spec.kind, tags=spec.tags,
                               full_text=spec.full_text, interval_seconds=interval))
            added += 1
        else:
            owners.pop(canonicalize_url(row.url), None)
            row.url, row.kind, row.tags, row.full_text = (spec.url, spec.kind, spec.tags,
                                                          spec.full_text)
            updated += 1
        owners[key] = spec.name
    session.flush()
    return added, updated


def source_spec(row: Source) -> SourceSpec:
    return SourceSpec(name=row.name, url=row.url, kind=row.kind, tags=list(row.tags or []),
                      full_text=row.full_text)


def existing_urls(session: Session, canonical_urls: Iterable[str]) -> dict[str, int]:
    """canonical URL → article id, for those already stored."""
    wanted = list(dict.fromkeys(canonical_urls))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for url, article_id in session.execute(
                select(Article.canonical_url, Article.id).where(Article.canonical_url.in_(chunk))):
            found[url] = article_id
    return found


def load_near_duplicate_index(session: Session, now: datetime) -> NearDuplicateIndex:
    """Fingerprints of the last 30 days' original articles."""
    index = NearDuplicateIndex()
    rows = session.execute(
        select(Article.id, Article.simhash)
        .where(Article.simhash.is_not(None), Article.duplicate_of.is_(None),
               Article.first_seen_at >= now - NEAR_DUPLICATE_WINDOW))
    for article_id, stored_simhash in rows:
        if stored_simhash is not None:
            index.add(article_id, stored_simhash)
    return index


# Statements of the per-source hot path are built once (`cache`) and executed with
# parameters: a statement object remembers its cache key, and building and keying one per
# source was a large part of the writing process's time (issue 18).


def _insert_statement(session: Session) -> Any:
    """INSERT … ON CONFLICT (canonical_url) DO NOTHING RETURNING id, canonical_url, for the
    dialect; executed with a list of rows it is one multi-row INSERT per 1,000 rows."""
    return _insert_articles(session.get_bind().dialect.name)


@cache
def _insert_articles(dialect: str) -> Any:
    # the dialect's module is imported here: a pass that stores nothing loads neither
    from sqlalchemy.dialects import postgresql, sqlite

    module = postgresql if dialect == "postgresql" else sqlite
    table = Article.__table__
    return (module.insert(table).on_conflict_do_nothing(index_elements=["canonical_url"])
            .returning(table.c.id, table.c.canonical_url))


@cache
def _lookup_statement(dialect: str) -> Any:
    """Stored articles with one of the canonical URLs `urls` or content hashes `hashes`, each
    list bound as one value (`db.queries.in_bound_list`): compiled and prepared once, where an
    expanding IN was rendered anew for every source (issue 18). Both forms are answered from
    the two columns' indexes."""
    by_url = in_bound_list(Article.canonical_url, "urls", dialect, Text())
    by_hash = in_bound_list(Article.content_hash, "hashes", dialect, Text())
    return (select(Article.id, Article.canonical_url, Article.content_hash)
            .where(or_(by_url, by_hash)).order_by(Article.id))


@dataclass
class Known:
    """What a lookup found stored, by canonical URL and by content hash, and which URLs and
    hashes it asked about: a later lookup in the same pass asks only about the rest."""

    by_url: dict[str, int] = field(default_factory=dict)
    by_hash: dict[str, int] = field(default_factory=dict)
    urls: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)


def known_articles(session: Session, urls: Iterable[str], digests: Iterable[str],
                   already: Known | None = None) -> Known:
    """Stored articles by canonical URL and by content hash (the earliest id per hash), in
    one query; what `already` asked about is not asked again (issue 18: the feed's entries
    and then their storing each looked the same URLs up), and when it asked about all of
    them, `already` itself is the answer."""
    asked_urls = already.urls if already is not None else set()
    asked_hashes = already.hashes if already is not None else set()
    url_list = [u for u in dict.fromkeys(urls) if u not in asked_urls]
    hash_list = [d for d in dict.fromkeys(digests) if d not in asked_hashes]
    if already is not None and not url_list and not hash_list:
        return already
    known = Known() if already is None else Known(dict(already.by_url), dict(already.by_hash),
                                                  set(already.urls), set(already.hashes))
    wanted = set(url_list)
    found_hash: dict[str, int] = {}
    if url_list or hash_list:
        connection = session.connection()
        dialect = connection.dialect.name
        rows = connection.execute(_lookup_statement(dialect),
                                  {"urls": bound_list(dialect, url_list),
                                   "hashes": bound_list(dialect, hash_list)})
        for article_id, url, digest in rows:
            if url in wanted:
                known.by_url[url] = article_id
            if digest is not None:
                found_hash.setdefault(digest, article_id)
    for digest, article_id in found_hash.items():
        if digest not in known.by_hash or article_id < known.by_hash[digest]:
            known.by_hash[digest] = article_id
    known.urls.update(url_list)
    known.hashes.update(hash_list)
    return known


def remember_stored(known: Known, stored: StoreResult) -> None:
    """What `store_articles` just wrote, added to a lookup that later writes in the same
    transaction reuse (`update.write_outcomes`): the items' URLs, and the content hashes of
    the new rows, so that the same text under another URL is still told apart."""
    known.by_url.update(stored.ids_by_canonical)
    for digest, article_id in stored.new_hashes.items():
        known.by_hash.setdefault(digest, article_id)


def store_articles(session: Session, items: list[NewArticle], near: NearDuplicateIndex,
                   now: datetime, looked_up: Known | None = None) -> StoreResult:
    """Insert what is new; count what is a duplicate (by URL or exact text).

    One query reads what is known (none when `looked_up`, this pass's lookup of the same
    entries, already asked about every URL and hash), one INSERT … ON CONFLICT DO NOTHING
    RETURNING writes the rest (issue 18: row by row it was most of the writing process's
    time). A URL stored since the lookup meets the conflict clause and counts as a duplicate.
    A near-duplicate of an article new in the same batch points at it through one UPDATE
    afterwards."""
    result = StoreResult([], 0, {})
    prints = [item.fingerprint or fingerprint(item.body_for_identity) for item in items]
    known = known_articles(session, (i.canonical_url for i in items),
                           (p.content_hash for p in prints if p.content_hash is not None),
                           looked_up)
    known_urls, by_hash = known.by_url, known.by_hash
    result.ids_by_canonical.update(
        (i.canonical_url, known_urls[i.canonical_url]) for i in items
        if i.canonical_url in known_urls)
    rows: list[dict[str, Any]] = []
    batch = NearDuplicateIndex()  # the new rows' SimHashes, by their position in `rows`
    copies: dict[str, str] = {}  # canonical URL → the URL of the new row with the same text
    first_of_hash: dict[str, str] = {}
    near_in_batch: dict[str, int] = {}  # canonical URL → position of the row it copies
    taken: set[str] = set()
    for item, identity in zip(items, prints, strict=True):
        digest = identity.content_hash
        if item.canonical_url in result.ids_by_canonical or item.canonical_url in taken:
            result.duplicates += 1
            continue
        if digest is not None and digest in by_hash:
            result.duplicates += 1
            result.ids_by_canonical[item.canonical_url] = by_hash[digest]
            continue
        if digest is not None and digest in first_of_hash:
            result.duplicates += 1
            copies[item.canonical_url] = first_of_hash[digest]
            continue
        simhash = identity.simhash  # worked out here, for a row to write (`Fingerprint`)
        duplicate_of = near.find(simhash) if simhash is not None else None
        if simhash is not None:
            if duplicate_of is None and (position := batch.find(simhash)) is not None:
                near_in_batch[item.canonical_url] = position
            batch.add(len(rows), simhash)
        if digest is not None:
            first_of_hash[digest] = item.canonical_url
        taken.add(item.canonical_url)
        rows.append({
            "source_id": item.source_id, "url": item.url, "canonical_url": item.canonical_url,
            "title": item.title, "summary": item.summary, "text": item.text,
            "language": item.language, "author": item.author,
            "published_at": item.published_at, "first_seen_at": now,
            "content_hash": digest, "simhash": simhash,
            "discovered_via": item.discovered_via, "depth": item.depth,
            "parent_article_id": item.parent_article_id, "duplicate_of": duplicate_of,
            # the column's default rule, given here: as a default, SQLAlchemy calls it back
            # per row with the row's parameters (issue 18: per-row work of the insert)
            "search_words": search_words(item.title, item.body_for_identity),
        })
    if not rows:
        return result
    inserted = dict(session.connection().execute(_insert_statement(session), rows).all())
    ids = {url: article_id for article_id, url in inserted.items()}
    result.duplicates += len(rows) - len(ids)  # another worker stored those a moment ago
    fixes = [{"row_id": ids[url], "first_id": ids[rows[position]["canonical_url"]]}
             for url, position in near_in_batch.items()
             if url in ids and rows[position]["canonical_url"] in ids]
    if fixes:
        session.connection().execute(
            update(Article).where(Article.id == bindparam("row_id"))
            .values(duplicate_of=bindparam("first_id")), fixes)
    for row in rows:  # in the order given, as the new ids are reported
        article_id = ids.get(row["canonical_url"])
        if article_id is None:
            continue
        if row["simhash"] is not None:
            near.add(article_id, row["simhash"])
        result.new_ids.append(article_id)
        if row["content_hash"] is not None:
            result.new_hashes.setdefault(row["content_hash"], article_id)
        result.ids_by_canonical[row["canonical_url"]] = article_id
    for url, original in copies.items():
        if original in ids:
            result.ids_by_canonical[url] = ids[original]
    return result


def store_links(session: Session, from_article_id: int, links: list[RelatedLink]) -> None:
    """Record a page's related links once (re-runs add nothing). A block that another article
    of the same site already listed is stored skipped, never to be followed
    (`collectors.site_lists`)."""
    existing = set(session.scalars(select(ArticleLink.url).where(
        ArticleLink.from_article_id == from_article_id, ArticleLink.kind == "related")))
    blocks: dict[str | None, list[str]] = {}
    for link in links:
        blocks.setdefault(link.block, []).append(link.url)
    lists = {block: urls for block, urls in blocks.items() if len(urls) >= site_lists.MIN_LINKS}
    skipped: dict[str | None, int] = {}
    if lists:
        own_site = site_of(session.scalar(
            select(Article.url).where(Article.id == from_article_id)) or "")
        for block, urls in lists.items():
            other = _site_wide_on(session, from_article_id, own_site, urls)
            if other is not None:
                skipped[block] = other
    for link in links:
        if link.url not in existing:
            other = skipped.get(link.block)
            session.add(ArticleLink(
                from_article_id=from_article_id, url=link.url, anchor_text=link.anchor_text,
                kind="related", position=link.position, block=link.block,
                skip_reason=None if other is None else site_lists.SKIP_REASON.format(other)))
            existing.add(link.url)
    session.flush()


def _site_wide_on(session: Session, from_article_id: int, own_site: str, urls: list[str]
                  ) -> int | None:
    """Another article of the site `own_site` whose stored related links hold the same list
    as `urls` (`site_lists.same_list`), if any: the first such article's id."""
    shared = func.count().label("shared")
    found = session.execute(
        select(ArticleLink.from_article_id, ArticleLink.block, Article.url)
        .join(Article, Article.id == ArticleLink.from_article_id)
        .where(ArticleLink.kind == "related", ArticleLink.url.in_(urls),
               ArticleLink.from_article_id != from_article_id)
        .group_by(ArticleLink.from_article_id, ArticleLink.block, Article.url)
        .having(shared >= site_lists.min_shared(len(urls)))
        .order_by(ArticleLink.from_article_id, ArticleLink.block)).all()
    for other_id, block, other_url in found:
        if site_of(other_url) != own_site:
            continue
        listed = session.scalars(select(ArticleLink.url).where(
            ArticleLink.from_article_id == other_id, ArticleLink.kind == "related",
            ArticleLink.block.is_(None) if block is None else ArticleLink.block == block))
        if site_lists.same_list(urls, set(listed)):
            return int(other_id)
    return None


def mark_link(session: Session, from_article_id: int, url: str, *, followed: bool,
              to_article_id: int | None = None, skip_reason: str | None = None) -> None:
    link = session.scalars(select(ArticleLink).where(
        ArticleLink.from_article_id == from_article_id, ArticleLink.url == url)).first()
    if link is not None:
        link.followed, link.to_article_id, link.skip_reason = followed, to_article_id, skip_reason
