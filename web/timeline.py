"""Timeline and search: the pages and their `/api/` twins, over `reports.timeline.build_timeline`
and `reports.search.search` (the functions `cait timeline` and `cait search` call)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from common.vocabulary import THEMES
from reports.render import hits_json
from reports.search import Hit, search
from reports.svg import timeline_svg
from reports.timeline import Timeline, TimelineRow, build_timeline, period_span
from web.context import NO_NUL, day, db, page

router = APIRouter()

Theme = Literal["chips", "data", "talent", "open_source"]
assert set(Theme.__args__) == set(THEMES)  # type: ignore[attr-defined]  # one list of themes
Themes = Annotated[list[Theme] | None, Query(description="A theme; repeat for several.")]
By = Annotated[Literal["week", "month"], Query(description="week | month")]


def _blank_is_none(value: object) -> object:
    # The pages' filter forms send every field, the empty ones as `since=&until=&china_ai=`:
    # an empty field means "not given", never a 422.
    return None if value == "" else value


Blank = BeforeValidator(_blank_is_none)
Since = Annotated[date | None, Blank,
                  Query(description="From this date (YYYY-MM-DD), UTC.")]
Until = Annotated[date | None, Blank,
                  Query(description="Before this date (YYYY-MM-DD), UTC.")]
Source = Annotated[str | None, Query(max_length=200, pattern=NO_NUL,
                                     description="Only this source.")]
Words = Annotated[str | None, Query(max_length=1000, pattern=NO_NUL,
                                    description="Full-text query, as `cait search` takes it.")]
ChinaAI = Annotated[Literal["yes", "no"] | None, Blank, Query(alias="china_ai")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Duplicates = Annotated[Literal["yes", "no"], Query(
    description="no: leave out near-duplicates, as the timeline's counts do.")]
DB = Annotated[Session, Depends(db)]


def _timeline(session: Session, theme: list[Theme] | None, by: str, since: date | None,
              until: date | None, source: str | None) -> Timeline:
    return build_timeline(session, themes=list(theme) if theme else None, by=by,
                          since=day(since, "since"), until=day(until, "until"), source=source)


@router.get("/api/timeline", summary="Per theme and period: articles, share, change, spikes")
def api_timeline(session: DB, by: By = "week", theme: Themes = None, since: Since = None,
                 until: Until = None, source: Source = None) -> list[dict[str, Any]]:
    """Exactly the rows of `cait timeline --format json` for the same options."""
    return _timeline(session, theme, by, since, until, source).to_json()


def _search(session: Session, q: str | None, theme: list[Theme] | None, source: str | None,
            since: date | None, until: date | None, china_ai: str | None,
            limit: int, duplicates: str = "yes") -> list[Hit]:
    return search(session, q, themes=list(theme) if theme else None, source=source or None,
                  since=day(since, "since"), until=day(until, "until"),
                  china_ai=None if china_ai is None else china_ai == "yes",
                  originals_only=duplicates == "no", limit=limit)


@router.get("/api/search", summary="Articles matching a query and filters")
def api_search(session: DB, q: Words = None, theme: Themes = None, source: Source = None,
               since: Since = None, until: Until = None, china_ai: ChinaAI = None,
               limit: Limit = 20, duplicates: Duplicates = "yes") -> list[dict[str, Any]]:
    """The rows of `cait search --format json`: ranked by the query, else newest first."""
    return hits_json(_search(session, q, theme, source, since, until, china_ai, limit,
                             duplicates))


@router.get("/api/articles", summary="The newest articles, with filters")
def api_articles(session: DB, theme: Themes = None, source: Source = None, since: Since = None,
                 until: Until = None, china_ai: ChinaAI = None,
                 limit: Limit = 50) -> list[dict[str, Any]]:
    """Articles newest first (the search without a query)."""
    return hits_json(_search(session, None, theme, source, since, until, china_ai, limit))


@lru_cache(maxsize=8192)  # every page asks for each point twice (chart and table): 1,300 at 3 years
def search_link(period: str, theme: str) -> str:
    """The search page listing the China-AI articles behind one point of the timeline: the
    ones it counts, so near-duplicates are left out (the search alone lists them)."""
    start, end = period_span(period)
    return "/search?" + urlencode({"theme": theme, "since": start.isoformat(),
                                   "until": end.isoformat(), "china_ai": "yes", "limit": 100,
                                   "duplicates": "no"})


@router.get("/", include_in_schema=False)
def timeline_page(request: Request, session: DB, by: By = "week", theme: Themes = None,
                  since: Since = None, until: Until = None) -> Response:
    result = _timeline(session, theme, by, since, until, None)
    cells: dict[str, list[TimelineRow]] = {p: [] for p in result.periods}
    for row in result.rows:  # grouped in one pass (per period, a scan of all rows was 15 ms)
        cells[row.period].append(row)
    table = [{"period": p, "gap": result.gaps.get(p), "cells": cells[p]}
             for p in result.periods]
    return page(request, "timeline.html", timeline=result, table=list(reversed(table)),
                chart=Markup(timeline_svg(result, search_link)) if result.periods else None,
                themes=THEMES, chosen=set(theme or []), by=by, since=since, until=until,
                link=search_link)


@router.get("/search", include_in_schema=False)
def search_page(request: Request, session: DB, q: Words = None, theme: Themes = None,
                source: Source = None, since: Since = None, until: Until = None,
                china_ai: ChinaAI = None, limit: Limit = 50,
                duplicates: Duplicates = "yes") -> Response:
    hits = _search(session, q, theme, source, since, until, china_ai, limit, duplicates)
    return page(request, "search.html", hits=hits, q=q or "", themes=THEMES,
                chosen=set(theme or []), source=source or "", since=since, until=until,
                china_ai=china_ai, limit=limit, duplicates=duplicates)
