"""When to poll a source next: a pure function of its state, the outcome and the server's hints.

No clock and no I/O here; `update.py` passes `now` and a random source for jitter.

After a success the interval adapts to how much was new (as Media Cloud's rss-fetcher does:
mostly duplicates → poll less often, mostly new → more often), bounded to
[min_interval, max_interval] and never shorter than the feed's own hint (`<ttl>`,
`sy:updatePeriod`) or the response's Cache-Control max-age. After a failure the source
backs off exponentially in its severity-weighted failure score, with jitter, capped at
max_interval; it is retried at that cap forever and never disabled for errors — only HTTP
410 Gone mutes a source, and that is recorded in `disabled_reason`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.outcome import SEVERITY_WEIGHT, Severity

JITTER = 0.1
LONGEST_RETRY_AFTER = 7 * 86_400


@dataclass(frozen=True)
class Policy:
    min_interval: int = 600
    max_interval: int = 86_400
    default_interval: int = 3_600


@dataclass(frozen=True)
class Decision:
    next_fetch_at: datetime
    interval_seconds: int
    failure_score: float
    consecutive_failures: int


def cache_max_age(cache_control: str | None) -> int | None:
    """max-age (or s-maxage) seconds from a Cache-Control header."""
    if not cache_control:
        return None
    match = re.search(r"(?:s-)?max-age\s*=\s*\"?(\d+)", cache_control, re.I)
    return int(match.group(1)) if match else None


def _jittered(seconds: float, rng: random.Random) -> float:
    return seconds * rng.uniform(1 - JITTER, 1 + JITTER)


def adapt_interval(current: int, new_items: int, seen_items: int, policy: Policy) -> int:
    """The next poll interval after a successful fetch that saw `seen_items` entries."""
    if seen_items == 0 or new_items == 0:
        factor = 1.5            # nothing new: back off gently
    elif new_items / seen_items > 0.5:
        factor = 0.5            # mostly new: we may be missing items between polls
    elif new_items / seen_items < 0.1:
        factor = 1.2
    else:
        factor = 1.0
    return int(min(policy.max_interval, max(policy.min_interval, current * factor)))


def after_success(now: datetime, interval: int, new_items: int, seen_items: int,
                  policy: Policy, rng: random.Random, feed_hint: int | None = None,
                  max_age: int | None = None) -> Decision:
    """Schedule after a fetch that worked (including 304 Not Modified: new = seen = 0)."""
    adapted = adapt_interval(interval or policy.default_interval, new_items, seen_items, policy)
    floor = max(feed_hint or 0, max_age or 0)
    adapted = int(min(policy.max_interval, max(adapted, floor)))
    delay = min(_jittered(adapted, rng), policy.max_interval)
    return Decision(now + timedelta(seconds=delay), adapted, 0.0, 0)


def after_failure(now: datetime, interval: int, failure_score: float, consecutive: int,
                  severity: Severity, policy: Policy, rng: random.Random,
                  retry_after: float | None = None) -> Decision:
    """Schedule after a failed fetch: exponential in the weighted failure score, capped."""
    score = failure_score + SEVERITY_WEIGHT[severity]
    backoff = min(policy.max_interval, policy.min_interval * 2 ** score)
    delay = min(_jittered(backoff, rng), policy.max_interval)
    if retry_after is not None:
        delay = max(delay, min(retry_after, LONGEST_RETRY_AFTER))
    return Decision(now + timedelta(seconds=delay), interval or policy.default_interval,
                    score, consecutive + 1)
