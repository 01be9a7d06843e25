"""The `theme_daily` rollup: per UTC day and theme, the articles the timeline counts.

One definition of what counts (the same as `theme_weekly` and the timeline): the article
is about China's AI per its current tags, not a near-duplicate, dated by `published_at`
else `first_seen_at`. Theme `*` holds all China-AI articles of the day. Tagging refreshes
the days it touched; `rebuild` recomputes everything (after bulk loads).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, delete, func, insert, literal, literal_column, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnClause

from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, ThemeDaily

ALL = "*"


def day_sql(dialect: str) -> str:
    expr = "COALESCE(articles.published_at, articles.first_seen_at)"
    return f"to_char({expr}, 'YYYY-MM-DD')" if dialect == "postgresql" else f"date({expr})"


def _fill(session: Session, first: date | None, last: date | None) -> None:
    dated = func.coalesce(Article.published_at, Article.first_seen_at)
    day: ColumnClause[str] = literal_column(day_sql(session.get_bind().dialect.name))
    relevance, tag = aliased(ArticleTheme), aliased(ArticleTheme)
    base = (select(Article.id)
            .join(relevance, and_(relevance.article_id == Article.id,
                                  relevance.theme == RELEVANCE, relevance.assigned))
            .where(Article.duplicate_of.is_(None)))
    if first is not None and last is not None:
        base = base.where(dated >= _midnight(first), dated < _midnight(last) + timedelta(days=1))
    totals = base.with_only_columns(day.label("d"), literal(ALL), func.count()).group_by(
        literal_column("d"))
    themed = (base.join(tag, and_(tag.article_id == Article.id, tag.theme.in_(THEMES),
                                  tag.assigned))
              .with_only_columns(day.label("d"), tag.theme, func.count())
              .group_by(literal_column("d"), tag.theme))
    columns = [ThemeDaily.day, ThemeDaily.theme, ThemeDaily.articles]
    session.execute(insert(ThemeDaily).from_select(columns, totals))
    session.execute(insert(ThemeDaily).from_select(columns, themed))


def refresh_days(session: Session, days: Iterable[date]) -> None:
    """Recompute the rollup from the first to the last of `days`."""
    wanted = sorted(set(days))
    if not wanted:
        return
    first, last = wanted[0], wanted[-1]
    session.execute(delete(ThemeDaily).where(ThemeDaily.day >= first.isoformat(),
                                             ThemeDaily.day <= last.isoformat()))
    _fill(session, first, last)
    session.flush()


def rebuild(session: Session) -> None:
    """Recompute the whole rollup (after a bulk import)."""
    session.execute(delete(ThemeDaily))
    _fill(session, None, None)
    session.flush()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
