"""Issue 13: the site rule (Public Suffix List), the address rule, the guarded fetch path
(DNS rebinding, fail closed, robots.txt redirects) and entry/canonical links as untrusted."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collectors.fetch import Fetcher
from collectors.guard import Resolver
from collectors.outcome import FetchError, FetchResult
from collectors.pages import extract_page
from collectors.robots import RobotsCache
from collectors.sources import SourceSpec
from collectors.store import add_sources
from collectors.update import collect
from collectors.urls import host_and_path, http_url, is_public_address, same_site, site
from config import Settings
from db.models import Article
from tests.pages import article_page, seed_paragraphs
from tests.server import LoopbackServer, Reply, redirect


@pytest.mark.parametrize(("a", "b", "same"), [
    ("news.sina.com.cn", "finance.sina.com.cn", True),
    ("evil.com.cn", "news.sina.com.cn", False),
    ("intranet.com.cn", "sina.com.cn", False),
    ("www.bbc.co.uk", "news.bbc.co.uk", True),
    ("evil.co.uk", "bbc.co.uk", False),
    ("alice.github.io", "bob.github.io", False),
    ("a.alice.github.io", "alice.github.io", True),
    ("www.miit.gov.cn", "evil.gov.cn", False),
    ("www.miit.gov.cn", "miit.gov.cn", True),
    ("alice.blogspot.com", "bob.blogspot.com", False),
    ("com.cn", "com.cn", True),            # a bare suffix is only itself
    ("127.0.0.1", "127.0.0.1", True),
    ("127.0.0.1", "127.0.0.2", False),     # IP literals: the address itself
    ("[::1]", "::1", True),
    ("", "", False),
    ("NEWS.Sina.com.cn.", "sina.com.cn", True),
])
def test_same_site_by_the_public_suffix_list(a: str, b: str, same: bool) -> None:
    assert same_site(a, b) is same
    assert same_site(b, a) is same


def test_site_is_the_registrable_domain() -> None:
    assert site("news.sina.com.cn") == "sina.com.cn"
    assert site("alice.github.io") == "alice.github.io"
    assert site("10.0.0.1") == "10.0.0.1"


@pytest.mark.parametrize("url", [
    "https://news.example.com/2024/05/01/story.html?x=1#top", "http://Example.COM",
    "http://example.com:8080/a/b", "http://user@host.com/x", "http://host.com:80@evil.com/x",
    "http://host.com:/x", "http://host.com\\evil.com/x",
    "http://host.com/a\tb", "http://host.com?q", "http://host.com#f", "https://例子.中国/新闻",
    "http://[::1]:8080/x", "http://-/", "http://./x", "http://host.com/a b/c",
])
def test_the_plain_url_shortcut_splits_as_urlsplit(url: str) -> None:
    """`host_and_path` and `http_url` read a plain http(s) URL without urlsplit: the same host,
    path and verdict as splitting it, for plain URLs and the look-alikes that are not."""
    parts = urlsplit(url)
    assert host_and_path(url) == (parts.hostname or "", parts.path)
    assert http_url(url) == url


@pytest.mark.parametrize("href", ["http://host.com:99999/x", "http://host.com:abc/x",
                                  "http://[::1/x", "http://:80/x",
                                  "ftp://host.com/x", "http:///x"])
def test_malformed_urls_are_refused(href: str) -> None:
    assert http_url(href) is None


@pytest.mark.parametrize(("address", "public"), [
    ("100.64.0.1", False), ("100.127.255.254", False),       # carrier-grade NAT
    ("100.100.100.200", False),                              # Alibaba Cloud metadata
    ("::ffff:100.100.100.200", False), ("::ffff:127.0.0.1", False),
    ("2002:7f00:1::", False),                                # 6to4 wrapping 127.0.0.1
    ("2002:a9fe:a9fe::", False),                             # 6to4 wrapping 169.254.169.254
    ("fec0::1", False),                                      # deprecated site-local
    ("192.0.0.8", False), ("10.1.2.3", False), ("172.16.0.1", False),
    ("192.168.1.1", False), ("169.254.169.254", False), ("127.0.0.1", False),
    ("0.0.0.0", False), ("::1", False), ("fe80::1%eth0", False), ("fd00::1", False),
    ("224.0.0.1", False), ("ff02::1", False), ("not an address", False),
    ("93.184.216.34", True), ("2606:4700:4700::1111", True), ("::ffff:8.8.8.8", True),
    ("2002:0808:0808::", True),                              # 6to4 wrapping 8.8.8.8
])
def test_address_ranges(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def _strict(settings: Settings) -> Settings:
    return Settings(**{**settings.__dict__, "allow_private_networks": False})


def _stub(answers: list[list[str]]) -> tuple[Resolver, list[str]]:
    """A loopback resolver stub: each lookup gives the next answer (the last one repeats)."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[min(len(asked) - 1, len(answers) - 1)]

    return resolve, asked


def _get(settings: Settings, resolve: Resolver, *urls: str, untrusted_from: str,
         check_robots: bool = False) -> list[FetchResult | FetchError]:
    async def run() -> list[FetchResult | FetchError]:
        async with Fetcher(settings, RobotsCache(), resolve=resolve) as fetcher:
            return [await fetcher.get(u, untrusted_from=untrusted_from,
                                      check_robots=check_robots) for u in urls]

    return asyncio.run(run())


def test_dns_rebinding_cannot_reach_inside(server: LoopbackServer, settings: Settings,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is resolved once per connection and the socket goes to the checked address:
    a second, different answer (the rebinding) is never what a connection uses.

    Tests never leave loopback, so 127.0.0.1 (where the server listens) plays the public
    address and 127.0.0.2 (where nothing listens on that port) the inside one.
    """
    for module in ("collectors.fetch", "collectors.guard"):
        monkeypatch.setattr(f"{module}.is_public_address", lambda a: a == "127.0.0.1")
    server.routes["/page"] = Reply(200, b"checked address")
    resolve, asked = _stub([["127.0.0.1"], ["127.0.0.2"]])
    url = f"http://rebind.example:{server.port}/page"
    [first] = _get(_strict(settings), resolve, url, untrusted_from="news.example.com")
    assert isinstance(first, FetchResult) and first.body == b"checked address"
    assert asked == ["rebind.example"]  # once: no second lookup to connect with
    [second] = _get(_strict(settings), resolve, url, untrusted_from="news.example.com")
    assert isinstance(second, FetchError) and second.reason == "blocked_address"
    assert len(server.hits("/page")) == 1


def test_a_rebinding_answer_of_loopback_is_refused(server: LoopbackServer,
                                                   settings: Settings) -> None:
    server.routes["/secret"] = Reply(200, b"secret")
    resolve, asked = _stub([["127.0.0.1"]])  # what the name answers when it is fetched
    url = f"http://rebind.example:{server.port}/secret"
    [result] = _get(_strict(settings), resolve, url, untrusted_from="news.example.com")
    assert isinstance(result, FetchError) and result.reason == "blocked_address"
    assert server.hits("/secret") == [] and asked == ["rebind.example"]


def test_a_mixed_answer_is_refused_whole(server: LoopbackServer, settings: Settings) -> None:
    resolve, _ = _stub([["93.184.216.34", "127.0.0.1"]])
    [result] = _get(_strict(settings), resolve, f"http://mixed.example:{server.port}/x",
                    untrusted_from="news.example.com")
    assert isinstance(result, FetchError) and result.reason == "blocked_address"


def test_a_failing_resolver_blocks(server: LoopbackServer, settings: Settings) -> None:
    async def broken(host: str, port: int) -> list[str]:
        raise OSError("resolver down")

    async def empty(host: str, port: int) -> list[str]:
        return []

    for resolve in (broken, empty):
        [result] = _get(_strict(settings), resolve, f"http://any.example:{server.port}/x",
                        untrusted_from="news.example.com")
        assert isinstance(result, FetchError) and result.reason == "blocked_address"


def test_same_site_links_are_still_checked_for_public_addresses(
        server: LoopbackServer, settings: Settings) -> None:
    server.routes["/x"] = Reply(200, b"inside")
    async def resolve(host: str, port: int) -> list[str]:
        # www.evil.com is public; its sibling internal.evil.com answers 127.0.0.1
        return ["127.0.0.1"] if host.startswith("internal.") else ["93.184.216.34"]

    [result] = _get(_strict(settings), resolve, f"http://internal.evil.com:{server.port}/x",
                    untrusted_from="www.evil.com")
    assert isinstance(result, FetchError) and result.reason == "blocked_address"
    assert server.hits("/x") == []


def test_a_robots_txt_redirect_to_an_internal_address_is_not_followed(
        server: LoopbackServer, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A public host's robots.txt answering 302 to an internal URL (issue 13, item 5)."""
    server.routes["/robots.txt"] = redirect("http://internal.example/admin")
    server.routes["/page"] = Reply(200, b"<html>page</html>")
    # Tests never leave loopback: 127.0.0.1 plays the public address, 10.0.0.1 the inside.
    for module in ("collectors.fetch", "collectors.guard"):
        monkeypatch.setattr(f"{module}.is_public_address", lambda a: a == "127.0.0.1")
    resolve, asked = _stub([["127.0.0.1"], ["10.0.0.1"]])
    [result] = _get(_strict(settings), resolve, f"http://public.example:{server.port}/page",
                    untrusted_from="news.example.com", check_robots=True)
    assert isinstance(result, FetchError) and result.reason == "blocked_address"
    assert asked == ["public.example", "internal.example"]
    assert server.hits("/page") == []


def test_a_robots_txt_redirect_off_a_private_source_site_is_guarded(
        server: LoopbackServer, settings: Settings) -> None:
    """On the user's own private site a link may stay there, but its robots.txt may not
    lead elsewhere inside."""
    server.routes["/robots.txt"] = redirect(server.url("/admin", host="localhost"))
    server.routes["/admin"] = Reply(200, b"User-agent: *\nAllow: /\n",
                                    content_type="text/plain")
    server.routes["/page"] = Reply(200, b"<html>page</html>")
    resolve, _ = _stub([["127.0.0.1"]])
    _get(_strict(settings), resolve, server.url("/page"), untrusted_from="127.0.0.1",
         check_robots=True)
    assert server.hits("/admin") == []


def test_full_text_entry_links_are_untrusted(server: LoopbackServer, settings: Settings,
                                             sessions: sessionmaker[Session]) -> None:
    body, _ = seed_paragraphs()
    server.routes["/inside"] = Reply(200, article_page("internal", body).encode())
    entry = server.url("/inside", host="localhost")  # another site, on a private address
    server.routes["/feed"] = Reply(200, (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        f"<title>DeepSeek</title><link>{entry}</link><description>kept summary</description>"
        f"</item></channel></rss>").encode(), content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec("search", server.url("/feed"), full_text=True)], 3600)
        s.commit()
    report = collect(sessions, _strict(settings), due_only=False)
    assert report.sources[0].outcome == "ok" and report.sources[0].new_articles == 1
    assert server.hits("/inside") == []
    with sessions() as s:
        article = s.scalars(select(Article)).one()
        assert article.text is None and article.summary == "kept summary"


@pytest.mark.parametrize(("page", "claimed", "kept"), [
    ("https://evil.com.cn/a", "https://news.sina.com.cn/c/2026/x.shtml", "https://evil.com.cn/a"),
    ("https://alice.github.io/a", "https://bob.github.io/a", "https://alice.github.io/a"),
    ("https://news.sina.com.cn/a?utm_source=x", "https://finance.sina.com.cn/a",
     "https://finance.sina.com.cn/a"),
])
def test_a_canonical_link_to_another_site_is_ignored(page: str, claimed: str, kept: str) -> None:
    html = (f'<html><head><link rel="canonical" href="{claimed}"><title>t</title></head>'
            f"<body><p>text</p></body></html>")
    assert extract_page(html.encode(), page).canonical_url == kept
