"""Storing a source's articles in one batch: duplicates by URL, by text and near-duplicates
inside the batch itself, one INSERT for all of them, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from collectors.dedup import NearDuplicateIndex, fingerprint
from collectors.store import NewArticle, known_articles, store_articles
from db.models import Article, ArticleLink
from tests.pages import seed_paragraphs

NOW = datetime(2026, 5, 4, tzinfo=UTC)


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


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
    with recorded_statements(engine) as statements, sessions() as s:
        result = store_articles(s, items, NearDuplicateIndex(), NOW)
        s.commit()
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


def test_a_pass_lookup_is_reused_and_a_later_store_still_conflicts(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    """Storing with the entries' lookup (`known_articles`) asks no SELECT when the lookup
    covered every URL and hash; an article stored since the lookup (another worker) meets the
    conflict clause and counts as a duplicate, never a second row."""
    text = "Huawei ships Ascend accelerators to Chinese labs under export controls. " * 20
    items = [article("https://e.example/1", text)]
    prints = [fingerprint(text)]
    with sessions() as s:
        lookup = known_articles(s, [i.canonical_url for i in items],
                                [p.content_hash for p in prints if p.content_hash])
    assert lookup.by_url == {} and lookup.urls == {"https://e.example/1"}
    with sessions() as s:  # another worker stores the same URL after the lookup
        s.add(Article(url="https://e.example/1", canonical_url="https://e.example/1",
                      first_seen_at=NOW, text="another copy " * 30))
        s.commit()
    with recorded_statements(engine) as statements, sessions() as s:
        result = store_articles(s, [article("https://e.example/1", text)],
                                NearDuplicateIndex(), NOW, lookup)
        s.commit()
    assert not any(st.lstrip().upper().startswith("SELECT") for st in statements)
    assert result.new_ids == [] and result.duplicates == 1
    with sessions() as s:
        assert len(list(s.scalars(select(Article)))) == 1


def test_one_lookup_answers_for_any_number_of_urls_and_hashes(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    """`known_articles` binds its URLs and hashes as one value each (issue 18): one SELECT of
    the same text for 3 or 1,500 of them (where an IN list was rendered per call and cut at
    500), finding stored articles by URL, by hash (the earliest of two with the same text) and
    URLs with quotes and non-ASCII characters."""
    odd = ["https://e.example/it's", 'https://e.example/"q"', "https://e.example/华为?a=1&b=2"]
    with sessions() as s:
        for i, url in enumerate(odd + [f"https://e.example/{i}" for i in range(1500)]):
            s.add(Article(url=url, canonical_url=url, first_seen_at=NOW,
                          content_hash=f"{i % 700:064x}"))
        s.commit()
    wanted = odd + [f"https://e.example/{i}" for i in range(0, 3000, 2)]
    digests = [f"{i:064x}" for i in range(650, 750)]
    with recorded_statements(engine) as statements, sessions() as s:
        known = known_articles(s, wanted, digests)
        small = known_articles(s, odd, [])
    with sessions() as s:
        ids = dict(s.execute(select(Article.canonical_url, Article.id)).all())
        by_hash: dict[str, int] = {}
        for digest, article_id in s.execute(select(Article.content_hash, Article.id)):
            by_hash[digest] = min(article_id, by_hash.get(digest, article_id))
    assert len(statements) == 2 and statements[0] == statements[1]
    assert known.by_url == {url: ids[url] for url in wanted if url in ids}
    assert len(known.by_url) == 3 + 750 and small.by_url == {url: ids[url] for url in odd}
    asked = {d: i for d, i in known.by_hash.items() if d in digests}  # (a URL's row's too)
    assert asked == {d: by_hash[d] for d in digests if d in by_hash} and len(asked) == 50


def test_a_list_another_page_of_the_site_showed_is_stored_skipped(
        sessions: sessionmaker[Session]) -> None:
    """A block whose links another article of the same site already listed is a site-wide list
    (latest, most-read): stored with a skip reason, so it is never followed. A related list of
    another article of the same story (four of five links shared) and the same list on another
    site are followed as usual."""
    from collectors.pages import RelatedLink
    from collectors.store import store_links

    def links(block: str, urls: list[str]) -> list[RelatedLink]:
        return [RelatedLink(url, f"Headline {i}", block, i) for i, url in enumerate(urls)]

    latest = [f"https://news.example/2026/05/latest-{i}" for i in range(5)]
    story = [f"https://news.example/2026/05/story-{i}" for i in range(6)]
    pages = {"https://news.example/2026/05/a": links("Latest", latest) + links(
                 "Related", story[:5]),
             "https://news.example/2026/05/b": links("Latest news", latest[::-1]) + links(
                 "Related", story[1:6]),
             "https://other.example/2026/05/c": links("Latest", latest)}
    ids = {}
    with sessions() as s:
        for url, found in pages.items():
            row = Article(url=url, canonical_url=url, first_seen_at=NOW, text="text " * 50)
            s.add(row)
            s.flush()
            ids[url] = row.id
            store_links(s, row.id, found)
            store_links(s, row.id, found)  # a re-run adds nothing
        s.commit()
    with sessions() as s:
        rows = s.scalars(select(ArticleLink).order_by(ArticleLink.id)).all()
    reasons = {(r.from_article_id, r.url): r.skip_reason for r in rows}
    assert len(rows) == 5 + 5 + 5 + 5 + 5
    first = ids["https://news.example/2026/05/a"]
    second = ids["https://news.example/2026/05/b"]
    assert {reasons[second, url] for url in latest} == {f"site-wide list: also on article {first}"}
    assert all(reasons[second, url] is None for url in story[1:6])
    assert all(reasons[first, url] is None for url in latest + story[:5])
    assert all(reasons[ids["https://other.example/2026/05/c"], url] is None for url in latest)
