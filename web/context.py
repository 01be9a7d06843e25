"""What the dashboard's route modules share: the app's state, a database session per request,
the logged-in user, the write guard (login + CSRF) and the page renderer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from config import Settings
from db.session import session_scope
from reports.escape import clean, safe_url
from web import auth

HERE = Path(__file__).resolve().parent
# The pattern of free text from a request: PostgreSQL text cannot hold NUL, so such a value is
# refused at the edge (422), not by the database as an error (`source=%00` was a 500).
NO_NUL = r"^[^\x00]*$"


@dataclass
class WebState:
    settings: Settings
    engine: Engine
    users: dict[str, str]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


# Autoescaping on for every template: untrusted text is shown, never read as markup.
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))
TEMPLATES.filters["clean"] = clean          # control characters out, length capped
TEMPLATES.filters["safe_url"] = safe_url    # only http(s) links; javascript: becomes '#'
TEMPLATES.filters["when"] = _when


def state(request: Request) -> WebState:
    found: WebState = request.app.state.web
    return found


def db(request: Request) -> Iterator[Session]:
    """A session for one request: committed when the route returns, rolled back on error."""
    with session_scope(state(request).engine) as session:
        yield session


def current_user(request: Request) -> str | None:
    user = request.session.get("user")
    return user if isinstance(user, str) and user in state(request).users else None


def check_write(request: Request, token: str | None) -> str:
    """The logged-in user allowed to write, after the CSRF check; else 401 or 403."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "log in to write")
    if not auth.csrf_ok(request.session, token):
        raise HTTPException(403, "missing or wrong CSRF token")
    return user


def page(request: Request, template: str, status_code: int = 200,
         **values: Any) -> HTMLResponse:
    """A page from its template, with the user and a CSRF token for its forms."""
    html = TEMPLATES.get_template(template).render(
        user=current_user(request), csrf=auth.csrf_token(request.session),
        login_required=state(request).settings.web_login_required, path=request.url.path,
        **values)
    return HTMLResponse(html, status_code=status_code)


def day(value: date | None, name: str) -> datetime | None:
    """A `since`/`until` date as the reports take it (UTC midnight); 422 outside 1970–2100."""
    if value is None:
        return None
    if not 1970 <= value.year <= 2100:  # week arithmetic past the calendar's ends overflows
        raise HTTPException(422, f"{name} must be a date between 1970 and 2100")
    return datetime.combine(value, time(), UTC)
