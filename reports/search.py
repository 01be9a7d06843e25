"""Article search: the articles behind every number, with full-text ranking and snippets.

SQLite uses the FTS5 table `articles_fts` (BM25 ranking, `snippet()`); PostgreSQL uses
`to_tsvector('simple', …)` with its GIN index (`ts_rank`, `ts_headline`). Chinese has no
spaces for either tokenizer to split on, so a query containing CJK characters is segmented
into words by `common.text` and each word is matched as a substring instead. Every value
reaches SQL as a bound parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, column, exists, func, literal_column, or_, select, table, text
from sqlalchemy.orm import Session, aliased

from common.text import has_cjk
from common.text import words as text_words
from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, Source
from db.queries import dated_between

_WORD = re.compile(r"\w+", re.UNICODE)
FTS = table("articles_fts", column("rowid"))  # the FTS5 table of migration 0003
PG_DOCUMENT = "coalesce(articles.title, '') || ' ' || coalesce(articles.text, " \
              "coalesce(articles.summary, ''))"


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


def _fts_query(query: str) -> str:
    """User words as an FTS5 expression of quoted terms (no operator injection)."""
    return " ".join(f'"{word}"' for word in _WORD.findall(query))


def search(session: Session, query: str | None = None, *, themes: list[str] | None = None,
           source: str | None = None, since: datetime | None = None,
           until: datetime | None = None, china_ai: bool | None = None,
           limit: int = 20) -> list[Hit]:
    """Articles matching all filters: ranked by relevance with a query, else newest first."""
    dialect = session.get_bind().dialect.name
    dated = func.coalesce(Article.published_at, Article.first_seen_at)
    stmt: Any = select(Article.id, literal_column("NULL").label("snippet"))
    order: list[Any] = [dated.desc(), Article.id.desc()]
    words = query.strip() if query else ""
    if words and has_cjk(words):
        # Neither index splits Chinese: the query is segmented by the one tokenizer and every
        # word must occur (as a substring, case-insensitive), so 华为 昇腾 finds articles that
        # name both, and 通义千问 those that name it, however it was segmented.
        for word in dict.fromkeys(text_words(words)):
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            stmt = stmt.where(or_(*(column.ilike(pattern, escape="\\") for column in
                                    (Article.title, Article.text, Article.summary))))
    elif words and dialect == "sqlite":
        fts = _fts_query(words)
        if not fts:
            return []
        stmt = (select(Article.id, literal_column("snippet(articles_fts, 1, '[', ']', '…', 14)")
                       .label("snippet"))
                .select_from(Article)
                .join(FTS, FTS.c.rowid == Article.id)
                .where(text("articles_fts MATCH :fts").bindparams(fts=fts)))
        order = [literal_column("bm25(articles_fts)").asc(), *order]
    elif words:
        tsquery = func.websearch_to_tsquery("simple", words)
        document = func.to_tsvector("simple", literal_column(PG_DOCUMENT))
        stmt = (select(Article.id, func.ts_headline(
                    "simple", literal_column(PG_DOCUMENT), tsquery,
                    "StartSel=[, StopSel=], MaxWords=24, MinWords=10").label("snippet"))
                .where(document.op("@@")(tsquery)))
        order = [func.ts_rank(document, tsquery).desc(), *order]
    if not (words and dialect == "sqlite" and not has_cjk(words)):
        stmt = stmt.select_from(Article)
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
