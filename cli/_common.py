"""What every `cait` command shares: the group that maps errors, consoles, settings, sessions.

Errors a person can act on (`CaitError`, database unreachable) become one line on stderr and
exit status 1 here, and only here; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.core import TyperGroup

from common.errors import CaitError, UserError, one_line
from config import Settings, load_settings
from db import migrate
from db.session import describe_url, get_engine, session_scope
from reports.escape import clean

console = Console()
err_console = Console(stderr=True)


class CaitGroup(TyperGroup):
    """Maps the errors a user can act on to one line and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CaitError as error:
            _fail(one_line(error))
        except sa_exc.OperationalError as error:
            _fail(f"database error: {str(error.orig).strip().splitlines()[0]}")
        except sa_exc.DBAPIError as error:
            _fail(f"database error: {str(error.orig).strip().splitlines()[0]}")


def safe(value: object, limit: int = 500) -> Text:
    """Untrusted text (feed and page titles, source names, errors) made fit for a terminal.

    Control characters (ESC sequences that clear the screen or set the window title, BEL,
    bidi overrides) are stripped by the one cleaner the reports use, and a `Text` is never
    read as Rich markup, so `[link=…]` stays literal and `[/bold]` cannot crash a table.
    """
    return Text(clean(None if value is None else str(value), limit))


def say(message: str, limit: int = 4000) -> None:
    """Print one line that carries untrusted text (see `safe`); its indentation is kept."""
    indent = " " * (len(message) - len(message.lstrip(" ")))
    console.print(Text(indent) + safe(message, limit), highlight=False)


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)




def settings() -> Settings:
    try:
        return load_settings()
    except ValueError as error:
        raise UserError(str(error)) from None


def engine() -> Engine:
    return get_engine(settings().effective_database_url)


def initialised_engine() -> Engine:
    """The configured database's engine; refuses an uninitialised database in one line."""
    eng = engine()
    if migrate.current_revision(eng) is None:
        where = describe_url(str(eng.url))
        raise UserError(f"database {where} is not initialised: run `cait init`")
    return eng


@contextmanager
def open_session(require_schema: bool = True) -> Iterator[Session]:
    """A session on the configured database; refuses to run on an uninitialised one."""
    eng = initialised_engine() if require_schema else engine()
    with session_scope(eng) as session:
        yield session


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def parse_date(value: str | None, name: str) -> datetime | None:
    """A `--since`/`--until` option (YYYY-MM-DD, UTC) as an aware datetime; one line if bad."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise UserError(f"--{name} must be a date like 2026-05-12, not {value!r}") from None
    if not 1970 <= when.year <= 2100:  # week arithmetic past the calendar's ends overflows
        raise UserError(f"--{name} must be a date between 1970 and 2100, not {value!r}")
    return when


def when(value: datetime | None) -> str:
    """A timestamp as the tables show it, or "-"."""
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"
