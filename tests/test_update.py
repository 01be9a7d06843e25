"""Collection passes end to end: real loopback server, real SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collectors.offload import Offload
from collectors.sources import SourceSpec
from collectors.store import add_sources
from collectors.update import collect
from config import Settings
from db.models import Article, ArticleLink, FetchLog, Source
from tests.conftest import CORPUS, DATA
from tests.pages import CHINESE_TEXT, article_page, seed_page, seed_paragraphs
from tests.server import LoopbackServer, Reply, gzip_bomb, hang, redirect

Sessions = sessionmaker[Session]


def add(sessions: Sessions, *specs: SourceSpec) -> None:
    with sessions() as s:
        add_sources(s, specs, 3600)
        s.commit()


def source(sessions: Sessions, name: str) -> Source:
    with sessions() as s:
        row = s.scalars(select(Source).where(Source.name == name)).one()
        s.expunge(row)
        return row


def count(sessions: Sessions, model: type) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture(params=[0, 1], ids=["in-process", "parser-process"])
def either_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The test runs with parsing and extraction in the pass's process and in a pool."""
    return replace(settings, parse_processes=request.param)


def rss(items: list[tuple[str, str, str]], ttl: int | None = None) -> bytes:
    body = "".join(f"<item><title>{t}</title><link>{link}</link><description>{d}"
                   f"</description></item>" for t, link, d in items)
    hint = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>T</title>{hint}{body}</channel></rss>").encode()


@pytest.mark.slow
def test_whole_corpus_then_a_second_run_of_304s(server: LoopbackServer, settings: Settings,
                                                sessions: Sessions) -> None:
    expected = json.loads((DATA / "feeds_expected.json").read_text())
    for name in expected:
        server.routes[f"/feeds/{name}"] = Reply(200, (CORPUS / "feeds" / name).read_bytes(),
                                                content_type="application/xml",
                                                etag=f'"{name}"')
    add(sessions, *(SourceSpec(name, server.url(f"/feeds/{name}")) for name in expected))
    first = collect(sessions, settings, due_only=False, seed=1)
    by_name = {r.name: r for r in first.sources}
    assert len(by_name) == 122
    for name, want in expected.items():
        got = by_name[name]
        if "error" in want:
            assert got.outcome == "failed" and got.error, name
            assert source(sessions, name).last_error
        else:
            assert got.outcome == "ok", (name, got.error)
            assert got.new_articles + got.duplicates == want["links"], name
    stored = count(sessions, Article)
    assert stored == first.summary()["new_articles"]
    with sessions() as s:
        assert s.scalar(select(func.count(func.distinct(Article.canonical_url)))) == stored
    assert count(sessions, FetchLog) == 122

    second = collect(sessions, settings, due_only=False, seed=1)
    summary = second.summary()
    assert summary["not_modified"] == 122 - sum("error" in w for w in expected.values())
    assert summary["new_articles"] == 0 and count(sessions, Article) == stored
    ok_names = [n for n, w in expected.items() if "error" not in w]
    assert all(server.hits(f"/feeds/{n}")[-1].headers.get("if-none-match") == f'"{n}"'
               for n in ok_names)


def test_bad_sources_are_recorded_and_the_good_one_still_collects(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    quick = Settings(**{**settings.__dict__, "total_timeout": 1.5, "read_timeout": 1.0})
    server.routes["/good"] = Reply(200, rss([("DeepSeek V4", "https://x.cn/1", "d")]),
                                   content_type="application/rss+xml")
    server.routes["/500"] = Reply(500, b"boom")
    server.routes["/429"] = Reply(429, b"", {"Retry-After": "7200"})
    server.routes["/loop"] = redirect("/loop")
    server.routes["/html"] = Reply(200, b"<html><body><p>Welcome</p></body></html>")
    server.routes["/bomb"] = gzip_bomb(200)
    server.routes["/hang"] = hang(5)
    server.routes["/gone"] = Reply(410, b"")
    bad = ["500", "429", "loop", "html", "bomb", "hang", "gone"]
    add(sessions, SourceSpec("good", server.url("/good")),
        SourceSpec("dead", "http://127.0.0.1:9/feed"),
        *(SourceSpec(name, server.url(f"/{name}")) for name in bad))
    before = datetime.now(UTC)
    report = collect(sessions, quick, due_only=False, seed=1)
    outcomes = {r.name: r for r in report.sources}
    assert outcomes["good"].outcome == "ok" and outcomes["good"].new_articles == 1
    reasons = {name: (outcomes[name].error or "").split(":")[0] for name in ["dead", *bad]}
    assert reasons == {"dead": "connection", "500": "http_error", "429": "rate_limited",
                       "loop": "too_many_redirects", "html": "not_a_feed",
                       "bomb": "too_large", "hang": "timeout", "gone": "gone"}
    for name in ["dead", *bad]:
        row = source(sessions, name)
        assert row.consecutive_failures == 1 and row.last_error
        assert row.next_fetch_at is not None and row.next_fetch_at > before
    assert source(sessions, "429").next_fetch_at >= before + timedelta(seconds=7200)
    assert source(sessions, "gone").disabled_reason.startswith("HTTP 410")  # type: ignore[union-attr]
    # due-only pass right away: nothing is due (backoff), the muted source never is
    assert collect(sessions, quick, due_only=True).sources == []


def test_unchanged_body_without_validators_counts_as_not_modified(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    server.routes["/f"] = Reply(200, rss([("a", "https://x.cn/a", "d")]),
                                content_type="application/xml")
    add(sessions, SourceSpec("f", server.url("/f")))
    assert collect(sessions, settings, due_only=False).summary()["fetched"] == 1
    again = collect(sessions, settings, due_only=False).summary()
    assert again["not_modified"] == 1 and again["new_articles"] == 0
    body = rss([("a", "https://x.cn/a", "d")])
    assert source(sessions, "f").last_content_hash == hashlib.sha256(body).hexdigest()
    # a changed body is parsed and its hash kept for the next pass (hashed once, issue 18)
    server.routes["/f"] = Reply(200, rss([("b", "https://x.cn/b", "d")]),
                                content_type="application/xml")
    assert collect(sessions, settings, due_only=False).summary()["new_articles"] == 1
    assert source(sessions, "f").last_content_hash == hashlib.sha256(
        rss([("b", "https://x.cn/b", "d")])).hexdigest()


def test_new_items_are_added_once_across_runs(server: LoopbackServer, settings: Settings,
                                              sessions: Sessions) -> None:
    items = [(f"t{i}", f"https://x.cn/{i}?utm_source=rss", "d") for i in range(3)]
    server.routes["/f"] = Reply(200, rss(items), content_type="application/xml")
    add(sessions, SourceSpec("f", server.url("/f")))
    collect(sessions, settings, due_only=False)
    items.append(("t3", "https://x.cn/3", "d"))
    items.append(("t0 again", "https://X.cn/0#comments", "d"))
    server.routes["/f"] = Reply(200, rss(items), content_type="application/xml")
    report = collect(sessions, settings, due_only=False)
    assert report.sources[0].new_articles == 1
    assert count(sessions, Article) == 4


def test_full_text_pages_and_a_gb2312_page_without_charset(
        server: LoopbackServer, either_settings: Settings, sessions: Sessions) -> None:
    page = article_page("中国人工智能实验室的观察", [CHINESE_TEXT] * 3, charset_meta=None,
                        lang="zh").replace("镕", "荣").replace("喆", "哲")
    server.routes["/a/1.html"] = Reply(200, page.encode("gb2312"), content_type="text/html")
    body, _ = seed_paragraphs()
    server.routes["/a/2.html"] = Reply(200, article_page("Lambert's tour", body).encode())
    server.routes["/f"] = Reply(200, rss([("t1", server.url("/a/1.html"), "summary one"),
                                          ("t2", server.url("/a/2.html"), "summary two"),
                                          ("t3", server.url("/a/missing"), "kept summary")]),
                                content_type="application/xml")
    add(sessions, SourceSpec("f", server.url("/f"), full_text=True))
    collect(sessions, either_settings, due_only=False)
    with sessions() as s:
        rows = {a.url.rsplit("/", 1)[-1]: a for a in s.scalars(select(Article))}
    assert "芯片和数据的差距是中美之间的关键区别" in (rows["1.html"].text or "")
    assert rows["1.html"].language == "zh"
    assert "research culture" in (rows["2.html"].text or "")
    assert rows["missing"].text is None and rows["missing"].summary == "kept summary"


def test_exact_and_near_duplicates(server: LoopbackServer, settings: Settings,
                                   sessions: Sessions) -> None:
    body, _ = seed_paragraphs()
    text = " ".join(body)
    edited = text.replace("Lambert believes", "Lambert thinks")
    server.routes["/f1"] = Reply(200, rss([("orig", "https://a.com/1", text)]),
                                 content_type="application/xml")
    server.routes["/f2"] = Reply(200, rss([("copy", "https://b.com/9", text),
                                           ("wire", "https://c.com/5", edited)]),
                                 content_type="application/xml")
    add(sessions, SourceSpec("f1", server.url("/f1")))
    collect(sessions, settings, due_only=False)
    add(sessions, SourceSpec("f2", server.url("/f2")))
    report = collect(sessions, settings, names=["f2"])
    assert report.sources[0].duplicates == 1 and report.sources[0].new_articles == 1
    with sessions() as s:
        original = s.scalars(select(Article).where(Article.url == "https://a.com/1")).one()
        wire = s.scalars(select(Article).where(Article.url == "https://c.com/5")).one()
        assert wire.duplicate_of == original.id
        assert s.scalars(select(Article).where(Article.url == "https://b.com/9")).first() is None


def _serve_seed(server: LoopbackServer, host_for: dict[int, str] | None = None) -> list[str]:
    _, titles = seed_paragraphs()
    hosts = host_for or {}
    links = {t: server.url(f"/news/{i}", host=hosts.get(i, "127.0.0.1"))
             for i, t in enumerate(titles)}
    server.routes["/seed"] = Reply(200, seed_page(links).encode())
    for i, title in enumerate(titles):
        server.routes[f"/news/{i}"] = Reply(200, article_page(
            title, [f"{title}. " * 12, "Chinese AI labs and Huawei chips were discussed. " * 8],
            related={"More DeepSeek news": f"/news/more-{i}",
                     "DeepSeek in depth": f"/news/more-{i}-b"}).encode())
    return titles


def test_an_image_only_related_link_is_stored_and_never_fetched(
        server: LoopbackServer, either_settings: Settings, sessions: Sessions) -> None:
    """A related card that is only a picture is one of the page's related links, but with
    no anchor text there is nothing for the relevance gate to read: stored, never fetched."""
    page = article_page("DeepSeek and Huawei chips", ["Chinese AI labs use Huawei chips. " * 20],
                        related={"DeepSeek trains on Huawei Ascend chips": "/news/ascend"})
    picture = '<li><a href="/news/picture"><img src="p.jpg" alt=""></a></li></ul>'
    server.routes["/page"] = Reply(200, page.replace("</ul>", picture, 1).encode())
    server.routes["/news/ascend"] = Reply(200, article_page(
        "DeepSeek trains on Huawei Ascend chips", ["Chinese AI chips. " * 30]).encode())
    add(sessions, SourceSpec("page", server.url("/page"), kind="page"))
    collect(sessions, either_settings, due_only=False)
    with sessions() as s:
        links = {link.url.rsplit("/", 1)[1]: link for link in s.scalars(select(ArticleLink))}
    assert links["ascend"].followed
    assert (links["picture"].anchor_text, links["picture"].followed,
            links["picture"].skip_reason) == ("", False, "no anchor text")
    assert "/news/picture" not in [seen.path for seen in server.requests]


def test_related_links_follow_relevant_ones_store_the_rest(
        server: LoopbackServer, either_settings: Settings, sessions: Sessions) -> None:
    settings = either_settings
    titles = _serve_seed(server)
    add(sessions, SourceSpec("seed", server.url("/seed"), kind="page"))
    report = collect(sessions, settings, due_only=False)
    assert report.sources[0].outcome == "ok" and report.related_followed == 1
    with sessions() as s:
        seed_article = s.scalars(select(Article).where(Article.depth == 0)).one()
        assert seed_article.discovered_via == "manual"
        links = s.scalars(select(ArticleLink).where(
            ArticleLink.from_article_id == seed_article.id).order_by(ArticleLink.position)).all()
        assert [link.anchor_text for link in links] == titles
        followed = [link for link in links if link.followed]
        assert [link.anchor_text for link in followed] == [
            "DeepSeek Raises Funding at $45B Valuation Amid AI Competition"]
        assert all(link.skip_reason.startswith("not relevant")  # type: ignore[union-attr]
                   for link in links if not link.followed)
        child = s.get(Article, followed[0].to_article_id)
        assert child is not None and (child.discovered_via, child.depth) == ("related", 1)
        assert child.parent_article_id == seed_article.id
    # the child's own related link is one hop too deep: stored, never fetched
    collect(sessions, settings, due_only=False)
    with sessions() as s:
        deeper = s.scalars(select(ArticleLink).where(ArticleLink.url.like("%more-%"))).all()
        assert len(deeper) == 2  # a block is two links or more
        assert all(not d.followed and d.skip_reason == "depth limit" for d in deeper)
    assert not any(r.path.startswith("/news/more-") for r in server.requests)
    assert count(sessions, Article) == 2


def test_related_links_to_private_addresses_are_not_followed(
        server: LoopbackServer, settings: Settings, sessions: Sessions) -> None:
    strict = Settings(**{**settings.__dict__, "allow_private_networks": False})
    _serve_seed(server, host_for={3: "localhost"})  # the DeepSeek link points elsewhere
    add(sessions, SourceSpec("seed", server.url("/seed"), kind="page"))
    report = collect(sessions, strict, due_only=False)
    assert report.sources[0].outcome == "ok"  # the user's own source is trusted
    with sessions() as s:
        link = s.scalars(select(ArticleLink).where(ArticleLink.url.like("%localhost%"))).one()
        assert not link.followed and "blocked_address" in (link.skip_reason or "")
    assert server.hits("/news/3") == []


def test_a_pass_with_nothing_due_starts_no_parser_process(settings: Settings,
                                                          sessions: Sessions) -> None:
    # `cait collect` with nothing to do: spawning a pool would cost a second (issue 18)
    offload = Offload(1)
    try:
        report = collect(sessions, replace(settings, parse_processes=1), offload=offload)
        assert report.sources == [] and not offload.running
        offload.start()
        assert offload.running
    finally:
        offload.close()
