"""`SourceOutcome`: the one place that says which status and duration a source's line shows."""

from __future__ import annotations

from collectors.outcome import FetchError, FetchResult, Reason, Severity
from collectors.report import SourceOutcome


def test_status_and_duration_come_from_the_response_first() -> None:
    fetched = FetchResult("https://x.example/f", 200, {"cache-control": "max-age=60"}, b"x", 12)
    failure = FetchError("https://x.example/f", Reason.PARSE_ERROR, Severity.SOFT, "bad", 502,
                         elapsed_ms=40)
    both = SourceOutcome("failed", failure, fetched)
    assert (both.http_status, both.elapsed_ms, both.headers) == (200, 12, fetched.headers)
    only_error = SourceOutcome("failed", failure)
    assert (only_error.http_status, only_error.elapsed_ms, only_error.headers) == (502, 40, {})
    nothing = SourceOutcome("crashed")
    assert (nothing.http_status, nothing.elapsed_ms, nothing.items, nothing.pages) == (
        None, 0, [], {})
