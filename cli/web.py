"""`cait serve` (the web dashboard and JSON API, `web/`) and `cait web-user add` (its users).

uvicorn and FastAPI are imported inside the commands, so other commands start quickly.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from cli._common import console, err_console, settings
from common.errors import UserError

app = typer.Typer()
users_app = typer.Typer(help="Users of the web dashboard (`cait serve`).", no_args_is_help=True)
log = logging.getLogger("cait.web")


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine "
                                           "only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """The web dashboard and JSON API over the database, until stopped (Ctrl-C, SIGTERM).

    Pages: timeline, search, articles (label tags in place), sources, digests; the API is
    under /api/, described at /openapi.json.

    Example: cait serve
    Example: CAIT_WEB_USERS="$(cait web-user add alice)" cait serve --port 8080
    """
    import uvicorn

    from web.app import create_app

    config = settings()
    application = create_app(config)
    users = len(application.state.web.users)
    # uvicorn stops gracefully on SIGINT/SIGTERM and then raises the signal again for the
    # handler that was there before it: this one makes that a clean exit with status 0.
    stopped: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, remember)
    err_console.print(f"cait serve: http://{host}:{port}/ ({users} users; reading "
                      f"{'needs login' if config.web_login_required else 'open'}); "
                      f"Ctrl-C stops", highlight=False, markup=False)
    server = uvicorn.Server(uvicorn.Config(application, host=host, port=port,
                                           log_level=config.log_level.lower(),
                                           access_log=False, server_header=False))
    server.run()
    if not server.started and not stopped:
        raise UserError(f"cannot serve on {host}:{port} (in use, or not an address here)")
    log.info("cait serve stopped")


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="The user's name (shown on the labels they "
                                             "write).")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin.")] = False,
) -> None:
    """Hash a password (Argon2id) and print NAME:HASH for CAIT_WEB_USERS, or add it to
    CAIT_WEB_USERS_FILE when that is set.

    Example: cait web-user add alice
    Example: echo "$PASSWORD" | cait web-user add bob --password-stdin
    """
    from web.auth import add_to_file, user_line

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True,
                                err=True)
    line = user_line(name, password)
    users_file = settings().web_users_file
    if users_file:
        add_to_file(Path(users_file), line)
        err_console.print(f"{name} added to {users_file}", highlight=False, markup=False)
    else:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
