"""A loopback feed farm for benchmarks: N feeds from the corpus spread over several 127.0.0.x
hosts, with injected latency and a share of failures. Runs in its own process.

Feed i is corpus feed i mod 122 with its links moved under host `c{i}.` so every copy holds
distinct articles; about `fail` of the feeds answer 500.

Run: python -m bench.feed_server --feeds 1000 --hosts 16   (prints 'ready', then serves)
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
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


def serve(count: int, hosts: int, port: int, latency: tuple[float, float], fail: float,
          seed: int = 1, rotate: bool = False) -> list[QuietServer]:
    bodies = feed_bodies(count)
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
            if i < 0 or i >= count:
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
            self.send_header("Content-Type", "application/xml")
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
    parser.add_argument("--rotate", action="store_true",
                        help="every request shows 5 new items (feeds that change every cycle)")
    args = parser.parse_args()
    serve(args.feeds, args.hosts, args.port, tuple(args.latency), args.fail, rotate=args.rotate)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
