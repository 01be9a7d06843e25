"""Property-based tests: random and mutated input never crashes the parsers, and the URL
rules hold for every URL, not just the examples."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classify.examples import read_input
from collectors.feeds import parse_feed
from collectors.pages import extract_page, find_related_links, parse_html
from collectors.urls import canonicalize_url
from config import Settings
from tests.conftest import CORPUS
from tests.server import LoopbackServer

FEEDS = sorted((CORPUS / "feeds").iterdir())
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _http_only(urls: list[str]) -> bool:
    return all(u.startswith(("http://", "https://")) for u in urls)


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes_never_crash_the_feed_parser(body: bytes) -> None:
    parsed = parse_feed(body, {}, "https://x.example/feed")
    assert parsed.ok or parsed.error
    assert _http_only([e.url for e in parsed.entries])


@FUZZ
@given(st.sampled_from(FEEDS), st.data())
def test_mutated_corpus_feeds_never_crash(path: Path, data: st.DataObject) -> None:
    body = bytearray(path.read_bytes()[:60_000])
    for _ in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, max(0, len(body) - 1)))
        if kind == "flip" and body:
            body[at] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del body[at:at + data.draw(st.integers(1, 500))]
        else:
            body[at:at] = data.draw(st.sampled_from(
                [b"<", b"&", b"]]>", b"<!ENTITY x 'y'>", b"\xff\xfe", b"<item>", b"\x00"]))
    parsed = parse_feed(bytes(body), {}, "https://x.example/feed")
    assert parsed.ok or parsed.error
    assert _http_only([e.url for e in parsed.entries])


HTML_PARTS = st.sampled_from([
    "<h3>Related News</h3>", "<h2>相关新闻</h2>", "<div class='related'>", "</div>", "<ul>",
    "</ul>", "<li>", "</li>", "<p>text</p>", "<a href='/a'>DeepSeek news</a>",
    "<a href='javascript:alert(1)'>x</a>", "<a href='file:///etc/passwd'>y</a>",
    "<a href='http://[::1'>broken</a>", "<a href='//cdn.example/x'>cdn</a>", "<a>", "</a>",
    "<strong>See also</strong>", "<base href='https://other.example/'>", "&amp;", "<!--",
])


@FUZZ
@given(st.lists(st.one_of(HTML_PARTS, st.text(max_size=30)), max_size=60))
def test_related_block_detection_never_crashes(parts: list[str]) -> None:
    html = "<html><body>" + "".join(parts) + "</body></html>"
    links = find_related_links(parse_html(html), "https://news.example/story")
    assert len(links) <= 100 and _http_only([link.url for link in links])
    assert [link.position for link in links] == list(range(len(links)))


@FUZZ
@given(st.binary(max_size=3000))
def test_random_pages_never_crash_extraction(body: bytes) -> None:
    page = extract_page(body, "https://news.example/a")
    assert _http_only([r.url for r in page.related])


@FUZZ
@given(st.lists(st.one_of(
    st.text(max_size=40),
    st.builds(lambda i, t: json.dumps({"id": i, "title": t, "text": t}),
              st.integers(), st.text(max_size=40)),
    st.just('{"id": 1, "text": 5}'), st.just("[1, 2]"), st.just("null")), max_size=20))
def test_the_input_reader_gives_one_item_per_line(tmp_path_factory, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("fuzz") / "in.jsonl"
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(read_input(path))
    # JSON lines are separated by \n only (str.splitlines would also split on \x1e, \x85 …)
    non_blank = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    assert len(items) == len(non_blank)


SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~新闻", min_size=1,
                  max_size=12)


@FUZZ
@given(SEGMENT, SEGMENT, st.sampled_from(["http", "https"]))
def test_canonicalisation_keeps_different_paths_apart(a: str, b: str, scheme: str) -> None:
    first, second = f"{scheme}://news.example/{a}", f"{scheme}://news.example/{b}"
    if a != b:
        assert canonicalize_url(first) != canonicalize_url(second)
    assert canonicalize_url(canonicalize_url(first)) == canonicalize_url(first)


@FUZZ
@given(SEGMENT, st.dictionaries(st.sampled_from(["id", "page", "q", "lang"]), SEGMENT,
                                max_size=3),
       st.sampled_from(["utm_source", "fbclid", "gclid", "utm_campaign"]), SEGMENT)
def test_tracking_parameters_never_change_identity(path: str, query: dict[str, str],
                                                   tracker: str, value: str) -> None:
    from urllib.parse import urlencode
    base = f"https://news.example/{path}?{urlencode(query)}"
    tracked = f"{base}&{tracker}={value}" if query else f"{base}{tracker}={value}"
    assert canonicalize_url(tracked) == canonicalize_url(base)


# ---- URLs from links and Location headers (issue 13): Fetcher.get never raises ---------

URL_PARTS = st.sampled_from([
    "http://", "https://", "javascript:", "mailto:", "data:", "file:///", "//", "a..b",
    "\u00ad", "\u200b", "\x7f", "\x01", "%", "%zz", "[", "]", "[::1", ":", ":99999", "@",
    "xn--", "xn--zz", "..", "/", "?", "#", " ", "\\", "例子.中国", "127.0.0.1", "0x7f.1",
])
HOSTILE_URLS = st.lists(st.one_of(URL_PARTS, st.text(max_size=12)), max_size=8).map("".join)


def _never_public(address: str) -> bool:
    return False  # every guarded hop is refused: nothing here may leave loopback


async def _stub_resolver(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def _fetch_all(fetch_settings: Settings, urls: list[tuple[str, str | None]]) -> list[object]:
    import asyncio
    from unittest import mock

    from collectors.fetch import Fetcher
    from collectors.outcome import FetchError, FetchResult

    async def run() -> list[object]:
        async with Fetcher(fetch_settings, resolve=_stub_resolver) as fetcher:
            return [await fetcher.get(url, untrusted_from=origin, check_robots=True)
                    for url, origin in urls]

    with mock.patch("collectors.fetch.is_public_address", _never_public), \
            mock.patch("collectors.guard.is_public_address", _never_public):
        outcomes = asyncio.run(run())
    assert all(isinstance(o, FetchResult | FetchError) for o in outcomes)
    return outcomes


@FUZZ
@given(st.one_of(HOSTILE_URLS, st.text(max_size=60)))
def test_any_text_as_a_link_is_a_fetch_outcome(settings: Settings, url: str) -> None:
    strict = Settings(**{**settings.__dict__, "allow_private_networks": False,
                         "total_timeout": 2.0})
    _fetch_all(strict, [(url, "news.example.com"), ("http://" + url, "news.example.com")])


@FUZZ
@given(st.one_of(HOSTILE_URLS, st.text(max_size=60),
                 st.binary(max_size=60).map(lambda b: b.decode("latin-1"))))
def test_any_location_header_is_a_fetch_outcome(server: LoopbackServer, settings: Settings,
                                                location: str) -> None:
    raw = location.replace("\r", "").replace("\n", "").encode("utf-8", "surrogateescape")

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 302 Found\r\nLocation: " + raw
                      + b"\r\nContent-Length: 0\r\n\r\n")

    server.routes["/loc"] = handle
    strict = Settings(**{**settings.__dict__, "allow_private_networks": False,
                         "total_timeout": 2.0})
    # The loopback page is on the user's own private site (trusted there); every hop the
    # Location leads to elsewhere is guarded, and refused before any connection. (A trusted
    # fetch would follow the Location to any host: not something a test may do.)
    _fetch_all(strict, [(server.url("/loc"), "127.0.0.1")])
