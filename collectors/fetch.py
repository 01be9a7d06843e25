"""HTTP fetching: the one httpx client of a collection pass, and the only module that sees httpx.

A fetch returns a `FetchResult` or a `FetchError` value (reason from a fixed set, severity
temporary/soft/hard); nothing above this module handles an httpx exception. The client is
polite (per-host concurrency and spacing, robots.txt for pages, conditional GET,
Retry-After) and bounded (timeouts including a total one, redirect limit, a cap on the
*decompressed* body so a gzip bomb is cut off, never inflated).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from collectors.dedup import http_url
from config import Settings


class Severity(StrEnum):
    TEMPORARY = "temporary"  # will likely pass by itself: timeouts, 429/503, resets
    SOFT = "soft"            # something wrong that may be fixed: 5xx, bad content, parse error
    HARD = "hard"            # needs a person: 4xx, TLS, bad URL, blocked address


SEVERITY_WEIGHT = {Severity.TEMPORARY: 0.25, Severity.SOFT: 0.5, Severity.HARD: 1.0}

REASONS = frozenset({
    "timeout", "connection", "dns", "tls", "too_many_redirects", "http_error", "rate_limited",
    "gone", "too_large", "bad_url", "blocked_address", "robots", "unsupported_encoding",
    "parse_error", "not_a_feed", "empty", "extraction_failed",
})


@dataclass(frozen=True)
class FetchResult:
    url: str                       # final URL after redirects
    status: int
    headers: dict[str, str]        # lower-cased names
    body: bytes
    elapsed_ms: int
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class FetchError:
    url: str
    reason: str
    severity: Severity
    message: str
    status: int | None = None
    retry_after: float | None = None  # seconds
    elapsed_ms: int = 0

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown fetch error reason {self.reason!r}")

    def describe(self) -> str:
        return f"{self.reason}: {self.message}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _status_error(url: str, status: int, headers: dict[str, str], elapsed: int) -> FetchError:
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status == 410:
        return FetchError(url, "gone", Severity.HARD, "HTTP 410 Gone", status, None, elapsed)
    if status == 429:
        return FetchError(url, "rate_limited", Severity.TEMPORARY, "HTTP 429 Too Many Requests",
                          status, retry_after, elapsed)
    if status in (502, 503, 504):
        return FetchError(url, "http_error", Severity.TEMPORARY, f"HTTP {status}", status,
                          retry_after, elapsed)
    if status >= 500:
        return FetchError(url, "http_error", Severity.SOFT, f"HTTP {status}", status, None,
                          elapsed)
    return FetchError(url, "http_error", Severity.HARD, f"HTTP {status}", status, None, elapsed)


def _exception_error(url: str, error: BaseException, elapsed: int) -> FetchError:
    text = str(error) or type(error).__name__
    if isinstance(error, (httpx.TimeoutException, TimeoutError)):
        return FetchError(url, "timeout", Severity.TEMPORARY, f"timed out ({text})",
                          elapsed_ms=elapsed)
    if isinstance(error, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return FetchError(url, "bad_url", Severity.HARD, text, elapsed_ms=elapsed)
    lowered = text.lower()
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return FetchError(url, "tls", Severity.HARD, text, elapsed_ms=elapsed)
    if "name or service not known" in lowered or "nodename nor servname" in lowered or (
            "temporary failure in name resolution" in lowered):
        return FetchError(url, "dns", Severity.SOFT, text, elapsed_ms=elapsed)
    return FetchError(url, "connection", Severity.TEMPORARY, text, elapsed_ms=elapsed)


class _BodyTooLarge(Exception):
    pass


class _Decoder:
    """Content-Encoding decoder that never produces more than `limit` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._z: Any = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or gzip header
            self._raw_fallback = True
        else:
            raise ValueError(encoding)

    def _take(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _BodyTooLarge
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._z is None:
            self._take(chunk)
            return
        data = chunk
        while data:
            try:
                out = self._z.decompress(data, self.limit - self.size + 1)
            except zlib.error:
                if getattr(self, "_raw_fallback", False) and self.size == 0:
                    # Some servers send raw deflate without the zlib header.
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._raw_fallback = False
                    continue
                raise
            self._take(out)
            data = self._z.unconsumed_tail
            if self._z.eof:
                break

    def body(self) -> bytes:
        return b"".join(self.parts)


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    blocked_until: float = 0.0


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                or ip.is_reserved or ip.is_unspecified)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def same_site(host_a: str, host_b: str) -> bool:
    """Same host, or both under the same last two labels (news.x.com / www.x.com)."""
    a, b = host_a.lower().rstrip("."), host_b.lower().rstrip(".")
    if a == b:
        return True
    if _is_ip_literal(a) or _is_ip_literal(b):
        return False
    tail_a, tail_b = a.split(".")[-2:], b.split(".")[-2:]
    return len(tail_a) == 2 and tail_a == tail_b


class Fetcher:
    """One polite async HTTP client for a collection pass. Use as `async with Fetcher(s) as f`."""

    def __init__(self, settings: Settings, robots: RobotsCache | None = None) -> None:
        self.settings = settings
        self.robots = robots if robots is not None else RobotsCache()
        self._hosts: dict[str, _Host] = {}
        self._global = asyncio.Semaphore(settings.concurrency)
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=False,
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=s.concurrency,
                                max_keepalive_connections=s.concurrency),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _host(self, host: str) -> _Host:
        if host not in self._hosts:
            self._hosts[host] = _Host(asyncio.Semaphore(self.settings.host_concurrency))
        return self._hosts[host]

    async def _address_allowed(self, host: str, origin_host: str | None) -> bool:
        if self.settings.allow_private_networks:
            return True
        if origin_host is not None and same_site(host, origin_host):
            return True
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None,
                                                                 type=socket.SOCK_STREAM)
        except OSError:
            return True  # resolution fails again in the request and is reported there
        return all(is_public_address(str(info[4][0])) for info in infos)

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                  accept: str = "*/*", untrusted_from: str | None = None,
                  check_robots: bool = False) -> FetchResult | FetchError:
        """GET `url`, following redirects; conditional when validators are given.

        `untrusted_from` is the host of the third-party page that linked `url`: every hop
        must then be on that site or on a public address. `check_robots` obeys robots.txt.
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        seen: set[str] = set()
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            elapsed = int((time.monotonic() - started) * 1000)
            if http_url(current) is None:
                return FetchError(current, "bad_url", Severity.HARD,
                                  f"not an http(s) URL: {current[:200]}", elapsed_ms=elapsed)
            parts = urlsplit(current)
            if untrusted_from is not None and not await self._address_allowed(
                    parts.hostname or "", untrusted_from):
                return FetchError(current, "blocked_address", Severity.HARD,
                                  f"{parts.hostname} is not a public address", elapsed_ms=elapsed)
            if check_robots and not await self.robots.allowed(self, current):
                return FetchError(current, "robots", Severity.HARD,
                                  "disallowed by robots.txt", elapsed_ms=elapsed)
            outcome = await self._one_request(current, headers, started)
            if isinstance(outcome, FetchError) or outcome.status not in (301, 302, 303, 307, 308):
                return outcome
            location = outcome.headers.get("location")
            if not location:
                return FetchError(current, "http_error", Severity.SOFT,
                                  f"HTTP {outcome.status} without Location", outcome.status)
            seen.add(current)
            current = http_url(location, current) or location
            if current in seen:
                return FetchError(url, "too_many_redirects", Severity.SOFT,
                                  f"redirect loop at {current[:200]}", outcome.status)
        return FetchError(url, "too_many_redirects", Severity.SOFT,
                          f"more than {self.settings.max_redirects} redirects")

    async def _one_request(self, url: str, headers: dict[str, str],
                           started: float) -> FetchResult | FetchError:
        assert self._client is not None, "use Fetcher as an async context manager"
        host_name = urlsplit(url).netloc.lower()
        host = self._host(host_name)
        loop = asyncio.get_running_loop()
        async with host.semaphore:
            if host.blocked_until - loop.time() > self.settings.total_timeout:
                return FetchError(url, "rate_limited", Severity.TEMPORARY,
                                  f"{host_name} asked us to wait; skipped in this pass",
                                  retry_after=host.blocked_until - loop.time())
            async with host.lock:
                wait = max(host.next_start, host.blocked_until) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                host.next_start = loop.time() + self.settings.host_delay_seconds
            async with self._global:
                outcome = await self._send(url, headers, started)
        if isinstance(outcome, FetchError) and outcome.retry_after:
            host.blocked_until = loop.time() + min(outcome.retry_after, 3600)
        return outcome

    async def _send(self, url: str, headers: dict[str, str],
                    started: float) -> FetchResult | FetchError:
        assert self._client is not None
        limit = self.settings.max_bytes

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self.settings.total_timeout):
                request = self._client.build_request("GET", url, headers=headers)
                response = await self._client.send(request, stream=True)
                try:
                    resp_headers = {k.lower(): v for k, v in response.headers.items()}
                    status = response.status_code
                    if status in (301, 302, 303, 307, 308) or status == 304:
                        return FetchResult(url, status, resp_headers, b"", elapsed(),
                                           not_modified=status == 304)
                    if status >= 400:
                        return _status_error(url, status, resp_headers, elapsed())
                    declared = resp_headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit and not resp_headers.get(
                            "content-encoding"):
                        return FetchError(url, "too_large", Severity.SOFT,
                                          f"body of {declared} bytes exceeds {limit}", status)
                    try:
                        decoder = _Decoder(resp_headers.get("content-encoding", ""), limit)
                    except ValueError as error:
                        return FetchError(url, "unsupported_encoding", Severity.SOFT,
                                          f"Content-Encoding {error}", status)
                    async for chunk in response.aiter_raw():
                        decoder.feed(chunk)
                    return FetchResult(url, status, resp_headers, decoder.body(), elapsed())
                finally:
                    await response.aclose()
        except _BodyTooLarge:
            return FetchError(url, "too_large", Severity.SOFT,
                              f"body exceeds {limit} bytes after decompression",
                              elapsed_ms=elapsed())
        except zlib.error as error:
            return FetchError(url, "unsupported_encoding", Severity.SOFT,
                              f"corrupt compressed body: {error}", elapsed_ms=elapsed())
        except (httpx.HTTPError, OSError, TimeoutError) as error:
            return _exception_error(url, error, elapsed())


class RobotsCache:
    """robots.txt per origin (RFC 9309): 4xx allows all, 5xx or unreachable disallows all."""

    def __init__(self, ttl_seconds: float = 86_400) -> None:
        self.ttl = ttl_seconds
        self._rules: dict[str, tuple[float, RobotFileParser | bool]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, fetcher: Fetcher, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._rules.get(origin)
            if cached is None or time.monotonic() - cached[0] > self.ttl:
                cached = (time.monotonic(), await self._load(fetcher, origin))
                self._rules[origin] = cached
        rules = cached[1]
        if isinstance(rules, bool):
            return rules
        return rules.can_fetch(fetcher.settings.user_agent, url)

    @staticmethod
    async def _load(fetcher: Fetcher, origin: str) -> RobotFileParser | bool:
        outcome = await fetcher.get(f"{origin}/robots.txt", accept="text/plain")
        if isinstance(outcome, FetchError):
            return not (outcome.status is None or outcome.status >= 500
                        or outcome.reason == "rate_limited")
        parser = RobotFileParser()
        parser.parse(outcome.body.decode("utf-8", errors="replace").splitlines())
        return parser
