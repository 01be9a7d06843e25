"""Article search: the articles behind every number, with full-text ranking and snippets.

The query is parsed once (`reports.query`) and the same tree is compiled for each database:
SQLite matches it against the FTS5 table `articles_fts` (BM25 ranking, `snippet()`),
PostgreSQL against `to_tsvector('simple', …)` with its GIN index (`ts_rank`, `ts_headline`).
Chinese is found through `articles.search_words`, the article's words as the one tokenizer
splits them, which both indexes read beside the title and body (migration 0006;
bench/search_bench.py weighs it against trigram indexes). Every value reaches SQL as a bound
parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, column, exists, func, literal_column, select, table, text
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.expression import ColumnClause

from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, Source
from db.queries import dated_between
from db.search_index import index_pending
from reports.query import parse, to_fts5, to_tsquery

FTS = table("articles_fts", column("rowid"))  # the FTS5 table of migrations 0003 and 0006
# PostgreSQL's stored tsvector (migration 0006: title, body and search_words, with ASCII
# punctuation as space so that `01.ai` is two words there as in FTS5 and the query parser)
PG_VECTOR: ColumnClause[Any] = literal_column("articles.search_vector")
PG_BODY = "coalesce(articles.text, coalesce(articles.summary, ''))"
PG_SHOWN = f"coalesce(articles.title, '') || ' ' || {PG_BODY}"  # what snippets quote


@dataclass(frozen=True)
class Hit:
    id: int
    title: str | None
    source: str | None
    date: datetime | None
    url: str
    themes: dict[str, float]     # assigned themes and their scores
    china_ai: bool | None
    snippet: str | None


def search(session: Session, query: str | None = None, *, themes: list[str] | None = None,
           source: str | None = None, since: datetime | None = None,
           until: datetime | None = None, china_ai: bool | None = None,
           originals_only: bool = False, limit: int = 20) -> list[Hit]:
    """Articles matching all filters: ranked by relevance with a query, else newest first.
    `originals_only` leaves out near-duplicates, as the timeline's counts do.

    A query that cannot be parsed raises `reports.query.QueryError` (one line)."""
    dialect = session.get_bind().dialect.name
    if query and query.strip() and dialect == "sqlite":
        # articles stored since the last pass ended (or by a pass that was killed) are
        # queued, not yet indexed (migration 0010): indexed here, in the caller's
        # transaction, so that a search never misses a stored article
        index_pending(session.connection())
    dated = func.coalesce(Article.published_at, Article.first_seen_at)
    stmt: Any = select(Article.id, literal_column("NULL").label("snippet")).select_from(Article)
    order: list[Any] = [dated.desc(), Article.id.desc()]
    if query and query.strip():
        tree = parse(query)
        if dialect == "sqlite":
            stmt = (select(Article.id, literal_column(
                        "snippet(articles_fts, 1, '[', ']', '…', 14)").label("snippet"))
                    .select_from(Article)
                    .join(FTS, FTS.c.rowid == Article.id)
                    .where(text("articles_fts MATCH :fts").bindparams(fts=to_fts5(tree))))
            order = [literal_column("bm25(articles_fts)").asc(), *order]
        else:
            tsquery = func.to_tsquery("simple", to_tsquery(tree))
            stmt = (select(Article.id, func.ts_headline(
                        "simple", literal_column(PG_SHOWN), tsquery,
                        "StartSel=[, StopSel=], MaxWords=24, MinWords=10").label("snippet"))
                    .select_from(Article)
                    .where(PG_VECTOR.op("@@")(tsquery)))
            order = [func.ts_rank(PG_VECTOR, tsquery).desc(), *order]
    for theme in themes or []:
        tagged = aliased(ArticleTheme)
        stmt = stmt.where(exists().where(and_(tagged.article_id == Article.id,
                                              tagged.theme == theme, tagged.assigned)))
    if china_ai is not None:
        relevance = aliased(ArticleTheme)
        is_china = exists().where(and_(relevance.article_id == Article.id,
                                       relevance.theme == RELEVANCE, relevance.assigned))
        stmt = stmt.where(is_china if china_ai else ~is_china)
    if source is not None:
        stmt = stmt.where(Article.source_id.in_(select(Source.id).where(Source.name == source)))
    if since is not None or until is not None:
        stmt = stmt.where(dated_between(since, until))
    if originals_only:
        stmt = stmt.where(Article.duplicate_of.is_(None))
    found = session.execute(stmt.order_by(*order).limit(limit)).all()
    return _hits(session, [(int(i), s) for i, s in found])


def _hits(session: Session, found: list[tuple[int, str | None]]) -> list[Hit]:
    ids = [i for i, _ in found]
    if not ids:
        return []
    articles = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(ids)))}
    names = dict(session.execute(select(Source.id, Source.name)).all())
    tags: dict[int, dict[str, float]] = {i: {} for i in ids}
    relevant: dict[int, bool] = {}
    for row in session.scalars(select(ArticleTheme).where(ArticleTheme.article_id.in_(ids))):
        if row.theme == RELEVANCE:
            relevant[row.article_id] = row.assigned
        elif row.assigned and row.theme in THEMES:
            tags[row.article_id][row.theme] = round(row.score, 3)
    hits = []
    for article_id, snippet in found:
        a = articles[article_id]
        hits.append(Hit(a.id, a.title, names.get(a.source_id) if a.source_id else None,
                        a.published_at or a.first_seen_at, a.canonical_url, tags[a.id],
                        relevant.get(a.id), snippet))
    return hits
