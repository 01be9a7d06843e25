"""Outcomes of one fetch: `FetchResult` or `FetchError` (a reason and a severity).

The vocabulary of failure that the rest of the collectors speak: `schedule.py` weighs
severities, `update.py` records reasons, and `fetch.py` maps httpx's exceptions and HTTP
statuses onto them here, once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import cached_property

import httpx

from collectors.dedup import body_hash


class Severity(StrEnum):
    TEMPORARY = "temporary"  # will likely pass by itself: timeouts, 429/503, resets
    SOFT = "soft"            # something wrong that may be fixed: 5xx, bad content, parse error
    HARD = "hard"            # needs a person: 4xx, TLS, bad URL, blocked address


SEVERITY_WEIGHT = {Severity.TEMPORARY: 0.25, Severity.SOFT: 0.5, Severity.HARD: 1.0}

class Reason(StrEnum):
    """Why a fetch or parse failed: a fixed set, so logs and `fetch_log.outcome` stay greppable."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DNS = "dns"
    TLS = "tls"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    HTTP_ERROR = "http_error"
    RATE_LIMITED = "rate_limited"
    GONE = "gone"
    TOO_LARGE = "too_large"
    BAD_URL = "bad_url"
    BLOCKED_ADDRESS = "blocked_address"
    ROBOTS = "robots"
    UNSUPPORTED_ENCODING = "unsupported_encoding"
    PARSE_ERROR = "parse_error"
    NOT_A_FEED = "not_a_feed"
    EMPTY = "empty"
    EXTRACTION_FAILED = "extraction_failed"


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

    @cached_property
    def body_hash(self) -> str:
        """`dedup.body_hash` of the body, taken once per response (it was hashed twice when the
        feed had changed). A feed's body is hashed by the parser process instead
        (`prepare.prepare_changed_feed`)."""
        return body_hash(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class FetchError:
    url: str
    reason: Reason
    severity: Severity
    message: str
    status: int | None = None
    retry_after: float | None = None  # seconds
    elapsed_ms: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", Reason(self.reason))  # an unknown reason is a bug

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


def status_error(url: str, status: int, headers: dict[str, str], elapsed: int) -> FetchError:
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status == 410:
        return FetchError(url, Reason.GONE, Severity.HARD, "HTTP 410 Gone", status, None,
                          elapsed)
    if status == 429:
        return FetchError(url, Reason.RATE_LIMITED, Severity.TEMPORARY,
                          "HTTP 429 Too Many Requests", status, retry_after, elapsed)
    if status in (502, 503, 504):
        return FetchError(url, Reason.HTTP_ERROR, Severity.TEMPORARY, f"HTTP {status}", status,
                          retry_after, elapsed)
    if status >= 500:
        return FetchError(url, Reason.HTTP_ERROR, Severity.SOFT, f"HTTP {status}", status, None,
                          elapsed)
    return FetchError(url, Reason.HTTP_ERROR, Severity.HARD, f"HTTP {status}", status, None,
                      elapsed)


def exception_error(url: str, error: BaseException, elapsed: int) -> FetchError:
    text = str(error) or type(error).__name__
    if isinstance(error, (httpx.TimeoutException, TimeoutError)):
        return FetchError(url, Reason.TIMEOUT, Severity.TEMPORARY, f"timed out ({text})",
                          elapsed_ms=elapsed)
    if isinstance(error, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return FetchError(url, Reason.BAD_URL, Severity.HARD, text, elapsed_ms=elapsed)
    lowered = text.lower()
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return FetchError(url, Reason.TLS, Severity.HARD, text, elapsed_ms=elapsed)
    if "name or service not known" in lowered or "nodename nor servname" in lowered or (
            "temporary failure in name resolution" in lowered):
        return FetchError(url, Reason.DNS, Severity.SOFT, text, elapsed_ms=elapsed)
    return FetchError(url, Reason.CONNECTION, Severity.TEMPORARY, text, elapsed_ms=elapsed)
