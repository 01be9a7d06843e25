"""The weekly theme-trend digest: ISO-week dates, `build_digest` gathers the data (SQL),
`store_digest` keeps it; `reports.render` writes it as Markdown and HTML.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlalchemy import Integer, select
from sqlalchemy.orm import Session, aliased

from common.text import common_words
from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, Digest, Source
from db.queries import bound_list, dated_between, in_bound_list
from reports.narratives import words
from reports.plot import timeline_chart
from reports.render import digest_html, digest_markdown
from reports.timeline import Timeline, TimelineRow, build_timeline, period_of

WEEKS_SHOWN = 12
TOP_ARTICLES = 5
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")



def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Monday 00:00 UTC of an ISO week (`2026-W19`) and of the week after."""
    match = _WEEK.match(week)
    if not match:
        raise ValueError(f"week must look like 2026-W19, not {week!r}")
    monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return start, start + timedelta(days=7)


def last_complete_week(now: datetime) -> str:
    return period_of((now - timedelta(days=7)).date(), "week")


@dataclass
class DigestArticle:
    id: int
    title: str
    source: str
    url: str
    score: float
    evidence: list[str]


@dataclass
class ThemeSummary:
    theme: str
    row: TimelineRow
    top: list[DigestArticle]
    new_terms: list[str]


@dataclass
class DigestData:
    week: str
    themes: list[ThemeSummary]
    timeline: Timeline
    new_sources: list[str]
    related_chains: list[tuple[str, str, str]] = field(default_factory=list)  # parent, child, url
    failing_sources: list[str] = field(default_factory=list)
    chart_png: bytes = b""


def _terms(texts: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for value in texts:
        counts.update(set(words(value)))  # document frequency: one count per article
    return counts


class _Row(Protocol):
    """What the digest reads of an article (a row of `_ARTICLE_COLUMNS`)."""

    id: int
    title: str | None
    canonical_url: str
    source_id: int | None
    text: str | None
    summary: str | None


_ARTICLE_COLUMNS = (Article.id, Article.title, Article.canonical_url, Article.source_id,
                    Article.text, Article.summary)


def _tagged_in(session: Session, start: datetime, end: datetime
               ) -> dict[str, list[tuple[_Row, float]]]:
    """Per theme, the China-AI articles dated in [start, end) that carry it, with its score,
    best first (ties by id), near-duplicates left out.

    The window's articles are found by date first (the date indexes, `dated_between`), then
    their tags by primary key (`article_id IN …` and `assigned`: with the theme in the
    condition too, SQLite walks the (theme, assigned) index over every article ever tagged),
    the ids bound as one list (`in_bound_list`: in batches of 5,000 placeholders, rendering
    and parsing the statements took half of the digest's time on PostgreSQL).
    Joined from the tags, the query did the same, once per theme and window (issue 18: the
    digest took 5.2 s at 1M articles on SQLite, 5.4 s on PostgreSQL).
    """
    dialect = session.connection().dialect.name
    ids = list(session.scalars(select(Article.id).where(Article.duplicate_of.is_(None),
                                                        dated_between(start, end))))
    tags: dict[int, dict[str, float]] = {}
    for article_id, theme, score in session.execute(
            select(ArticleTheme.article_id, ArticleTheme.theme, ArticleTheme.score)
            .where(in_bound_list(ArticleTheme.article_id, "ids", dialect, Integer()),
                   ArticleTheme.assigned), {"ids": bound_list(dialect, ids)}):
        tags.setdefault(article_id, {})[theme] = score
    relevant = [i for i in ids if RELEVANCE in tags.get(i, {})]
    rows: dict[int, _Row] = {row.id: row for row in session.execute(
        select(*_ARTICLE_COLUMNS).where(in_bound_list(Article.id, "ids", dialect, Integer())),
        {"ids": bound_list(dialect, relevant)})}
    by_theme: dict[str, list[tuple[_Row, float]]] = {t: [] for t in THEMES}
    for article_id in relevant:
        for theme, score in tags[article_id].items():
            if theme in by_theme:
                by_theme[theme].append((rows[article_id], score))
    for found in by_theme.values():
        found.sort(key=lambda pair: (-pair[1], pair[0].id))
    return by_theme


def _evidence(session: Session, article_ids: list[int]) -> dict[tuple[int, str], list[str]]:
    """(article, theme) → the sentences behind the tag (by primary key, as above)."""
    return {(article_id, theme): list(evidence or []) for article_id, theme, evidence in
            session.execute(select(ArticleTheme.article_id, ArticleTheme.theme,
                                   ArticleTheme.evidence)
                            .where(ArticleTheme.article_id.in_(article_ids)))}


def build_digest(session: Session, week: str) -> DigestData:
    start, end = week_bounds(week)
    history_start = start - timedelta(weeks=WEEKS_SHOWN - 1)
    timeline = build_timeline(session, since=history_start, until=end)
    names = dict(session.execute(select(Source.id, Source.name)).all())
    summaries = []
    this, before = _tagged_in(session, start, end), _tagged_in(
        session, start - timedelta(weeks=4), start)
    weeks = {theme: (this[theme], before[theme]) for theme in THEMES}
    # "New" is new to the coverage, not to one theme: a word the talent stories used last
    # month is not news when a chips story uses it now (nor is an everyday word such as
    # "using" that a thin theme happened not to contain).
    earlier = {a.id: a for _, before in weeks.values() for a, _ in before}
    everyday = common_words()  # "including", "nearly": never news, however thin the history
    old_terms = _terms([f"{a.title} {a.text or a.summary or ''}"
                        for _, a in sorted(earlier.items())])
    for theme in THEMES:
        row = next((r for r in timeline.rows if r.theme == theme and r.period == week), None)
        if row is None:
            row = TimelineRow(week, theme, 0, 0, 0.0, None, None, None, False)
        this_week = weeks[theme][0]
        now_terms = _terms([f"{a.title} {a.text or a.summary or ''}" for a, _ in this_week])
        # ties broken by the term: Counter keeps insertion order, and that came from a set
        # (string hashing differs per process), so the list changed from run to run
        ranked = sorted(now_terms.items(), key=lambda kv: (-kv[1], kv[0]))
        new_terms = [t for t, n in ranked
                     if n >= 2 and old_terms[t] == 0 and t not in everyday][:8]
        shown = this_week[:TOP_ARTICLES]
        evidence = _evidence(session, [a.id for a, _ in shown])
        top = [DigestArticle(a.id, a.title or a.canonical_url,
                             names.get(a.source_id, "") if a.source_id else "",
                             a.canonical_url, score, evidence.get((a.id, theme), [])[:5])
               for a, score in shown]
        summaries.append(ThemeSummary(theme, row, top, new_terms))
    new_sources = sorted(str(n) for n in session.scalars(
        select(Source.name).where(Source.created_at >= start, Source.created_at < end)))
    parent = aliased(Article)
    chains = [(p.title or p.canonical_url, c.title or c.canonical_url, c.canonical_url)
              for c, p in session.execute(
                  select(Article, parent).join(parent, parent.id == Article.parent_article_id)
                  .where(Article.discovered_via == "related", dated_between(start, end))
                  .order_by(Article.id).limit(10)).all()]
    gap = timeline.gaps.get(week)
    return DigestData(week, summaries, timeline, new_sources, chains,
                      gap.failing_sources if gap else [], timeline_chart(timeline))


def store_digest(session: Session, data: DigestData) -> datetime | None:
    """Save (or replace) the digest of `data.week`; when the one it replaced was written."""
    row = session.scalars(select(Digest).where(Digest.week == data.week)).one_or_none()
    replaced = None if row is None else row.created_at
    if row is None:
        row = Digest(week=data.week, markdown="", html="")
        session.add(row)
    row.markdown, row.html = digest_markdown(data), digest_html(data)
    row.created_at = datetime.now(UTC)
    session.flush()
    return replaced
