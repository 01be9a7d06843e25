"""A loopback feed farm for benchmarks: N feeds from the corpus spread over several 127.0.0.x
hosts, with injected latency and a share of failures. Runs in its own process.

Feed i is corpus feed i mod 122 with its links moved under host `c{i}.` so every copy holds
distinct articles; about `fail` of the feeds answer 500.

With --full-text it serves instead the 100 corpus article pages (`/pages/{j}`) as 10 feeds
(`/fulltext/{k}`, each listing 10 of the pages with a title, a summary and a date), feed k
and its pages on host 127.0.0.{k+1}: what a full-text source is, end to end.

Run: python -m bench.feed_server --feeds 1000 --hosts 16   (prints 'ready', then serves)
     python -m bench.feed_server --full-text
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
ARTICLES = CORPUS.parent / "articles"
FULL_TEXT_FEEDS = 10
# Article links move to a per-copy host; namespace URIs must stay as they are.
LINK_HOST = re.compile(
    rb"(https?://)(?!(?:www\.)?(?:w3\.org|purl\.org|jsonfeed\.org|backend\.userland\.com|"
    rb"wellformedweb\.org|webns\.net|search\.yahoo\.com|itunes\.com|podlove\.org|"
    rb"rssnamespace\.org|madskills\.com|xmlns\.com|rssboard\.org|googleplay|"
    rb"blogger\.com/atom|schemas\.|feedburner\.com/))")


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients closing keep-alives
            super().handle_error(request, client_address)


def feed_bodies(count: int) -> list[bytes]:
    corpus = [p.read_bytes() for p in sorted(CORPUS.iterdir())]
    return [LINK_HOST.sub(rb"\1c%d." % i, corpus[i % len(corpus)]) for i in range(count)]


def host_of(i: int, hosts: int) -> str:
    return f"127.0.0.{1 + i % hosts}"


def feed_urls(count: int, hosts: int, port: int) -> list[str]:
    return [f"http://{host_of(i, hosts)}:{port}/feeds/{i}" for i in range(count)]


def rotating_body(i: int, request: int) -> bytes:
    """Feed i at its n-th request: a window of 20 items moved on by 5 each time."""
    start = request * 5
    items = "".join(f"<item><title>Feed {i} story {k} about China AI chips</title>"
                    f"<link>https://c{i}.example/story/{k}</link><description>Story {k} of "
                    f"feed {i}.</description></item>" for k in range(start, start + 20))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {i}</title>'
            f"{items}</channel></rss>").encode()


def article_pages() -> list[bytes]:
    """The 100 corpus article pages, decompressed, in name order."""
    pages = []
    for path in sorted(ARTICLES.iterdir()):
        if path.name.endswith(".html.gz"):
            pages.append(gzip.decompress(path.read_bytes()))
        elif path.name.endswith(".html"):
            pages.append(path.read_bytes())
    return pages


def full_text_urls(port: int) -> list[str]:
    return [f"http://127.0.0.{1 + k}:{port}/fulltext/{k}" for k in range(FULL_TEXT_FEEDS)]


def full_text_feed(k: int, pages: int, port: int) -> bytes:
    """Feed k: its share of the pages, each with a date (as real feeds give one)."""
    items = "".join(
        f"<item><title>Story {j}</title><link>http://127.0.0.{1 + k}:{port}/pages/{j}</link>"
        f"<description>Summary of story {j}.</description>"
        f"<pubDate>Mon, {1 + j % 28:02d} Sep 2025 08:00:00 GMT</pubDate></item>"
        for j in range(k, pages, FULL_TEXT_FEEDS))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Full text {k}</title>'
            f"{items}</channel></rss>").encode()


def serve(count: int, hosts: int, port: int, latency: tuple[float, float], fail: float,
          seed: int = 1, rotate: bool = False, full_text: bool = False) -> list[QuietServer]:
    bodies = [] if full_text else feed_bodies(count)
    pages = article_pages() if full_text else []
    failing = set(random.Random(seed).sample(range(count), int(count * fail)))
    requests: dict[int, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(random.uniform(*latency))
            try:
                i = int(self.path.rsplit("/", 1)[-1])
            except ValueError:
                i = -1
            content_type = "application/xml"
            if full_text:
                status, body = 404, b"no"  # robots.txt too: everything allowed
                if self.path.startswith("/fulltext/") and 0 <= i < FULL_TEXT_FEEDS:
                    status, body = 200, full_text_feed(i, len(pages), port)
                elif self.path.startswith("/pages/") and 0 <= i < len(pages):
                    status, body, content_type = 200, pages[i], "text/html"
            elif i < 0 or i >= count:
                status, body = 404, b"no"
            elif i in failing:
                status, body = 500, b"injected failure"
            elif rotate:
                with lock:
                    requests[i] = requests.get(i, -1) + 1
                    n = requests[i]
                status, body = 200, rotating_body(i, n)
            else:
                status, body = 200, bodies[i]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    servers = []
    for h in range(hosts):
        httpd = QuietServer((f"127.0.0.{1 + h}", port), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
    return servers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--latency", type=float, nargs=2, default=(0.1, 0.3))
    parser.add_argument("--fail", type=float, default=0.02)
    parser.add_argument("--full-text", action="store_true",
                        help="the corpus article pages as 10 full-text feeds")
    parser.add_argument("--rotate", action="store_true",
                        help="every request shows 5 new items (feeds that change every cycle)")
    args = parser.parse_args()
    serve(args.feeds, args.hosts, args.port, tuple(args.latency), args.fail, rotate=args.rotate,
          full_text=args.full_text)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
