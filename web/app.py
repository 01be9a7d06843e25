"""The dashboard's FastAPI app: state, middleware (signed sessions, security headers, the
read gate), error pages, and the route modules.

Security headers on every response: a Content-Security-Policy with no inline script or style
(`default-src 'self'`; the pages load only /static), no framing, no sniffing, no referrer.
A stored digest is shown as its own self-contained HTML under a stricter policy of its own
(`web.sources`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from common.errors import UserError, one_line
from config import Settings
from db import migrate
from db.session import describe_url, make_engine
from web import articles, auth, login, narratives, sources, timeline
from web.context import HERE, WebState, current_user, page

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "no-referrer"}
# Sent with CAIT_WEB_HTTPS only: over plain HTTP (the default, on 127.0.0.1) browsers ignore
# it, and a host that once sent it could not be reached over HTTP again for a year.
HSTS = {"Strict-Transport-Security": "max-age=31536000"}
# Open even when reading needs login: the login itself, the shipped assets, the API's description.
OPEN_PATHS = ("/login", "/logout", "/static/", "/favicon.ico", "/openapi.json", "/api/session",
              "/api/login")


def create_app(settings: Settings) -> FastAPI:
    """The app over the configured database; an uninitialised database is a `UserError`."""
    engine = make_engine(settings.effective_database_url)
    if migrate.current_revision(engine) is None:
        raise UserError(f"database {describe_url(str(engine.url))} is not initialised: run "
                        f"`cait init`")
    app = FastAPI(title="cait", version="1",
                  description="China-AI coverage tracker: timelines, articles, search, labels.",
                  docs_url=None, redoc_url=None)  # their pages load assets from the internet
    app.state.web = WebState(settings, engine, auth.load_users(settings))
    headers = {**HEADERS, **HSTS} if settings.web_https else HEADERS

    @app.middleware("http")
    async def gate_and_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if (settings.web_login_required and current_user(request) is None
                and not path.startswith(OPEN_PATHS)):
            if path.startswith("/api/"):
                response: Response = JSONResponse({"detail": "log in to read"}, 401)
            else:
                response = RedirectResponse("/login", 303)
        else:
            response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    # outermost: the session is read before the gate above
    app.add_middleware(SessionMiddleware, secret_key=auth.session_secret(settings),
                       session_cookie="cait_session", same_site="strict",
                       https_only=settings.web_https,
                       max_age=14 * 24 * 3600)

    @app.exception_handler(UserError)
    async def user_error(request: Request, error: UserError) -> Response:
        return _error(request, 400, one_line(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return _error(request, error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": _jsonable(error.errors())}, 422)
        return _error(request, 422, "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
            for e in error.errors()))

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # browsers ask for it on every document, the stored digests' too: a 404 each time
        # would be a console error on every page
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    for module in (timeline, narratives, articles, sources, login):
        app.include_router(module.router)
    return app


def _jsonable(errors: object) -> object:
    import json

    return json.loads(json.dumps(errors, default=str))


def _error(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status)
    return page(request, "error.html", status_code=status, status=status, message=message)
