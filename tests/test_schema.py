"""Schema: models round-trip; migrations go up, down, up with no drift; ISO weeks in SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from db import migrate
from db.models import (
    Article,
    ArticleLink,
    ArticleTheme,
    FetchLog,
    Label,
    ModelVersion,
    Source,
)
from db.session import make_engine, session_scope
from db.views import iso_week_sql

EXPECTED_TABLES = {"sources", "articles", "article_links", "article_themes", "labels",
                   "model_versions", "fetch_log", "deliveries"}


def test_every_model_round_trips(engine: Engine) -> None:
    when = datetime(2026, 5, 12, 9, 30, tzinfo=UTC)
    with session_scope(engine) as s:
        src = Source(name="abmedia", kind="feed", url="https://abmedia.io/feed", tags=["zh", "tw"],
                     etag='"abc"', next_fetch_at=when, interval_seconds=900, failure_score=0.5)
        s.add(src)
        s.flush()
        parent = Article(source_id=src.id, url="https://abmedia.io/a?utm_source=x",
                         canonical_url="https://abmedia.io/a", title="芯片 chips",
                         text="正文", published_at=when, content_hash="h" * 64,
                         simhash=-(2**63), discovered_via="feed")
        s.add(parent)
        s.flush()
        child = Article(source_id=src.id, url="https://abmedia.io/b", canonical_url=
                        "https://abmedia.io/b", discovered_via="related", depth=1,
                        parent_article_id=parent.id, duplicate_of=parent.id)
        s.add(child)
        s.flush()
        s.add(ArticleLink(from_article_id=parent.id, url="https://abmedia.io/b",
                          anchor_text="DeepSeek raises", kind="related", position=3,
                          to_article_id=child.id, followed=True))
        s.add(ArticleTheme(article_id=parent.id, theme="chips", score=0.91, assigned=True,
                           model_version="m1", evidence=["export controls"]))
        s.add(Label(article_id=parent.id, theme="talent", value=False, author="ana"))
        s.add(ModelVersion(version="m1", params={"C": 1.0}, metrics={"macro_f1": 0.9},
                           is_current=True))
        s.add(FetchLog(source_id=src.id, url=src.url, outcome="ok", http_status=200,
                       bytes=1234, new_articles=2, duration_ms=80))

    with session_scope(engine) as s:
        src = s.scalars(select(Source)).one()
        assert src.tags == ["zh", "tw"]
        assert src.next_fetch_at == when and src.next_fetch_at.tzinfo is not None
        parent = s.scalars(select(Article).where(Article.depth == 0)).one()
        assert parent.title == "芯片 chips" and parent.simhash == -(2**63)
        assert parent.published_at == when
        assert parent.links[0].anchor_text == "DeepSeek raises"
        assert parent.themes[0].evidence == ["export controls"]
        child = s.scalars(select(Article).where(Article.depth == 1)).one()
        assert (child.parent_article_id, child.duplicate_of) == (parent.id, parent.id)
        assert s.scalars(select(Label)).one().value is False
        assert s.scalars(select(ModelVersion)).one().metrics == {"macro_f1": 0.9}
        assert s.scalars(select(FetchLog)).one().bytes == 1234


def test_canonical_url_is_unique(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(Article(url="u1", canonical_url="https://x.test/a"))
        s.add(Article(url="u2", canonical_url="https://x.test/a"))


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as s:
        s.add(Article(url="u", canonical_url="c", published_at=datetime(2026, 1, 1)))
        s.flush()


def test_migrations_up_down_up_without_drift(db_url: str) -> None:
    eng = make_engine(db_url)
    migrate.upgrade(eng)
    assert migrate.current_revision(eng) == migrate.head_revision()
    assert migrate.schema_drift(eng) == []
    names = set(inspect(eng).get_table_names())
    assert EXPECTED_TABLES <= names
    assert "theme_weekly" in inspect(eng).get_view_names()
    migrate.downgrade(eng, "base")
    assert migrate.current_revision(eng) is None
    assert not EXPECTED_TABLES & set(inspect(eng).get_table_names())
    assert "theme_weekly" not in inspect(eng).get_view_names()
    migrate.upgrade(eng)
    assert migrate.schema_drift(eng) == []
    eng.dispose()


def test_indexes_for_reports_and_scheduler(engine: Engine) -> None:
    insp = inspect(engine)

    def indexed(table: str) -> set[str]:
        return {col for ix in insp.get_indexes(table) for col in ix["column_names"]}

    assert "published_at" in indexed("articles")
    assert "theme" in indexed("article_themes")
    assert "next_fetch_at" in indexed("sources")


@settings(max_examples=60, deadline=None)
@given(day=st.dates(min_value=date(1999, 1, 1), max_value=date(2040, 12, 31)))
def test_iso_week_sql_matches_python_sqlite(day: date) -> None:
    eng = make_engine("sqlite://")
    _check_iso_week(eng, day)


def _check_iso_week(eng: Engine, day: date) -> None:
    stamp = datetime(day.year, day.month, day.day, 23, 59, 59)
    year, week, _ = day.isocalendar()
    expr = iso_week_sql(":stamp", eng.dialect.name)
    with eng.connect() as conn:
        got = conn.execute(text(f"SELECT {expr}"), {"stamp": stamp}).scalar_one()
    assert got == f"{year}-W{week:02d}"


def test_iso_week_sql_matches_python_on_year_edges(db_url: str) -> None:
    eng = make_engine(db_url)
    start = date(2020, 12, 20)
    edges = [start + timedelta(days=i) for i in range(20)]
    edges += [date(y, 1, d) for y in range(2021, 2030) for d in (1, 2, 3, 4)]
    edges += [date(y, 12, d) for y in range(2021, 2030) for d in (28, 29, 30, 31)]
    for day in edges:
        _check_iso_week(eng, day)
    eng.dispose()


@pytest.mark.postgres
def test_postgresql_plans_each_statement_for_its_parameters(pg_url: str) -> None:
    """Set on every connection, beside what the URL asks for (here its search_path)."""
    engine = make_engine(pg_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW plan_cache_mode")).scalar() == \
                "force_custom_plan"
            assert connection.execute(text("SHOW search_path")).scalar() == \
                pg_url.rsplit("%3D", 1)[1]
            connection.rollback()
            # still set once the pool hands the connection out again
        with engine.connect() as connection:
            assert connection.execute(text("SHOW plan_cache_mode")).scalar() == \
                "force_custom_plan"
    finally:
        engine.dispose()
