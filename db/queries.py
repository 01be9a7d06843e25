"""Named queries: each rule the tool relies on ("which sources are due", …) defined once."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, any_, bindparam, func, or_, select
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.types import TypeEngine

from common.vocabulary import RELEVANCE
from db.models import (
    Article,
    ArticleTheme,
    FetchLog,
    Label,
    ModelVersion,
    Source,
    WorkerHeartbeat,
)


def sources_due(now: datetime) -> Select[Any]:
    """Enabled, unmuted sources whose next fetch time has come (or was never set) and that
    no worker holds an unexpired lease on."""
    return (
        select(Source)
        .where(Source.enabled.is_(True), Source.disabled_reason.is_(None))
        .where(or_(Source.next_fetch_at.is_(None), Source.next_fetch_at <= now))
        .where(or_(Source.lease_expires_at.is_(None), Source.lease_expires_at <= now))
        .order_by(Source.next_fetch_at.is_not(None), Source.next_fetch_at, Source.id)
    )


def claim_due_sources(session: Session, now: datetime, owner: str, lease_seconds: int,
                      limit: int) -> list[Source]:
    """Lease up to `limit` due sources to `owner` (the caller commits).

    On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so concurrent workers
    claim disjoint sets; a lease that is not released (a killed worker) expires after
    `lease_seconds` and the source is due again. SQLite has a single worker (see worker.py).
    """
    stmt = sources_due(now).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Source)
    rows = list(session.scalars(stmt))
    until = now + timedelta(seconds=lease_seconds)
    for row in rows:
        row.lease_owner, row.lease_expires_at = owner, until
    session.flush()
    return rows


def release_leases(session: Session, owner: str, source_ids: list[int]) -> None:
    """Give back leases of sources a stopped pass did not get to."""
    for row in session.scalars(select(Source).where(Source.id.in_(source_ids),
                                                    Source.lease_owner == owner)):
        row.lease_owner, row.lease_expires_at = None, None


def held_leases(session: Session, now: datetime) -> tuple[int, datetime | None]:
    """How many sources are under an unexpired lease, and when the last one expires."""
    count, until = session.execute(
        select(func.count(), func.max(Source.lease_expires_at))
        .where(Source.lease_expires_at > now)).one()
    return int(count), until


def reclaim_dead_leases(session: Session, prefix: str, alive: Callable[[int], bool]) -> int:
    """Release leases whose owner is `prefix` + a process id that `alive` says is gone.

    `cait collect` leases as `cli@HOST:PID`; after a kill -9 its leases would hold the sources
    for CAIT_LEASE_SECONDS, and a plain re-run would silently do nothing (issue 13).
    """
    released = 0
    for row in session.scalars(select(Source).where(Source.lease_owner.startswith(
            prefix, autoescape=True))):
        pid = (row.lease_owner or "")[len(prefix):]
        if pid.isdigit() and not alive(int(pid)):
            row.lease_owner, row.lease_expires_at = None, None
            released += 1
    session.flush()
    return released


def in_bound_list(column: ColumnElement[Any] | QueryableAttribute[Any], name: str,
                  dialect: str, item_type: TypeEngine[Any]) -> ColumnElement[bool]:
    """`column IN (…)` with the whole list bound as one value named `name` (`bound_list`): an
    array for PostgreSQL's `= ANY`, a JSON array for SQLite's `json_each`. The statement's
    text is then the same for any number of values, so it is compiled and parsed once: an
    expanding IN renders every value into the statement, and at thousands of values
    SQLAlchemy's rendering and psycopg's parsing of the text took longer than the query
    (issue 18: half of the digest's 2.3 s at 1M articles on PostgreSQL). Both forms use the
    column's index."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(name, type_=ARRAY(item_type)))
    values = func.json_each(bindparam(name, type_=Text)).table_valued("value")
    return column.in_(select(values.c.value))


def bound_list(dialect: str, values: Sequence[Any]) -> Any:
    """A list as `in_bound_list` binds it."""
    return list(values) if dialect == "postgresql" else json.dumps(list(values))


def dated_between(start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    """Articles dated (published_at, else first_seen_at) in [start, end), written so that
    the indexes on both columns serve it (COALESCE(...) would scan every row)."""
    published, seen = Article.published_at, Article.first_seen_at
    by_published: list[ColumnElement[bool]] = [published.is_not(None)]
    by_seen: list[ColumnElement[bool]] = [published.is_(None)]
    if start is not None:
        by_published.append(published >= start)
        by_seen.append(seen >= start)
    if end is not None:
        by_published.append(published < end)
        by_seen.append(seen < end)
    return or_(and_(*by_published), and_(*by_seen))


def source_by_name(session: Session, name: str) -> Source | None:
    return session.scalars(select(Source).where(Source.name == name)).one_or_none()


def current_model(session: Session) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.is_current.is_(True))
        .order_by(ModelVersion.created_at.desc())
    ).first()


@dataclass(frozen=True)
class Counts:
    sources: int
    sources_enabled: int
    sources_due: int
    articles: int
    classified: int
    china_ai: int
    labelled: int


def counts(session: Session, now: datetime) -> Counts:
    def scalar(stmt: Select[Any]) -> int:
        return int(session.scalar(stmt) or 0)

    due = sources_due(now).with_only_columns(func.count()).order_by(None)
    return Counts(
        sources=scalar(select(func.count()).select_from(Source)),
        sources_enabled=scalar(select(func.count()).select_from(Source)
                               .where(Source.enabled.is_(True))),
        sources_due=scalar(due),
        articles=scalar(select(func.count()).select_from(Article)),
        classified=scalar(select(func.count()).select_from(ArticleTheme)
                          .where(ArticleTheme.theme == RELEVANCE)),
        china_ai=scalar(select(func.count()).select_from(ArticleTheme)
                        .where(ArticleTheme.theme == RELEVANCE, ArticleTheme.assigned.is_(True))),
        labelled=scalar(select(func.count(func.distinct(Label.article_id)))),
    )


def workers(session: Session) -> list[WorkerHeartbeat]:
    """Worker heartbeats, most recent first."""
    return list(session.scalars(select(WorkerHeartbeat)
                                .order_by(WorkerHeartbeat.last_beat_at.desc())))


def latest_errors(session: Session, limit: int = 5) -> list[tuple[FetchLog, str | None]]:
    """The most recent failed fetch attempts, newest first, with their source's name."""
    rows = session.execute(
        select(FetchLog, Source.name)
        .join(Source, Source.id == FetchLog.source_id, isouter=True)
        .where(FetchLog.error.is_not(None))
        .order_by(FetchLog.started_at.desc(), FetchLog.id.desc())
        .limit(limit)
    ).all()
    return [(log, name) for log, name in rows]


def sources_by_health(session: Session) -> list[Source]:
    """Every source, the failing ones first (worst failure score first), then by name."""
    return list(session.scalars(select(Source).order_by(
        (Source.consecutive_failures > 0).desc(), Source.failure_score.desc(), Source.name)))


def status_report(session: Session, now: datetime, stale_after: float) -> dict[str, Any]:
    """What `cait status --format json` and `/api/status` show: database, schema, counts,
    model, workers (alive when they beat within `stale_after` seconds), latest errors."""
    from db import migrate
    from db.session import describe_url

    engine = session.get_bind().engine
    revision = migrate.current_revision(engine)
    model = current_model(session)
    return {
        "database": describe_url(str(engine.url)),
        "schema_revision": revision,
        "schema_up_to_date": revision == migrate.head_revision(),
        "counts": counts(session, now).__dict__,
        "model_version": model.version if model else None,
        "workers": [{"worker_id": b.worker_id, "state": b.state, "pid": b.pid,
                     "last_beat_at": b.last_beat_at.isoformat(),
                     "alive": b.stopped_at is None
                     and (now - b.last_beat_at).total_seconds() < stale_after}
                    for b in workers(session)],
        "latest_errors": [{"source": name, "at": log.started_at.isoformat(),
                           "outcome": log.outcome, "error": log.error}
                          for log, name in latest_errors(session)],
    }
