"""A source's fetch state: what a pass writes of each source beside its articles (`store`),
within the caller's transaction — the source row's state and its `fetch_log` row.

Core statements, no ORM object: loading, changing and flushing the row was most of the
writing process's time per source (issue 18).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from collectors.outcome import FetchError
from collectors.schedule import Decision
from db.models import FetchLog, Source


@cache
def _source_update(columns: tuple[str, ...]) -> Any:
    """UPDATE sources SET (the columns) WHERE id = :source_id, one statement per column set."""
    return (update(Source).where(Source.id == bindparam("source_id"))
            .values({name: bindparam(name) for name in columns}))


@cache
def _fetch_log_insert() -> Any:
    return insert(FetchLog)


@dataclass(frozen=True)
class FetchRecord:
    """One source's outcome as `record_outcomes` writes it: its fetch state and fetch_log row."""

    source_id: int
    now: datetime
    decision: Decision
    status: str
    http_status: int | None
    error: FetchError | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    new_articles: int
    duplicates: int
    size: int
    duration_ms: int
    url: str

    def state(self) -> dict[str, Any]:
        """The source row's new values (only those this outcome sets)."""
        now, decision, error = self.now, self.decision, self.error
        values: dict[str, Any] = {
            "last_fetched_at": now, "lease_owner": None, "lease_expires_at": None,
            "next_fetch_at": decision.next_fetch_at, "interval_seconds": decision.interval_seconds,
            "failure_score": decision.failure_score,
            "consecutive_failures": decision.consecutive_failures, "last_status": self.status}
        if error is None:
            values.update(last_success_at=now, last_error=None)
            if self.etag is not None or self.last_modified is not None:
                values.update(etag=self.etag, last_modified=self.last_modified)
            if self.body_hash is not None:
                values["last_content_hash"] = self.body_hash
            if self.new_articles:
                values["last_new_article_at"] = now
        else:
            values["last_error"] = error.describe()
            if error.reason == "gone":
                values["disabled_reason"] = f"HTTP 410 Gone at {now:%Y-%m-%d %H:%M} UTC"
        return values

    def log_row(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "url": self.url, "started_at": self.now,
                "outcome": self.status, "http_status": self.http_status, "bytes": self.size,
                "new_articles": self.new_articles, "duplicates": self.duplicates,
                "error": self.error.describe() if self.error else None,
                "duration_ms": self.duration_ms}


def live_sources(session: Session, source_ids: Iterable[int]) -> set[int]:
    """Which of these sources still exist, their rows locked until the transaction ends (on
    PostgreSQL; SQLite has one writer at a time): a source removed while it was fetched has
    nothing written, its articles included."""
    ids = sorted(set(source_ids))  # in one order, as every writer locks them
    return set(session.scalars(select(Source.id).where(Source.id.in_(ids))
                               .order_by(Source.id).with_for_update()))


def record_outcomes(session: Session, records: list[FetchRecord]) -> None:
    """Update the sources' fetch state and append their fetch_log rows, for sources that
    `live_sources` found: one UPDATE per set of columns, run for all the sources that set
    them, and one INSERT (issue 18: two statements a source were most of a pass's round trips
    on PostgreSQL)."""
    if not records:
        return
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for record in records:
        values = record.state()
        by_columns.setdefault(tuple(values), []).append({**values, "source_id": record.source_id})
    connection = session.connection()  # Core statements on the session's transaction
    for columns, rows in by_columns.items():
        connection.execute(_source_update(columns), rows)
    connection.execute(_fetch_log_insert(), [record.log_row() for record in records])


def prune_fetch_log(session: Session, before: datetime) -> int:
    result = session.execute(delete(FetchLog).where(FetchLog.started_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
