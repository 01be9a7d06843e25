"""Logging in and out: the form, and the same for API clients (`/api/session`, `/api/login`).

A login is a write too: it needs the session's CSRF token (no login CSRF). A new session
key is not needed for a signed-cookie session: the cookie is re-signed with the user in it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Header, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from web import auth
from web.context import current_user, page, state

router = APIRouter()


def _log_in(request: Request, name: str, password: str, token: str | None) -> None:
    if not auth.csrf_ok(request.session, token):
        raise HTTPException(403, "missing or wrong CSRF token")
    if not auth.verify(state(request).users, name, password):
        raise HTTPException(401, "wrong name or password")
    request.session["user"] = name


@router.get("/login", include_in_schema=False)
def login_page(request: Request) -> Response:
    return page(request, "login.html", message=None)


@router.post("/login", include_in_schema=False)
def login_form(request: Request, name: Annotated[str, Form(max_length=100)],
               password: Annotated[str, Form(max_length=1000)],
               csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    try:
        _log_in(request, name, password, csrf)
    except HTTPException as error:
        return page(request, "login.html", status_code=error.status_code,
                    message=str(error.detail))
    return RedirectResponse("/", 303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    if not auth.csrf_ok(request.session, csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    request.session.clear()
    return RedirectResponse("/", 303)


class SessionInfo(BaseModel):
    user: str | None
    csrf_token: str
    login_required: bool


class Credentials(BaseModel):
    # bounded like the form's fields: Argon2 over a megabyte "password" is work for nothing
    name: str = Field(max_length=100)
    password: str = Field(max_length=1000)


@router.get("/api/session", response_model=SessionInfo)
def session_info(request: Request) -> SessionInfo:
    """Who is logged in, and the CSRF token to send as `X-CSRF-Token` with every write."""
    return SessionInfo(user=current_user(request), csrf_token=auth.csrf_token(request.session),
                       login_required=state(request).settings.web_login_required)


@router.post("/api/login", response_model=SessionInfo)
def api_login(request: Request, credentials: Credentials,
              x_csrf_token: Annotated[str | None, Header()] = None) -> SessionInfo:
    """Log in (the session cookie carries the user); needs the token from `/api/session`."""
    _log_in(request, credentials.name, credentials.password, x_csrf_token)
    return session_info(request)
