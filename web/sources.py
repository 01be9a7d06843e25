"""Sources (health, last error, next fetch), the digest archive and the status: pages and
`/api/` routes over `db.queries` and the `digests` table (what `cait status`, `cait sources
list` and `cait digest` read)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import queries
from db.models import Digest, Source
from web.context import db, page, state

router = APIRouter()
DB = Annotated[Session, Depends(db)]
Week = Annotated[str, Path(pattern=r"^\d{4}-W\d{2}$")]
# A stored digest is self-contained (inline CSS, the chart as inline SVG, or a data: PNG in
# digests stored before the SVG) and has no scripts:
# it is shown under a policy that allows exactly that, and runs nothing.
DIGEST_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _source_json(s: Source) -> dict[str, Any]:
    return {"name": s.name, "kind": s.kind, "url": s.url, "enabled": s.enabled,
            "failing": s.consecutive_failures > 0, "consecutive_failures": s.consecutive_failures,
            "failure_score": round(s.failure_score, 3), "last_status": s.last_status,
            "last_error": s.last_error, "disabled_reason": s.disabled_reason,
            "last_fetched_at": _iso(s.last_fetched_at), "last_success_at": _iso(s.last_success_at),
            "next_fetch_at": _iso(s.next_fetch_at), "interval_seconds": s.interval_seconds}


@router.get("/api/sources", summary="Every source's health: failing first")
def api_sources(session: DB) -> list[dict[str, Any]]:
    return [_source_json(s) for s in queries.sources_by_health(session)]


@router.get("/sources", include_in_schema=False)
def sources_page(request: Request, session: DB) -> Response:
    rows = queries.sources_by_health(session)
    return page(request, "sources.html", sources=rows,
                failing=sum(1 for s in rows if s.consecutive_failures > 0))


def _digests(session: Session) -> list[tuple[str, datetime]]:
    return [(w, c) for w, c in session.execute(
        select(Digest.week, Digest.created_at).order_by(Digest.week.desc()))]


@router.get("/api/digests", summary="The stored weekly digests, newest week first")
def api_digests(session: DB) -> list[dict[str, Any]]:
    return [{"week": w, "created_at": _iso(c), "html": f"/digests/{w}"}
            for w, c in _digests(session)]


@router.get("/api/digests/{week}", summary="One stored digest as Markdown and HTML")
def api_digest(session: DB, week: Week) -> dict[str, Any]:
    found = _digest(session, week)
    return {"week": found.week, "created_at": _iso(found.created_at),
            "markdown": found.markdown, "html": found.html}


def _digest(session: Session, week: str) -> Digest:
    found = session.scalars(select(Digest).where(Digest.week == week)).first()
    if found is None:
        raise HTTPException(404, f"no stored digest for {week} (`cait digest --week {week}`)")
    return found


@router.get("/digests", include_in_schema=False)
def digests_page(request: Request, session: DB) -> Response:
    return page(request, "digests.html", digests=_digests(session))


@router.get("/digests/{week}", include_in_schema=False)
def digest_page(session: DB, week: Week) -> Response:
    return HTMLResponse(_digest(session, week).html,
                        headers={"Content-Security-Policy": DIGEST_CSP})


@router.get("/api/status", summary="Database, counts, model, workers, latest errors")
def api_status(request: Request, session: DB) -> dict[str, Any]:
    """The report of `cait status --format json`."""
    return queries.status_report(session, datetime.now(UTC),
                                 3 * state(request).settings.heartbeat_seconds)
