"""The HTTP client against real loopback servers behaving badly; every failure is a value."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from collectors.fetch import Fetcher
from collectors.outcome import FetchError, FetchResult, Severity
from collectors.robots import RobotsCache
from config import Settings
from tests.server import (
    LoopbackServer,
    Reply,
    endless_body,
    gzip_bomb,
    gzipped,
    hang,
    redirect,
    slow_drip,
)


def get(settings: Settings, url: str, **kwargs: object) -> FetchResult | FetchError:
    async def run() -> FetchResult | FetchError:
        async with Fetcher(settings) as fetcher:
            return await fetcher.get(url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(run())


def quick(settings: Settings) -> Settings:
    return Settings(**{**settings.__dict__, "total_timeout": 1.5, "read_timeout": 1.0})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ok_gzip_and_headers(server: LoopbackServer, settings: Settings) -> None:
    server.routes["/feed"] = gzipped(b"<rss>" + b"x" * 5000 + b"</rss>")
    result = get(settings, server.url("/feed"))
    assert isinstance(result, FetchResult)
    assert result.body.startswith(b"<rss>") and len(result.body) == 5011
    sent = server.hits("/feed")[0].headers
    assert sent["user-agent"].startswith("cait/")
    assert "gzip" in sent["accept-encoding"]


def test_conditional_get_sends_validators_and_304_costs_nothing(
        server: LoopbackServer, settings: Settings) -> None:
    server.routes["/feed"] = Reply(200, b"<rss/>", etag='"v1"')
    first = get(settings, server.url("/feed"))
    assert isinstance(first, FetchResult) and first.etag == '"v1"'
    second = get(settings, server.url("/feed"), etag='"v1"', last_modified="Tue, 12 May 2026")
    assert isinstance(second, FetchResult) and second.not_modified and second.body == b""
    headers = server.hits("/feed")[1].headers
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Tue, 12 May 2026"


@pytest.mark.parametrize(("status", "reason", "severity"), [
    (500, "http_error", Severity.SOFT),
    (503, "http_error", Severity.TEMPORARY),
    (404, "http_error", Severity.HARD),
    (403, "http_error", Severity.HARD),
    (410, "gone", Severity.HARD),
])
def test_error_statuses(server: LoopbackServer, settings: Settings, status: int, reason: str,
                        severity: Severity) -> None:
    server.routes["/x"] = Reply(status, b"no")
    result = get(settings, server.url("/x"))
    assert isinstance(result, FetchError)
    assert (result.status, result.reason, result.severity) == (status, reason, severity)


def test_429_retry_after_is_returned(server: LoopbackServer, settings: Settings) -> None:
    server.routes["/x"] = Reply(429, b"slow down", {"Retry-After": "120"})
    result = get(settings, server.url("/x"))
    assert isinstance(result, FetchError)
    assert result.reason == "rate_limited" and result.retry_after == 120


def test_dead_port_is_a_temporary_connection_error(settings: Settings) -> None:
    result = get(settings, f"http://127.0.0.1:{free_port()}/feed")
    assert isinstance(result, FetchError)
    assert result.reason == "connection" and result.severity == Severity.TEMPORARY


def test_silent_server_times_out(server: LoopbackServer, settings: Settings) -> None:
    server.routes["/x"] = hang(10)
    started = time.monotonic()
    result = get(quick(settings), server.url("/x"))
    assert isinstance(result, FetchError) and result.reason == "timeout"
    assert time.monotonic() - started < 3.5


def test_slow_drip_is_stopped_by_the_total_timeout(server: LoopbackServer,
                                                   settings: Settings) -> None:
    server.routes["/x"] = slow_drip(interval=0.2)  # every read well inside read_timeout
    started = time.monotonic()
    result = get(quick(settings), server.url("/x"))
    assert isinstance(result, FetchError) and result.reason == "timeout"
    assert time.monotonic() - started < 3.5


def test_endless_body_is_cut_at_the_size_cap(server: LoopbackServer, settings: Settings) -> None:
    server.routes["/x"] = endless_body()
    small = Settings(**{**settings.__dict__, "max_bytes": 2_000_000})
    result = get(small, server.url("/x"))
    assert isinstance(result, FetchError) and result.reason == "too_large"


def test_gzip_bomb_is_cut_off_not_inflated(server: LoopbackServer, settings: Settings) -> None:
    server.routes["/bomb"] = gzip_bomb(decompressed_mb=1024)
    started = time.monotonic()
    result = get(settings, server.url("/bomb"))
    assert isinstance(result, FetchError) and result.reason == "too_large"
    assert time.monotonic() - started < 5


def test_redirects_followed_and_loops_stopped(server: LoopbackServer, settings: Settings) -> None:
    server.routes["/old"] = redirect("/new", 301)
    server.routes["/new"] = Reply(200, b"here")
    ok = get(settings, server.url("/old"))
    assert isinstance(ok, FetchResult) and ok.url.endswith("/new") and ok.body == b"here"
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = redirect("/a")
    loop = get(settings, server.url("/a"))
    assert isinstance(loop, FetchError) and loop.reason == "too_many_redirects"
    for i in range(20):
        server.routes[f"/r{i}"] = redirect(f"/r{i + 1}")
    chain = get(settings, server.url("/r0"))
    assert isinstance(chain, FetchError) and chain.reason == "too_many_redirects"
    hops = [r for r in server.requests if r.path.startswith("/r")]
    assert len(hops) == settings.max_redirects + 1


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "ftp://x.org/a",
                                 "http://"])
def test_non_http_urls_are_refused(settings: Settings, url: str) -> None:
    result = get(settings, url)
    assert isinstance(result, FetchError) and result.reason == "bad_url"


def test_untrusted_links_may_not_reach_private_addresses(server: LoopbackServer,
                                                         settings: Settings) -> None:
    strict = Settings(**{**settings.__dict__, "allow_private_networks": False})
    server.routes["/x"] = Reply(200, b"secret")
    blocked = get(strict, server.url("/x", host="localhost"), untrusted_from="news.example.com")
    assert isinstance(blocked, FetchError) and blocked.reason == "blocked_address"
    same_site = get(strict, server.url("/x"), untrusted_from="127.0.0.1")
    assert isinstance(same_site, FetchResult)
    trusted = get(strict, server.url("/x", host="localhost"))
    assert isinstance(trusted, FetchResult)
    server.routes["/hop"] = redirect(server.url("/x", host="localhost"))
    via_redirect = get(strict, server.url("/hop"), untrusted_from="127.0.0.1")
    assert isinstance(via_redirect, FetchError) and via_redirect.reason == "blocked_address"


def test_robots_txt_is_obeyed_for_pages(server: LoopbackServer, settings: Settings) -> None:
    server.routes["/robots.txt"] = Reply(200, b"User-agent: *\nDisallow: /private/\n",
                                         content_type="text/plain")
    server.routes["/private/a"] = Reply(200, b"page")
    server.routes["/public/a"] = Reply(200, b"page")

    async def run() -> list[FetchResult | FetchError]:
        async with Fetcher(settings, RobotsCache()) as fetcher:
            return [await fetcher.get(server.url(p), check_robots=True)
                    for p in ("/private/a", "/public/a", "/public/a")]

    private, public, again = asyncio.run(run())
    assert isinstance(private, FetchError) and private.reason == "robots"
    assert isinstance(public, FetchResult) and isinstance(again, FetchResult)
    assert len(server.hits("/robots.txt")) == 1  # cached per host
    assert server.hits("/private/a") == []


def test_each_host_keeps_its_connection(server: LoopbackServer, settings: Settings) -> None:
    """A pool per origin (issue 18): fetching another host does not close this host's kept
    connection, even when only one pool may stay open; the extra host's pool is closed as its
    request ends, so it connects afresh each time."""
    one = Settings(**{**settings.__dict__, "concurrency": 1})
    server.routes["/a"] = server.routes["/b"] = Reply(200, b"ok")

    async def run() -> None:
        async with Fetcher(one) as fetcher:
            for path, host in [("/a", "127.0.0.1"), ("/b", "localhost")] * 2:
                assert isinstance(await fetcher.get(server.url(path, host)), FetchResult)

    asyncio.run(run())
    a_ports = {seen.client_port for seen in server.hits("/a")}
    b_ports = {seen.client_port for seen in server.hits("/b")}
    assert len(a_ports) == 1 and len(b_ports) == 2


def test_cookies_set_by_a_host_go_back_to_it(server: LoopbackServer, settings: Settings) -> None:
    """The fetcher sends requests to its transports itself (issue 18), with the cookie jar
    httpx's client kept: a cookie a response sets goes back with the next request to that
    host, through a redirect too, and never to another host; without one no Cookie header."""
    server.routes["/plain"] = Reply(200, b"ok")
    server.routes["/set"] = Reply(302, b"", {"Location": "/next", "Set-Cookie": "seen=1; Path=/"})
    server.routes["/next"] = Reply(200, b"ok")

    async def run() -> None:
        async with Fetcher(settings) as fetcher:
            assert isinstance(await fetcher.get(server.url("/plain")), FetchResult)
            assert isinstance(await fetcher.get(server.url("/set")), FetchResult)
            assert isinstance(await fetcher.get(server.url("/plain")), FetchResult)
            assert isinstance(await fetcher.get(server.url("/plain", "localhost")), FetchResult)

    asyncio.run(run())
    plain = [seen.headers.get("cookie") for seen in server.hits("/plain")]
    assert plain == [None, "seen=1", None]
    assert server.hits("/next")[0].headers.get("cookie") == "seen=1"
    sent = server.hits("/plain")[0].headers
    assert [sent.get(name) for name in ("accept", "accept-encoding", "connection")] == [
        "*/*", "gzip, deflate", "keep-alive"]


def test_per_host_spacing_is_kept(server: LoopbackServer, settings: Settings) -> None:
    polite = Settings(**{**settings.__dict__, "host_concurrency": 2,
                         "host_delay_seconds": 0.3})
    for i in range(4):
        server.routes[f"/p{i}"] = Reply(200, b"ok")

    async def run() -> None:
        async with Fetcher(polite) as fetcher:
            await asyncio.gather(*(fetcher.get(server.url(f"/p{i}")) for i in range(4)))

    asyncio.run(run())
    starts = sorted(r.at for r in server.requests)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.25
