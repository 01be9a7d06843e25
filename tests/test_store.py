"""Storing a source's articles in one batch: duplicates by URL, by text and near-duplicates
inside the batch itself, one INSERT for all of them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from collectors.dedup import NearDuplicateIndex
from collectors.store import NewArticle, store_articles
from db.models import Article
from tests.pages import seed_paragraphs

NOW = datetime(2026, 5, 4, tzinfo=UTC)


def article(url: str, text: str) -> NewArticle:
    return NewArticle(url=url, canonical_url=url, title=url, summary=None, text=text,
                      language="en", author=None, published_at=None, source_id=None)


def test_one_batch_keeps_every_duplicate_rule(engine: Engine,
                                              sessions: sessionmaker[Session]) -> None:
    paragraphs, _ = seed_paragraphs()
    story = " ".join(" ".join(paragraphs).split()[:400])
    edited = story.replace(" the ", " a ", 1)  # a near-duplicate: a one-word edit
    other = "Export controls on HBM reach Chinese fabs. " * 40
    with sessions() as s:
        s.add(Article(url="https://a.example/old", canonical_url="https://a.example/old",
                      first_seen_at=NOW, text="an older story " * 50))
        s.commit()
    items = [article("https://a.example/1", story),
             article("https://a.example/1", story),            # the same URL twice
             article("https://b.example/copy", story),         # the same text elsewhere
             article("https://c.example/edited", edited),      # a near-duplicate of /1
             article("https://a.example/old", "changed text " * 50),  # stored already
             article("https://d.example/other", other)]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with sessions() as s:
            result = store_articles(s, items, NearDuplicateIndex(), NOW)
            s.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum(1 for st in statements if st.lstrip().upper().startswith("INSERT")) == 1
    with sessions() as s:
        rows = {a.canonical_url: a for a in s.scalars(select(Article))}
    assert set(rows) == {"https://a.example/old", "https://a.example/1",
                         "https://c.example/edited", "https://d.example/other"}
    first = rows["https://a.example/1"].id
    assert result.new_ids == [first, rows["https://c.example/edited"].id,
                              rows["https://d.example/other"].id]
    assert result.duplicates == 3
    assert rows["https://c.example/edited"].duplicate_of == first
    assert rows["https://d.example/other"].duplicate_of is None
    assert result.ids_by_canonical["https://b.example/copy"] == first
    assert result.ids_by_canonical["https://a.example/old"] == rows["https://a.example/old"].id
    # a second pass over the same items stores nothing and finds every one
    with sessions() as s:
        again = store_articles(s, items, NearDuplicateIndex(), NOW)
        s.commit()
    assert again.new_ids == [] and again.duplicates == len(items)
    assert again.ids_by_canonical["https://b.example/copy"] == first
