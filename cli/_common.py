"""What every `cait` command shares: the group that maps errors, consoles, settings, sessions.

Errors a person can act on (`CaitError`, database unreachable) become one line on stderr and
exit status 1 here, and only here; anything else is a bug and keeps its traceback.

`cait --help` must start in well under half a second, so the CLI modules import only typer,
rich and the project's light modules at the top; SQLAlchemy, Alembic, httpx, trafilatura,
NumPy and scikit-learn are imported inside the commands that use them
(`tests/test_cli.py::test_help_imports_nothing_heavy`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer.core import TyperGroup

from common.errors import CaitError, UserError, one_line
from config import Settings, load_settings
from reports.escape import clean

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

console = Console()
err_console = Console(stderr=True)


class CaitGroup(TyperGroup):
    """Maps the errors a user can act on to one line and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CaitError as error:
            _fail(one_line(error))
        except Exception as error:
            message = _database_error(error)
            if message is None:
                raise
            _fail(message)


def _database_error(error: Exception) -> str | None:
    """One line for a database error (unreachable, read-only, locked), else None.

    SQLAlchemy is looked up, not imported: when a command never loaded it, the error
    cannot be one of its errors (and `--help` stays fast)."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(error, sa_exc.DBAPIError):
        return None
    lines = str(error.orig).strip().splitlines()
    return f"database error: {lines[0] if lines else type(error.orig).__name__}"


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


def note(message: str) -> None:
    """Say on stderr what a step that takes seconds is doing (training the model, tagging)."""
    err_console.print(f"{message}…", highlight=False, markup=False, soft_wrap=True)


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)




def settings() -> Settings:
    try:
        return load_settings()
    except ValueError as error:
        raise UserError(str(error)) from None


def engine() -> Engine:
    from db.session import get_engine

    return get_engine(settings().effective_database_url)


def initialised_engine() -> Engine:
    """The configured database's engine; refuses an uninitialised database in one line."""
    from db import migrate
    from db.session import describe_url

    eng = engine()
    if migrate.current_revision(eng) is None:
        where = describe_url(str(eng.url))
        raise UserError(f"database {where} is not initialised: run `cait init`")
    return eng


@contextmanager
def open_session(require_schema: bool = True) -> Iterator[Session]:
    """A session on the configured database; refuses to run on an uninitialised one."""
    from db.session import session_scope

    eng = initialised_engine() if require_schema else engine()
    with session_scope(eng) as session:
        yield session


def write_file(path: Path, content: str | bytes) -> None:
    """Write a file the user named; one that cannot be written is a `UserError` (one line)."""
    try:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def open_output(path: Path) -> TextIO:
    """Open a file the user named for writing text; failure is a `UserError` (one line)."""
    try:
        return path.open("w", encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# One form of output flag for every command: --format (what fits the command), with --json
# kept as the shorthand of --format json.
FORMATS = ("table", "csv", "json", "md")
FormatOption = Annotated[str, typer.Option("--format", help="table | csv | json | md")]
TableOrJson = Annotated[str, typer.Option("--format", help="table | json")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]


def output_format(value: str, as_json: bool = False, allowed: tuple[str, ...] = FORMATS) -> str:
    """The format asked for by --format or --json; anything else is one line."""
    if as_json:
        return "json"
    if value not in allowed:
        raise UserError(f"--format must be {', '.join(allowed[:-1])} or {allowed[-1]}, "
                        f"not {value!r}")
    return value


def print_rows(rows: list[dict[str, Any]], format: str) -> None:
    """Flat records as JSON, CSV or Markdown (the table form is each command's own)."""
    from reports.render import rows_csv, rows_markdown

    if format == "json":
        print_json(rows)
    else:
        sys.stdout.write(rows_csv(rows) if format == "csv" else rows_markdown(rows))


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
