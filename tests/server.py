"""A real HTTP server on 127.0.0.1 for tests, with a catalogue of named server behaviours.

Routes map a path to a `Reply` (status, headers, body) or to a callable that writes the
response itself (slow bodies, endless streams, broken connections). Every request is logged
so tests can check what the client sent (conditional headers, how often a URL was hit).
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None           # answers If-None-Match with 304 when it matches


Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float
    client_port: int = 0  # which connection it came on


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[str, Reply | Handler] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(Seen(self.path, {k.lower(): v for k, v in
                                                            self.headers.items()}, time.time(),
                                                self.client_address[1]))
                route = server.routes.get(self.path) or server.routes.get(
                    self.path.split("?")[0])
                if route is None:
                    self._send(Reply(404, b"not found"))
                elif isinstance(route, Reply):
                    self._send(route)
                else:
                    route(self)

            def _send(self, reply: Reply) -> None:
                if reply.etag and self.headers.get("If-None-Match") == reply.etag:
                    self.send_response(304)
                    self.send_header("ETag", reply.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]


# ---- the catalogue of behaviours -------------------------------------------------------

def gzipped(body: bytes, content_type: str = "application/xml") -> Reply:
    return Reply(200, gzip.compress(body), {"Content-Encoding": "gzip"}, content_type)


def gzip_bomb(decompressed_mb: int = 1024) -> Reply:
    """A small gzip body that inflates to `decompressed_mb` MB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    parts = [compressor.compress(chunk) for _ in range(decompressed_mb)]
    parts.append(compressor.flush())
    return Reply(200, b"".join(parts), {"Content-Encoding": "gzip"}, "application/xml")


def endless_body(chunk: bytes = b"<item>" * 1000) -> Handler:
    """Streams a chunked body forever (until the client hangs up)."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            while True:
                h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    return handle


def slow_drip(interval: float = 0.5, total: int = 10_000) -> Handler:
    """Sends one byte every `interval` seconds: each read is quick, the whole is endless."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(total))
        h.end_headers()
        try:
            for _ in range(total):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(interval)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    return handle


def hang(seconds: float = 30) -> Handler:
    """Accepts the request and says nothing."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)

    return handle


def redirect(to: str, status: int = 302) -> Reply:
    return Reply(status, b"", {"Location": to})


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]
