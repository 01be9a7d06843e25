"""HTTP fetching: the httpx clients of a collection pass, and the only module that sees httpx
(with `collectors.pools`, its connection pools, and `collectors.guard`, its guarded transport).

A fetch returns a `FetchResult` or a `FetchError` value (`collectors.outcome`); nothing above
this module handles an httpx exception, and no exception from one URL escapes `Fetcher.get`.
The client is polite (per-host concurrency and spacing, robots.txt for pages, conditional GET,
Retry-After) and bounded (timeouts including a total one, redirect limit, a cap on the
*decompressed* body so a gzip bomb is cut off, never inflated).

URLs that came from untrusted content (Related-News links, feed entry links, robots.txt and
the redirects they lead to) go through a second, guarded client (`collectors.guard`): public
addresses only, resolved once and pinned.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from collectors.guard import (
    BlockedAddress,
    GuardedTransport,
    Resolver,
    addresses_of,
    system_resolver,
)
from collectors.outcome import (
    FetchError,
    FetchResult,
    Reason,
    Severity,
    exception_error,
    status_error,
)
from collectors.pools import HostPools
from collectors.robots import RobotsCache
from collectors.urls import http_url, is_public_address, same_site
from config import Settings

REDIRECTS = (301, 302, 303, 307, 308)


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


@dataclass(frozen=True)
class _Path:
    """One of the pass's two ways out (plain or guarded): its transport, and what httpx's
    client would add to each request, kept here so that a request goes straight to the
    transport. `httpx.AsyncClient.send` wrapped each request in auth and redirect handling,
    an event hook, the cookie jar's request and response adapters and a timing stream, a
    sixth of the fetching process's time for a feed (issue 18); redirects are followed here
    anyway, and the cookie jar is consulted the way the client did, only when it can matter."""

    transport: httpx.AsyncBaseTransport
    headers: httpx.Headers    # the client's defaults with ours, as httpx.AsyncClient sets them
    cookies: httpx.Cookies
    timeout: dict[str, float | None]

    def request(self, url: str, headers: dict[str, str]) -> httpx.Request:
        """The request httpx.AsyncClient.build_request would make (merged headers, cookies,
        timeouts)."""
        merged = httpx.Headers(self.headers)
        merged.update(headers)
        request = httpx.Request("GET", url, headers=merged, extensions={"timeout": self.timeout})
        if self.cookies:  # an empty jar adds no Cookie header
            self.cookies.set_cookie_header(request)
        return request

    def keep_cookies(self, response: httpx.Response) -> None:
        """Store the response's cookies, as the client does; only a Set-Cookie header sets one."""
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:
            self.cookies.extract_cookies(response)


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    blocked_until: float = 0.0


class Fetcher:
    """One polite async HTTP client for a collection pass. Use as `async with Fetcher(s) as f`."""

    def __init__(self, settings: Settings, robots: RobotsCache | None = None,
                 resolve: Resolver = system_resolver) -> None:
        self.settings = settings
        self.robots = robots if robots is not None else RobotsCache()
        self._resolve = resolve
        self._hosts: dict[str, _Host] = {}
        self._global = asyncio.Semaphore(settings.concurrency)
        self._plain: _Path | None = None
        self._guarded: _Path | None = None
        self._open = False
        self._private_origins: dict[str, bool] = {}

    async def __aenter__(self) -> Fetcher:
        self._open = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._open = False
        for path in (self._plain, self._guarded):
            if path is not None:
                await path.transport.aclose()
        self._plain = self._guarded = None

    def _path(self, guarded: bool) -> _Path:
        """The plain or the guarded way out, made at its first request: each loads the CA
        bundle (0.1-0.3 s), and a pass with nothing to fetch needs neither (issue 18)."""
        assert self._open, "use Fetcher as an async context manager"
        path = self._guarded if guarded else self._plain
        if path is not None:
            return path
        s = self.settings
        # httpx.AsyncClient's own default headers, then ours over them (its headers setter)
        headers = httpx.Headers({"Accept": "*/*", "Accept-Encoding": "gzip, deflate",
                                 "Connection": "keep-alive", "User-Agent": s.user_agent})
        timeout = httpx.Timeout(s.read_timeout, connect=s.connect_timeout).as_dict()
        if guarded:
            path = self._guarded = _Path(GuardedTransport(s, self._resolve), headers,
                                         httpx.Cookies(), timeout)
        else:
            # the global limit is the `_global` semaphore; a pool per host (issue 18)
            path = self._plain = _Path(HostPools(s.host_concurrency, s.concurrency), headers,
                                       httpx.Cookies(), timeout)
        return path

    def _host(self, host: str) -> _Host:
        if host not in self._hosts:
            self._hosts[host] = _Host(asyncio.Semaphore(self.settings.host_concurrency))
        return self._hosts[host]

    async def _origin_is_private(self, host: str) -> bool:
        """Whether a source the user added lives on a private network (then its own site's
        links may stay there); resolved once per pass."""
        if host not in self._private_origins:
            try:
                addresses = await addresses_of(self._resolve, host, 0)
            except (OSError, UnicodeError):
                addresses = []
            self._private_origins[host] = any(not is_public_address(a) for a in addresses)
        return self._private_origins[host]

    async def _guarded_hop(self, host: str, untrusted_from: str | None) -> bool:
        """Whether this hop must go through the guarded client."""
        if untrusted_from is None or self.settings.allow_private_networks:
            return False
        return not (same_site(host, untrusted_from)
                    and await self._origin_is_private(untrusted_from))

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                  accept: str = "*/*", untrusted_from: str | None = None,
                  check_robots: bool = False) -> FetchResult | FetchError:
        """GET `url`, following redirects; conditional when validators are given.

        `untrusted_from` is the host of the page or feed whose content gave `url`: every hop
        then goes through the guarded client (public addresses only), except hops on that
        same site when the user's source itself is on a private network. `check_robots`
        obeys robots.txt (unless CAIT_RESPECT_ROBOTS=0). Never raises for a bad URL.
        """
        started = time.monotonic()
        try:
            return await self._get(url, etag, last_modified, accept, untrusted_from,
                                   check_robots, started)
        except (ValueError, UnicodeError, httpx.InvalidURL, httpx.HTTPError) as error:
            # Malformed hosts (IDNA `a..b`, soft hyphens, control characters) and Location
            # headers raise here and there inside httpx and idna; they are this URL's outcome.
            return FetchError(url[:2000], Reason.BAD_URL, Severity.HARD,
                              f"{type(error).__name__}: {str(error)[:200]}",
                              elapsed_ms=int((time.monotonic() - started) * 1000))

    async def _get(self, url: str, etag: str | None, last_modified: str | None, accept: str,
                   untrusted_from: str | None, check_robots: bool,
                   started: float) -> FetchResult | FetchError:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen: set[str] = set()
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            elapsed = int((time.monotonic() - started) * 1000)
            if http_url(current) is None:
                return FetchError(current[:2000], Reason.BAD_URL, Severity.HARD,
                                  f"not an http(s) URL: {current[:200]}", elapsed_ms=elapsed)
            host = urlsplit(current).hostname or ""
            guarded = await self._guarded_hop(host, untrusted_from)
            if check_robots and self.settings.respect_robots:
                # robots.txt of a page reached from untrusted content is untrusted too, even
                # when the page's own hop was not guarded: its redirects may lead anywhere
                refused = await self.robots.check(self, current, untrusted_from)
                if refused is not None:
                    return refused
            outcome = await self._one_request(current, headers, started, guarded)
            if isinstance(outcome, FetchError) or outcome.status not in REDIRECTS:
                return outcome
            location = outcome.headers.get("location")
            if not location:
                return FetchError(current, Reason.HTTP_ERROR, Severity.SOFT,
                                  f"HTTP {outcome.status} without Location", outcome.status)
            seen.add(current)
            target = http_url(location, current)
            if target is None:
                return FetchError(current, Reason.BAD_URL, Severity.HARD,
                                  f"redirect to a non-http(s) URL: {location[:200]}",
                                  outcome.status)
            current = target
            if current in seen:
                return FetchError(url, Reason.TOO_MANY_REDIRECTS, Severity.SOFT,
                                  f"redirect loop at {current[:200]}", outcome.status)
        return FetchError(url, Reason.TOO_MANY_REDIRECTS, Severity.SOFT,
                          f"more than {self.settings.max_redirects} redirects")

    async def _one_request(self, url: str, headers: dict[str, str], started: float,
                           guarded: bool) -> FetchResult | FetchError:
        host_name = urlsplit(url).netloc.lower()
        host = self._host(host_name)
        loop = asyncio.get_running_loop()
        # made (CA bundle loaded) before the host's spacing clock starts, not inside it
        path = self._path(guarded)
        async with host.semaphore:
            if host.blocked_until - loop.time() > self.settings.total_timeout:
                return FetchError(url, Reason.RATE_LIMITED, Severity.TEMPORARY,
                                  f"{host_name} asked us to wait; skipped in this pass",
                                  retry_after=host.blocked_until - loop.time())
            async with host.lock:
                wait = max(host.next_start, host.blocked_until) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                host.next_start = loop.time() + self.settings.host_delay_seconds
            async with self._global:
                outcome = await self._send(path, url, headers, started)
        if isinstance(outcome, FetchError) and outcome.retry_after:
            host.blocked_until = loop.time() + min(outcome.retry_after, 3600)
        return outcome

    async def _send(self, path: _Path, url: str, headers: dict[str, str],
                    started: float) -> FetchResult | FetchError:
        limit = self.settings.max_bytes

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self.settings.total_timeout):
                request = path.request(url, headers)
                response = await path.transport.handle_async_request(request)
                response.request = request
                try:
                    path.keep_cookies(response)
                    resp_headers = {k.lower(): v for k, v in response.headers.items()}
                    status = response.status_code
                    location = resp_headers.get("location")
                    if status in REDIRECTS and location is not None and http_url(
                            location, str(request.url)) is None:
                        return FetchError(url, Reason.BAD_URL, Severity.HARD,
                                          f"redirect to a non-http(s) URL: {location[:200]}",
                                          status, elapsed_ms=elapsed())
                    if status in REDIRECTS or status == 304:
                        return FetchResult(url, status, resp_headers, b"", elapsed(),
                                           not_modified=status == 304)
                    if status >= 400:
                        return status_error(url, status, resp_headers, elapsed())
                    declared = resp_headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit and not resp_headers.get(
                            "content-encoding"):
                        return FetchError(url, Reason.TOO_LARGE, Severity.SOFT,
                                          f"body of {declared} bytes exceeds {limit}", status)
                    try:
                        decoder = _Decoder(resp_headers.get("content-encoding", ""), limit)
                    except ValueError as error:
                        return FetchError(url, Reason.UNSUPPORTED_ENCODING, Severity.SOFT,
                                          f"Content-Encoding {error}", status)
                    async for chunk in response.aiter_raw():
                        decoder.feed(chunk)
                    return FetchResult(url, status, resp_headers, decoder.body(), elapsed())
                finally:
                    await response.aclose()
        except BlockedAddress as error:
            return FetchError(url, Reason.BLOCKED_ADDRESS, Severity.HARD, str(error),
                              elapsed_ms=elapsed())
        except _BodyTooLarge:
            return FetchError(url, Reason.TOO_LARGE, Severity.SOFT,
                              f"body exceeds {limit} bytes after decompression",
                              elapsed_ms=elapsed())
        except zlib.error as error:
            return FetchError(url, Reason.UNSUPPORTED_ENCODING, Severity.SOFT,
                              f"corrupt compressed body: {error}", elapsed_ms=elapsed())
        except (httpx.HTTPError, OSError, TimeoutError) as error:
            return exception_error(url, error, elapsed())


