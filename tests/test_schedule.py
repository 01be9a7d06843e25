"""Scheduling policy: pure, tested without a clock or a network."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from collectors.outcome import Severity
from collectors.schedule import Policy, adapt_interval, after_failure, after_success, cache_max_age

NOW = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)
POLICY = Policy(min_interval=600, max_interval=86_400, default_interval=3_600)


def rng() -> random.Random:
    return random.Random(7)


def test_interval_lengthens_when_nothing_is_new_and_shortens_when_most_is() -> None:
    assert adapt_interval(3600, 0, 20, POLICY) == 5400
    assert adapt_interval(3600, 15, 20, POLICY) == 1800
    assert adapt_interval(3600, 1, 20, POLICY) == 4320
    assert adapt_interval(3600, 5, 20, POLICY) == 3600


def test_interval_stays_within_bounds() -> None:
    assert adapt_interval(700, 20, 20, POLICY) == 600
    assert adapt_interval(80_000, 0, 20, POLICY) == 86_400


def test_feed_hint_and_cache_control_set_a_floor() -> None:
    d = after_success(NOW, 600, 20, 20, POLICY, rng(), feed_hint=7200)
    assert d.interval_seconds == 7200
    d = after_success(NOW, 600, 20, 20, POLICY, rng(), max_age=5000)
    assert d.interval_seconds == 5000
    assert cache_max_age("public, max-age=300, s-maxage=900") == 300
    assert cache_max_age("no-cache") is None


def test_success_resets_failures_and_jitter_stays_within_ten_percent() -> None:
    d = after_success(NOW, 3600, 5, 20, POLICY, rng())
    assert d.failure_score == 0 and d.consecutive_failures == 0
    delay = (d.next_fetch_at - NOW).total_seconds()
    assert 0.9 * 3600 <= delay <= 1.1 * 3600


def test_failures_back_off_by_severity_up_to_a_cap_and_never_stop() -> None:
    score, count = 0.0, 0
    delays = []
    for _ in range(40):
        d = after_failure(NOW, 3600, score, count, Severity.HARD, POLICY, rng())
        score, count = d.failure_score, d.consecutive_failures
        delays.append((d.next_fetch_at - NOW).total_seconds())
    assert delays[0] < delays[3] < delays[6]
    assert max(delays) <= 86_400
    assert delays[-1] >= 0.9 * 86_400  # still scheduled, at the cap
    assert count == 40


def test_temporary_failures_weigh_less_than_hard_ones() -> None:
    soft = after_failure(NOW, 3600, 2.0, 2, Severity.TEMPORARY, POLICY, rng())
    hard = after_failure(NOW, 3600, 2.0, 2, Severity.HARD, POLICY, rng())
    assert soft.failure_score == 2.25 and hard.failure_score == 3.0
    assert soft.next_fetch_at < hard.next_fetch_at


def test_retry_after_is_honoured() -> None:
    d = after_failure(NOW, 3600, 0.0, 0, Severity.TEMPORARY, POLICY, rng(), retry_after=7200)
    assert d.next_fetch_at >= NOW + timedelta(seconds=7200)
