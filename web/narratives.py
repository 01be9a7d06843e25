"""Narratives: the page and `/api/narratives` over `reports.narratives.build_narratives`, the
function `cait narratives` calls — one report, rendered as a table (CLI), JSON and HTML."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from common.vocabulary import THEMES
from web.context import day, db, page
from web.timeline import By, Since, Theme, Until

if TYPE_CHECKING:
    from reports.narratives import Narratives

router = APIRouter()
DB = Annotated[Session, Depends(db)]
OneTheme = Annotated[Theme, Query(description="The theme to follow.")]


def _narratives(session: Session, theme: str, by: str, since: date | None,
                until: date | None) -> Narratives:
    # imported here: the report pulls in SciPy and scikit-learn, which `cait serve` should
    # not load before someone asks for this page (as `cait narratives` does)
    from reports.narratives import build_narratives

    return build_narratives(session, theme, by=by, since=day(since, "since"),
                            until=day(until, "until"))


@router.get("/api/narratives", summary="How a theme's story changes per period: distinctive, "
                                       "entering and leaving terms, drift, sub-narratives")
def api_narratives(session: DB, theme: OneTheme, by: By = "week", since: Since = None,
                   until: Until = None) -> dict[str, Any]:
    """Exactly `cait narratives --theme T --format json` for the same options."""
    return _narratives(session, theme, by, since, until).to_json()


@router.get("/narratives", include_in_schema=False)
def narratives_page(request: Request, session: DB, theme: OneTheme = "chips",
                    by: By = "week", since: Since = None, until: Until = None) -> Response:
    result = _narratives(session, theme, by, since, until)
    # per period, the sub-narratives present in it: newest period first, as the timeline
    periods = [{"p": p, "clusters": [(c.label, c.trend[p.period]) for c in result.clusters
                                     if c.trend.get(p.period)]}
               for p in reversed(result.periods)]
    return page(request, "narratives.html", result=result, periods=periods, themes=THEMES,
                theme=theme, by=by, since=since, until=until)
