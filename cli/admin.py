"""`cait init`, `status`, `config`, `run`, `demo`: the database, the settings and the worker."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from cli._common import (
    JsonFlag,
    TableOrJson,
    console,
    engine,
    open_session,
    output_format,
    print_json,
    say,
    settings,
)
from config import documented_settings

app = typer.Typer()


@app.command()
def init() -> None:
    """Create the database or upgrade it to the newest schema (runs the Alembic migrations).

    Example: cait init
    """
    from db import migrate
    from db.session import describe_url

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
def status(format: TableOrJson = "table", as_json: JsonFlag = False) -> None:
    """Show the database, article and source counts, sources due, latest errors and model.

    Example: cait status --format json
    """
    chosen = output_format(format, as_json, ("table", "json"))
    from db import migrate, queries
    from db.session import describe_url

    now = datetime.now(UTC)
    eng = engine()
    revision = migrate.current_revision(eng)
    head = migrate.head_revision()
    with open_session() as session:
        counts = queries.counts(session, now)
        errors = queries.latest_errors(session)
        model = queries.current_model(session)
        beats = queries.workers(session)
        report = queries.status_report(session, now, 3 * settings().heartbeat_seconds)
        worker_rows = report["workers"]
    if chosen == "json":
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
            say(f"  {log.started_at:%Y-%m-%d %H:%M}  {name}  {log.outcome}: {log.error}")


@app.command("config")
def show_config() -> None:
    """List every setting (environment variable), its current value and what it does.

    Example: CAIT_HOST_DELAY_SECONDS=0 cait config
    """
    from db.session import describe_url

    current = settings()
    table = Table("variable", "value", "help")
    for (variable, _default, help_text), value in zip(
            documented_settings(), current.__dict__.values(), strict=True):
        if value and variable in ("DATABASE_URL", "CAIT_SMTP_URL"):
            value = describe_url(str(value))  # the password hidden
        elif value and variable in ("CAIT_WEBHOOK_URL", "CAIT_WEBHOOK_SECRET"):
            value = "(set, not shown)"  # a webhook URL often carries its token (Slack's do)
        table.add_row(variable, str(value), help_text)
    console.print(table)


@app.command("run")
def run_worker() -> None:
    """Start the worker: collect due sources every minute and tag new articles, until stopped.

    Example: cait run
    """
    import worker  # the worker is the process entry point; the CLI only starts it

    raise typer.Exit(worker.main([]))
