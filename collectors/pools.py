"""Connection pools for `collectors.fetch`: one small httpx pool per origin instead of one big one.

httpcore's pool walks all of its connections, and for each idle one all of them again, every
time a request starts or ends; with the pass's 64 connections over many hosts that walk was
the largest cost of the fetching process after parsing (issue 18), and a full pool closed one
host's idle connection to open another host's, so keep-alive was rarely used. A pool per
origin holds at most CAIT_HOST_CONCURRENCY connections, so each walk is short and a host's
connections are kept for that host. The TLS context (the CA bundle, 0.1-0.3 s to load) is
made once and shared. So that a pass over thousands of hosts does not keep thousands of idle
sockets, an origin's pool is closed when its last request ends while more than `max_pools`
pools are open.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

_Origin = tuple[bytes, bytes, int | None]


class _CountedStream(httpx.AsyncByteStream):
    """A response body that reports, once, when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, done: Callable[[], Awaitable[None]]
                 ) -> None:
        self._stream, self._done, self._closed = stream, done, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if not self._closed:
                self._closed = True
                await self._done()


class HostPools(httpx.AsyncBaseTransport):
    """An httpx transport that keeps one `AsyncHTTPTransport` per origin."""

    def __init__(self, per_origin: int, max_pools: int) -> None:
        self._limits = httpx.Limits(max_connections=per_origin,
                                    max_keepalive_connections=per_origin)
        self._max_pools = max(1, max_pools)
        # loaded here, when the client is made (before any host's spacing clock starts)
        self._ssl: ssl.SSLContext = httpx.create_ssl_context()
        self._pools: dict[_Origin, httpx.AsyncHTTPTransport] = {}
        self._in_flight: dict[_Origin, int] = {}

    def _pool(self, origin: _Origin) -> httpx.AsyncHTTPTransport:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = httpx.AsyncHTTPTransport(verify=self._ssl,
                                                                  limits=self._limits)
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin: _Origin = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pool(origin)
        self._in_flight[origin] = self._in_flight.get(origin, 0) + 1

        async def done() -> None:
            if self._pools.get(origin) is not pool:  # closed with the whole transport
                return
            self._in_flight[origin] -= 1
            if self._in_flight[origin] == 0 and len(self._pools) > self._max_pools:
                del self._pools[origin], self._in_flight[origin]
                await pool.aclose()

        try:
            response = await pool.handle_async_request(request)
        except BaseException:
            await done()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(response.stream, done)
        return response

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        self._in_flight.clear()
        for pool in pools:
            await pool.aclose()
