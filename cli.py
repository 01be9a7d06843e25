"""The `cait` command line: thin commands that parse options, call a package function and render.

Errors the user can fix (`UserError`, database unreachable) become one line on stderr and
exit status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.core import TyperGroup

from config import Settings, UserError, documented_settings, load_settings
from db import migrate, queries
from db.session import describe_url, get_engine, session_scope

console = Console()
err_console = Console(stderr=True)


class CaitGroup(TyperGroup):
    """Maps the errors a user can act on to one line and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as error:
            _fail(str(error))
        except sa_exc.OperationalError as error:
            _fail(f"database error: {str(error.orig).strip().splitlines()[0]}")
        except sa_exc.DBAPIError as error:
            _fail(f"database error: {str(error.orig).strip().splitlines()[0]}")


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


app = typer.Typer(
    cls=CaitGroup,
    help="cait — track news coverage of China's AI industry by theme "
         "(chips, data, talent, open_source).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def settings() -> Settings:
    try:
        return load_settings()
    except ValueError as error:
        raise UserError(str(error)) from None


def engine() -> Engine:
    return get_engine(settings().effective_database_url)


@contextmanager
def open_session(require_schema: bool = True) -> Iterator[Session]:
    """A session on the configured database; refuses to run on an uninitialised one."""
    eng = engine()
    if require_schema and migrate.current_revision(eng) is None:
        where = describe_url(str(eng.url))
        raise UserError(f"database {where} is not initialised: run `cait init`")
    with session_scope(eng) as session:
        yield session


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")]
         = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, settings().log_level.upper(), 20)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def init() -> None:
    """Create the database or upgrade it to the newest schema (runs the Alembic migrations).

    Example: cait init
    """
    eng = engine()
    before = migrate.current_revision(eng)
    migrate.upgrade(eng)
    after = migrate.current_revision(eng)
    where = describe_url(str(eng.url))
    if before == after:
        console.print(f"database {where} is up to date (revision {after})", highlight=False)
    else:
        console.print(f"database {where}: {before or 'empty'} → {after}", highlight=False)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show the database, article and source counts, sources due, latest errors and model.

    Example: cait status --json
    """
    now = datetime.now(UTC)
    eng = engine()
    revision = migrate.current_revision(eng)
    head = migrate.head_revision()
    with open_session() as session:
        counts = queries.counts(session, now)
        errors = queries.latest_errors(session)
        model = queries.current_model(session)
        beats = queries.workers(session)
        stale_after = 3 * settings().heartbeat_seconds
        worker_rows = [
            {"worker_id": b.worker_id, "state": b.state, "pid": b.pid,
             "last_beat_at": b.last_beat_at.isoformat(),
             "alive": b.stopped_at is None
             and (now - b.last_beat_at).total_seconds() < stale_after}
            for b in beats]
        report = {
            "database": describe_url(str(eng.url)),
            "schema_revision": revision,
            "schema_up_to_date": revision == head,
            "counts": counts.__dict__,
            "model_version": model.version if model else None,
            "workers": worker_rows,
            "latest_errors": [
                {"source": name, "at": log.started_at.isoformat(), "outcome": log.outcome,
                 "error": log.error}
                for log, name in errors
            ],
        }
    if as_json:
        print_json(report)
        return
    table = Table(show_header=False, box=None)
    table.add_row("database", describe_url(str(eng.url)))
    schema_note = "" if revision == head else f" (newest is {head}: run `cait init`)"
    table.add_row("schema", f"{revision}{schema_note}")
    table.add_row("sources", f"{counts.sources} ({counts.sources_enabled} enabled, "
                             f"{counts.sources_due} due now)")
    table.add_row("articles", f"{counts.articles} ({counts.classified} classified, "
                              f"{counts.china_ai} about China's AI, {counts.labelled} labelled)")
    table.add_row("model", model.version if model else "none yet (run `cait train`)")
    for beat, item in zip(beats[:5], worker_rows, strict=False):
        table.add_row("worker", f"{beat.worker_id}: {beat.state} "
                                f"(last heartbeat {beat.last_beat_at:%Y-%m-%d %H:%M:%S}"
                                f"{'' if item['alive'] else ', not running'})")
    console.print(table)
    if errors:
        console.print("\nlatest errors:")
        for log, name in errors:
            console.print(f"  {log.started_at:%Y-%m-%d %H:%M}  {name}  {log.outcome}: "
                          f"{log.error}", highlight=False, markup=False)


@app.command("config")
def show_config() -> None:
    """List every setting (environment variable), its current value and what it does.

    Example: CAIT_HOST_DELAY_SECONDS=0 cait config
    """
    current = settings()
    table = Table("variable", "value", "help")
    for (variable, _default, help_text), value in zip(
            documented_settings(), current.__dict__.values(), strict=True):
        table.add_row(variable, describe_url(str(value)) if variable == "DATABASE_URL" and value
                      else str(value), help_text)
    console.print(table)


@app.command("run")
def run_worker() -> None:
    """Start the worker: collect due sources every minute and tag new articles, until stopped.

    Example: cait run
    """
    import worker  # the worker is the process entry point; the CLI only starts it

    raise typer.Exit(worker.main())


@app.command("demo")
def demo_command(
    data_dir: Annotated[Path | None, typer.Option(
        help="Where to keep the demo database and digest (default: a new temporary "
             "directory).")] = None,
) -> None:
    """Run the whole pipeline offline on a bundled snapshot and show what cait does.

    Example: cait demo
    """
    import tempfile

    import demo  # a driver like the worker: it wires the packages together
    from reports.render import timeline_markdown

    target = data_dir or Path(tempfile.mkdtemp(prefix="cait-demo-"))
    target.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    report, timeline, digest_path = demo.run_demo(
        target, lambda message: console.print(message, highlight=False))
    summary = report.summary()
    console.print(f"collected {summary['new_articles']} articles from {summary['sources']} "
                  f"sources, followed {summary['related_followed']} Related-News link(s)",
                  highlight=False)
    recent = timeline.periods[-6:]
    rows = [r for r in timeline.rows if r.period in recent]
    console.print(timeline_markdown(type(timeline)(timeline.by, timeline.themes, recent, rows,
                                                   timeline.gaps)), highlight=False,
                  markup=False)
    console.print(f"digest: {digest_path}\ndatabase: {target / 'demo.db'} (try: "
                  f"DATABASE_URL=sqlite:///{target / 'demo.db'} cait search --theme chips)\n"
                  f"done in {time.monotonic() - started:.0f} s", highlight=False)


# Command groups living in their own modules register themselves on `app` when imported.
import cli_classify  # noqa: E402,F401
import cli_collect  # noqa: E402,F401
import cli_reports  # noqa: E402,F401
