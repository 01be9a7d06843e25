"""SQL views for analysts, written once per dialect (SQLite and PostgreSQL).

Views are created by migrations; each migration that changes a view calls the versioned
function it was written against, so old migrations keep producing the same SQL.
"""

from __future__ import annotations

from common.vocabulary import RELEVANCE, THEMES


def iso_week_sql(expr: str, dialect: str) -> str:
    """SQL for the ISO week (`YYYY-Www`) of a timestamp expression.

    SQLite before 3.46 has no `%G`/`%V`, so the week is derived from the Thursday of the
    date's ISO week (ISO 8601: week 1 is the week holding the year's first Thursday).
    """
    if dialect == "postgresql":
        return f"(to_char({expr}, 'IYYY') || '-W' || to_char({expr}, 'IW'))"
    thursday = (f"date({expr}, '-' || ((CAST(strftime('%w', {expr}) AS INTEGER) + 6) % 7) "
                f"|| ' days', '+3 days')")
    return (f"(strftime('%Y', {thursday}) || '-W' || "
            f"printf('%02d', (CAST(strftime('%j', {thursday}) AS INTEGER) - 1) / 7 + 1))")


def theme_weekly_v1(dialect: str) -> str:
    """`theme_weekly`: per ISO week and theme, China-AI articles tagged with it and its share.

    Counts one row per article (near-duplicates excluded), dated by `published_at`, else
    `first_seen_at`; share is the fraction of that week's China-AI articles.
    """
    week = iso_week_sql("COALESCE(a.published_at, a.first_seen_at)", dialect)
    themes = ", ".join(f"'{t}'" for t in THEMES)
    return f"""
CREATE VIEW theme_weekly AS
WITH counted AS (
    SELECT a.id AS article_id, {week} AS week
    FROM articles a
    JOIN article_themes r
      ON r.article_id = a.id AND r.theme = '{RELEVANCE}' AND r.assigned
    WHERE a.duplicate_of IS NULL
),
totals AS (
    SELECT week, COUNT(*) AS total FROM counted GROUP BY week
)
SELECT c.week AS week,
       t.theme AS theme,
       COUNT(*) AS articles,
       CAST(COUNT(*) AS DOUBLE PRECISION) / totals.total AS share
FROM counted c
JOIN article_themes t
  ON t.article_id = c.article_id AND t.theme IN ({themes}) AND t.assigned
JOIN totals ON totals.week = c.week
GROUP BY c.week, t.theme, totals.total
"""
