"""The guarded connection path for URLs that came from untrusted content.

It resolves each host once, refuses unless every address is public
(`collectors.urls.is_public_address`), and connects to the address it checked, so a DNS answer
that changes between check and connect (rebinding) cannot reach inside; a lookup that fails
refuses too (fail closed). TLS still verifies the host name: SNI and the Host header keep the
name, only the socket is pinned. Part of the fetch edge: only `collectors.fetch` uses it, and
nothing above that module sees httpx.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from collectors.urls import is_ip_literal, is_public_address
from config import Settings

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def addresses_of(resolve: Resolver, host: str, port: int) -> list[str]:
    return [host.strip("[]")] if is_ip_literal(host) else await resolve(host, port)


class BlockedAddress(Exception):
    """A guarded connection was refused: the host resolves to a non-public address."""


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolve once, check every address, connect to the checked address (fail closed)."""

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await addresses_of(self._resolve, host, port)
        except (OSError, UnicodeError) as error:
            raise BlockedAddress(f"{host} could not be resolved ({error})") from None
        refused = [a for a in addresses if not is_public_address(a)]
        if refused or not addresses:
            raise BlockedAddress(f"{host} resolves to {refused[0] if refused else 'nothing'}, "
                                 f"not a public address")
        return await self._inner.connect_tcp(addresses[0], port, timeout=timeout,
                                             local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never reached from untrusted links")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose sockets go through `PinnedBackend`."""

    def __init__(self, settings: Settings, resolve: Resolver) -> None:
        super().__init__()
        # httpx has no public hook for the network backend; the pool is rebuilt with one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
            network_backend=PinnedBackend(resolve))
