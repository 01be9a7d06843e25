"""robots.txt (RFC 9309) per origin, parsed by protego.

protego implements the RFC's longest-match rule and `*`/`$` wildcards; the standard library's
parser takes the first matching rule and ignores wildcards, so `Disallow: /*/amp/` would not
block `/2026/amp/x`. A robots.txt reached from an untrusted link is fetched through the same
guarded path as the link (its redirects included).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from protego import Protego

from collectors.outcome import FetchError, Reason, Severity

if TYPE_CHECKING:
    from collectors.fetch import Fetcher


class RobotsCache:
    """robots.txt per origin (RFC 9309): 4xx allows all, 5xx or unreachable disallows all."""

    def __init__(self, ttl_seconds: float = 86_400) -> None:
        self.ttl = ttl_seconds
        # keyed by (origin, reached from an untrusted link): a refused untrusted fetch of
        # robots.txt must not stand for the user's own trusted fetches of the same origin
        self._rules: dict[tuple[str, bool], tuple[float, Protego | bool | FetchError]] = {}
        self._locks: dict[tuple[str, bool], asyncio.Lock] = {}

    async def check(self, fetcher: Fetcher, url: str, untrusted_from: str | None = None
                    ) -> FetchError | None:
        """None when robots.txt lets cait fetch `url`, else the refusal as a `FetchError`
        (reason `robots`, or `blocked_address` when robots.txt itself may not be reached).
        robots.txt is fetched once per origin and day."""
        rules = await self._rules_for(fetcher, url, untrusted_from)
        if isinstance(rules, FetchError):
            return FetchError(url, rules.reason, rules.severity, rules.message)
        if rules is True or (not isinstance(rules, bool)
                             and rules.can_fetch(url, fetcher.settings.user_agent)):
            return None
        return FetchError(url, Reason.ROBOTS, Severity.HARD, "disallowed by robots.txt")

    async def sitemaps(self, fetcher: Fetcher, url: str) -> list[str]:
        """The `Sitemap:` lines of the robots.txt of `url`'s origin (sitemaps.org: they may
        name any host), from the same cached copy that `check` reads."""
        rules = await self._rules_for(fetcher, url, None)
        return list(rules.sitemaps) if isinstance(rules, Protego) else []

    async def _rules_for(self, fetcher: Fetcher, url: str, untrusted_from: str | None
                         ) -> Protego | bool | FetchError:
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc.lower()}", untrusted_from is not None)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._rules.get(key)
            if cached is None or time.monotonic() - cached[0] > self.ttl:
                cached = (time.monotonic(), await self._load(fetcher, key[0], untrusted_from))
                self._rules[key] = cached
        return cached[1]

    @staticmethod
    async def _load(fetcher: Fetcher, origin: str, untrusted_from: str | None
                    ) -> Protego | bool | FetchError:
        outcome = await fetcher.get(f"{origin}/robots.txt", accept="text/plain",
                                    untrusted_from=untrusted_from)
        if isinstance(outcome, FetchError):
            if outcome.reason in (Reason.BLOCKED_ADDRESS, Reason.BAD_URL):
                return outcome
            return not (outcome.status is None or outcome.status >= 500
                        or outcome.reason == Reason.RATE_LIMITED)
        try:
            return Protego.parse(outcome.body.decode("utf-8", errors="replace"))
        except Exception:  # RFC 9309 2.2.2: what cannot be parsed is ignored, i.e. allowed
            return True
