"""The search index off the insert path (migration 0010, issue 18): an article stored by a
pass, by a lone insert or by a pass that was cut short is found by search at once; deleted
and re-used ids, and the migration both ways, leave the index exactly the stored articles."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cli import app
from collectors.dedup import NearDuplicateIndex
from collectors.sources import SourceSpec
from collectors.store import NewArticle, add_sources, store_articles
from collectors.update import collect
from config import Settings
from db import migrate
from db.models import Article
from db.session import make_engine, session_scope
from reports.search import search
from tests.server import LoopbackServer, Reply
from tests.test_reports import MONDAY
from tests.test_update import rss

runner = CliRunner()


def indexed(engine: Engine) -> tuple[set[int], set[int]]:
    """(ids in articles_fts, ids queued) on SQLite."""
    with engine.connect() as conn:
        return (set(conn.scalars(text("SELECT rowid FROM articles_fts"))),
                set(conn.scalars(text("SELECT id FROM articles_fts_pending"))))


def article(n: int, title: str) -> NewArticle:
    url = f"https://idx.example/{n}"
    return NewArticle(url, url, title, None, f"Body {n} of the story.", None, None, MONDAY,
                      None)


def store(engine: Engine, *items: NewArticle) -> list[int]:
    with session_scope(engine) as s:
        return store_articles(s, list(items), NearDuplicateIndex(), MONDAY).new_ids


def test_a_pass_leaves_what_it_stored_indexed(server: LoopbackServer, settings: Settings,
                                              engine: Engine,
                                              sessions: sessionmaker[Session]) -> None:
    server.routes["/a"] = Reply(200, rss([("Zhipu GLM release", "https://a.example/1", "d"),
                                          ("智谱发布新模型", "https://a.example/2", "智谱公司")]),
                                content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec("a", server.url("/a"))], 3600)
        s.commit()
    collect(sessions, settings, due_only=False, seed=1)
    with sessions() as s:
        ids = set(s.scalars(select(Article.id)))
    assert len(ids) == 2
    if engine.dialect.name == "sqlite":  # in the index at the pass's end, none left queued
        assert indexed(engine) == (ids, set())
    with session_scope(engine) as s:
        assert len(search(s, "Zhipu")) == 1
        assert len(search(s, "智谱")) == 1


def test_an_article_stored_outside_a_pass_is_found_at_once(engine: Engine, db_url: str,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Stored and committed with no pass ending after it (another writer's insert, a pass
    still running or killed): `cait search` and the library's search both find it."""
    first = store(engine, article(1, "Moonshot Kimi paper"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = runner.invoke(app, ["search", "Moonshot", "--json"])
    assert result.exit_code == 0, result.output
    assert [hit["id"] for hit in json.loads(result.output)] == first
    second = store(engine, article(2, "Moonshot Kimi model"))
    with session_scope(engine) as s:
        assert {h.id for h in search(s, "Kimi")} == set(first + second)
    if engine.dialect.name == "sqlite":
        assert indexed(engine) == (set(first + second), set())


def test_a_search_with_nothing_queued_writes_nothing(engine: Engine) -> None:
    """The common case takes no write lock: a search beside a busy writer is not held up."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the queue is SQLite's")
    store(engine, article(1, "Baichuan"))
    with session_scope(engine) as s:
        search(s, "Baichuan")
    with session_scope(engine) as s:
        s.connection().exec_driver_sql("SELECT 1")
        search(s, "Baichuan")
        assert not s.connection().connection.dbapi_connection.in_transaction  # type: ignore[union-attr]


def test_deleted_and_reused_ids(engine: Engine) -> None:
    """SQLite gives a deleted highest id to the next row: the queue (not a watermark on the
    highest indexed id) indexes that row, and a deleted article leaves the index."""
    if engine.dialect.name != "sqlite":
        pytest.skip("rowid reuse and the queue are SQLite's")
    [kept] = store(engine, article(1, "Kept story"))
    [gone] = store(engine, article(2, "Deleted story"))
    with session_scope(engine) as s:
        search(s, "story")  # both indexed
        s.execute(delete(Article).where(Article.id == gone))
    [queued_then_gone] = store(engine, article(3, "Queued then deleted"))
    assert queued_then_gone == gone  # the id is given again
    with session_scope(engine) as s:
        s.execute(delete(Article).where(Article.id == queued_then_gone))
    [reused] = store(engine, article(4, "Reused identifier"))
    assert reused == gone
    with session_scope(engine) as s:
        assert [h.id for h in search(s, "Reused")] == [reused]
        assert [h.id for h in search(s, "Kept")] == [kept]
        assert search(s, "Deleted") == [] and search(s, "Queued") == []
    assert indexed(engine) == ({kept, reused}, set())


def test_an_update_of_a_queued_article_is_indexed_as_it_now_reads(engine: Engine) -> None:
    [article_id] = store(engine, article(1, "Old headline"))
    with session_scope(engine) as s:
        s.execute(text("UPDATE articles SET title = 'New headline' WHERE id = :i"),
                  {"i": article_id})
    with session_scope(engine) as s:
        assert [h.id for h in search(s, "New")] == [article_id]
        assert search(s, "Old") == []


def test_migration_0010_both_ways_keeps_every_article_searchable(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(engine, "0009")
        before = store(engine, article(1, "Indexed by the old trigger"))
        migrate.upgrade(engine)
        queued = store(engine, article(2, "Queued by the new trigger"))
        assert indexed(engine) == (set(before), set(queued))
        migrate.downgrade(engine, "0009")  # indexes the queue, brings the insert trigger back
        after = store(engine, article(3, "Indexed again by the old trigger"))
        with engine.connect() as conn:
            assert set(conn.scalars(text("SELECT rowid FROM articles_fts"))) == set(
                before + queued + after)
        migrate.upgrade(engine)
        with session_scope(engine) as s:
            assert len(search(s, "trigger")) == 3
            assert s.scalar(select(func.count()).select_from(Article)) == 3
    finally:
        engine.dispose()


def test_a_read_only_database_is_searched_without_an_error(sqlite_url: str) -> None:
    """Opened read-only (`mode=ro`, as for a read-only file), search cannot index the queue:
    it answers from what is indexed and leaves the queue for the next writer."""
    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(engine)
        [indexed_one] = store(engine, article(1, "Indexed story"))
        with session_scope(engine) as s:
            search(s, "story")
        [queued] = store(engine, article(2, "Queued story"))
    finally:
        engine.dispose()
    database = sqlite_url.removeprefix("sqlite:///")
    read_only = make_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    try:
        with session_scope(read_only) as s:
            assert [h.id for h in search(s, "story")] == [indexed_one]
    finally:
        read_only.dispose()
    engine = make_engine(sqlite_url)
    try:
        with session_scope(engine) as s:  # a writer indexes it
            assert {h.id for h in search(s, "story")} == {indexed_one, queued}
    finally:
        engine.dispose()


def test_writers_and_searchers_at_once_miss_nothing(sqlite_url: str) -> None:
    """Two writers store articles one transaction at a time while searches index the queue
    (several workers, `cait collect` and the dashboard on one SQLite file): every article
    committed before a search starts is in its results, and at the end the index holds
    every article once."""
    import threading

    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(engine)
        errors: list[BaseException] = []

        def write(first: int) -> None:
            try:
                for n in range(first, first + 60):
                    store(engine, article(n, f"Shared word story {n}"))
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        writers = [threading.Thread(target=write, args=(k * 1000,)) for k in range(2)]
        for thread in writers:
            thread.start()
        searches = 0
        while any(t.is_alive() for t in writers) or searches < 3:
            with engine.connect() as conn:
                committed = set(conn.scalars(select(Article.id)))
            with session_scope(engine) as s:
                hits = {h.id for h in search(s, "shared", limit=1000)}
            assert committed <= hits
            searches += 1
        for thread in writers:
            thread.join()
        assert not errors
        with session_scope(engine) as s:
            assert len(search(s, "shared", limit=1000)) == 120
        fts, queued = indexed(engine)
        assert len(fts) == 120 and not queued
    finally:
        engine.dispose()
