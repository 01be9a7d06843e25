"""Theme timelines: per period and theme, China-AI article counts, share, change and spikes.

Counting rule (the same as the `theme_weekly` view, which uses the same SQL week expression):
an article counts once per assigned theme if the current model says it is about China's AI,
it is not a near-duplicate, and its date (`published_at`, else `first_seen_at`) falls in the
period. Periods without articles appear with zeros.

Spike test: a period is a spike when its count is improbably high for a Poisson process
with the mean of the previous 8 periods (one-sided p < 0.01), it has at least 3 articles,
and at least 4 earlier periods exist. A sudden rise in coverage is exactly a burst of
arrivals above the recent rate, which is what the Poisson tail measures.

Counts come from the `theme_daily` rollup (maintained by tagging) unless a source filter
or a bound inside a day needs the articles themselves; both paths count the same rule.

Coverage health: a period is marked when sources failed without a single success in it,
so that a collection gap is not read as a drop in the story.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
from scipy.stats import poisson
from sqlalchemy import case, func, literal_column, select, text
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnClause

from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, FetchLog, Source, ThemeDaily
from db.rollup import ALL
from db.views import iso_week_sql

BASELINE_PERIODS = 8
MIN_HISTORY = 4
SPIKE_P = 0.01
SPIKE_MIN_ARTICLES = 3


@dataclass(frozen=True)
class TimelineRow:
    period: str
    theme: str
    articles: int
    total: int            # China-AI articles in the period (all themes)
    share: float
    change: int | None    # articles minus the previous period's
    trailing_mean: float | None
    p_value: float | None
    spike: bool


@dataclass
class CoverageGap:
    period: str
    failing_sources: list[str]


@dataclass
class Timeline:
    by: str
    themes: list[str]
    periods: list[str]
    rows: list[TimelineRow]
    gaps: dict[str, CoverageGap] = field(default_factory=dict)

    def to_json(self) -> list[dict[str, object]]:
        key = "week" if self.by == "week" else "month"
        return [{key: r.period, "theme": r.theme, "articles": r.articles,
                 "share": round(r.share, 4), "change": r.change, "spike": r.spike,
                 "trailing_mean": None if r.trailing_mean is None else round(r.trailing_mean, 2),
                 "p_value": None if r.p_value is None else round(r.p_value, 5),
                 "coverage_gap": r.period in self.gaps,
                 "failing_sources": self.gaps[r.period].failing_sources
                 if r.period in self.gaps else []}
                for r in self.rows]


def period_sql(expr: str, by: str, dialect: str) -> str:
    if by == "week":
        return iso_week_sql(expr, dialect)
    if dialect == "postgresql":
        return f"to_char({expr}, 'YYYY-MM')"
    return f"strftime('%Y-%m', {expr})"


def period_of(day: date, by: str) -> str:
    if by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def period_span(label: str) -> tuple[date, date]:
    """The first day of a period (`2026-W19` or `2026-05`) and the first day after it."""
    if "-W" in label:
        year, week = label.split("-W")
        start = date.fromisocalendar(int(year), int(week), 1)
        return start, start + timedelta(days=7)
    first, month = (int(part) for part in label.split("-"))
    return date(first, month, 1), date(first + month // 12, month % 12 + 1, 1)


def periods_between(first: date, last: date, by: str) -> list[str]:
    out: list[str] = []
    day = first
    while day <= last:
        label = period_of(day, by)
        if not out or out[-1] != label:
            out.append(label)
        day += timedelta(days=1)
    return out


def _counts(session: Session, by: str, since: datetime | None, until: datetime | None,
            source: str | None) -> tuple[dict[tuple[str, str], int], dict[str, int],
                                         date | None, date | None]:
    dialect = session.get_bind().dialect.name
    dated = func.coalesce(Article.published_at, Article.first_seen_at)
    period: ColumnClause[str] = literal_column(
        period_sql("COALESCE(articles.published_at, articles.first_seen_at)", by, dialect))
    relevance = aliased(ArticleTheme)
    theme = aliased(ArticleTheme)
    base = (select(Article.id)
            .join(relevance, (relevance.article_id == Article.id)
                  & (relevance.theme == RELEVANCE) & relevance.assigned.is_(True))
            .where(Article.duplicate_of.is_(None)))
    if since is not None:
        base = base.where(dated >= since)
    if until is not None:
        base = base.where(dated < until)
    if source is not None:
        base = base.join(Source, Source.id == Article.source_id).where(Source.name == source)
    totals_stmt = base.with_only_columns(period.label("p"), func.count()).group_by(text("p"))
    totals = {str(p): int(n) for p, n in session.execute(totals_stmt)}
    theme_stmt = (base.join(theme, (theme.article_id == Article.id)
                            & theme.theme.in_(THEMES) & theme.assigned.is_(True))
                  .with_only_columns(period.label("p"), theme.theme, func.count())
                  .group_by(text("p"), theme.theme))
    counts = {(str(p), str(t)): int(n) for p, t, n in session.execute(theme_stmt)}
    span = session.execute(base.with_only_columns(func.min(dated), func.max(dated))).one()
    first = span[0].date() if span[0] else None
    last = span[1].date() if span[1] else None
    return counts, totals, first, last


def _counts_from_rollup(session: Session, by: str, since: datetime | None,
                        until: datetime | None
                        ) -> tuple[dict[tuple[str, str], int], dict[str, int], date | None,
                                   date | None]:
    """The same counts from `theme_daily` (a few thousand rows instead of every article)."""
    stmt = select(ThemeDaily.day, ThemeDaily.theme, ThemeDaily.articles)
    if since is not None:
        stmt = stmt.where(ThemeDaily.day >= since.date().isoformat())
    if until is not None:
        stmt = stmt.where(ThemeDaily.day < until.date().isoformat())
    counts: dict[tuple[str, str], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    labels: dict[str, str] = {}  # each day's period, computed once (a day has a row per theme)
    days: list[str] = []
    for day_label, theme, n in session.execute(stmt):
        label = labels.get(day_label)
        if label is None:
            label = labels[day_label] = period_of(date.fromisoformat(day_label), by)
        if theme == ALL:
            totals[label] += n
            days.append(day_label)
        else:
            counts[(label, theme)] += n
    first = date.fromisoformat(min(days)) if days else None   # ISO dates sort as strings
    last = date.fromisoformat(max(days)) if days else None
    return dict(counts), dict(totals), first, last


def _day_aligned(moment: datetime | None) -> bool:
    return moment is None or (moment.hour, moment.minute, moment.second,
                              moment.microsecond) == (0, 0, 0, 0)


def coverage_gaps(session: Session, by: str, periods: list[str]) -> dict[str, CoverageGap]:
    """Periods in which some sources failed every fetch attempt."""
    dialect = session.get_bind().dialect.name
    period: ColumnClause[str] = literal_column(period_sql("fetch_log.started_at", by, dialect))
    ok = func.sum(case((FetchLog.error.is_(None), 1), else_=0))
    rows = session.execute(
        select(period.label("p"), Source.name, ok.label("ok"), func.count().label("tries"))
        .join(Source, Source.id == FetchLog.source_id)
        .group_by(text("p"), Source.name))
    failing: dict[str, list[str]] = defaultdict(list)
    wanted = set(periods)
    for p, name, successes, _tries in rows:
        if str(p) in wanted and not successes:
            failing[str(p)].append(str(name))
    return {p: CoverageGap(p, sorted(names)) for p, names in failing.items()}


def build_timeline(session: Session, *, themes: list[str] | None = None, by: str = "week",
                   since: datetime | None = None, until: datetime | None = None,
                   source: str | None = None) -> Timeline:
    if by not in ("week", "month"):
        raise ValueError(f"by must be week or month, not {by!r}")
    chosen = list(themes or THEMES)
    if source is None and _day_aligned(since) and _day_aligned(until):
        counts, totals, first, last = _counts_from_rollup(session, by, since, until)
    else:
        counts, totals, first, last = _counts(session, by, since, until, source)
    start = since.date() if since else first
    end = (until - timedelta(microseconds=1)).date() if until else (last or first)
    if start is None or end is None:
        return Timeline(by, chosen, [], [])
    periods = periods_between(start, min(end, datetime.now(UTC).date()) if not until else end,
                              by)
    rows: list[TimelineRow] = []
    for theme in chosen:
        series = np.array([counts.get((p, theme), 0) for p in periods], dtype=float)
        # trailing mean of up to BASELINE_PERIODS earlier periods, for all periods at once
        sums = np.concatenate([[0.0], np.cumsum(series)])
        index = np.arange(len(series))
        lows = np.maximum(0, index - BASELINE_PERIODS)
        sizes = index - lows
        means = np.divide(sums[index] - sums[lows], sizes, out=np.zeros(len(series)),
                          where=sizes > 0)
        p_values = poisson.sf(series - 1, np.maximum(means, 0.5))
        for i, p in enumerate(periods):
            n = int(series[i])
            mean = float(means[i]) if sizes[i] else None
            p_value = spike = None
            if mean is not None and sizes[i] >= MIN_HISTORY:
                p_value = float(p_values[i])
                spike = n >= SPIKE_MIN_ARTICLES and n > mean and p_value < SPIKE_P
            total = totals.get(p, 0)
            rows.append(TimelineRow(p, theme, n, total, n / total if total else 0.0,
                                    n - int(series[i - 1]) if i else None, mean, p_value,
                                    bool(spike)))
    return Timeline(by, chosen, periods, rows, coverage_gaps(session, by, periods))
