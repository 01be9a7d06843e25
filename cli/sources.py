"""`cait sources …`: add, list, enable, disable, remove, import and export sources.

The collectors and the database are imported inside the commands (`cait --help` stays fast).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli._common import (
    FormatOption,
    JsonFlag,
    console,
    open_session,
    output_format,
    print_rows,
    safe,
    say,
    settings,
    when,
)
from common.errors import UserError

app = typer.Typer(help="Manage the sources cait polls.", no_args_is_help=True)

@app.command("add")
def sources_add(
    url: Annotated[str, typer.Argument(help="Feed URL, site home page, article page, or "
                                            "search words with --kind search.")],
    name: Annotated[str | None, typer.Option(help="Name (default: from the URL).")] = None,
    kind: Annotated[str, typer.Option(help="feed | page | search")] = "feed",
    tag: Annotated[list[str] | None, typer.Option(help="A tag; repeat for more.")] = None,
    full_text: Annotated[bool, typer.Option(
        help="Fetch each entry's page for its full text.")] = False,
    check: Annotated[bool, typer.Option(
        "--check/--no-check",
        help="Fetch the URL first: find a home page's feed, refuse an address without one. "
             "--no-check takes it as a feed as it is.")] = True,
    no_discover: Annotated[bool, typer.Option(
        "--no-discover", hidden=True, help="The earlier name of --no-check.")] = False,
) -> None:
    """Add a source. A site's home page is searched for its feed.

    Example: cait sources add https://technode.com --tag china-tech --full-text
    Example: cait sources add "Huawei Ascend" --kind search
    """
    from collectors import sources as source_files
    from collectors import store
    from collectors.discover import discover_feed

    if kind == "search" and not url.startswith(("http://", "https://")):
        url = source_files.search_feed_url(url)
    if kind == "feed" and check and not no_discover:
        found = asyncio.run(discover_feed(settings(), url))
        if found.url is None:
            raise UserError(f"no feed found at {url} ({found.error}; tried "
                            f"{len(found.looked_at)} addresses). To track this one page, "
                            f"add it with --kind page")
        if found.url != url:
            say(f"found feed {found.url} ({found.entries} entries)")
        url = found.url
    spec = source_files.SourceSpec(name=name or source_files.name_from_url(url), url=url,
                                   kind=kind, tags=tag or [], full_text=full_text).validated()
    with open_session() as session:
        added, _ = store.add_sources(session, [spec], settings().default_interval_seconds)
    if not added:
        raise UserError(f"a source named {spec.name!r} exists already (pick another --name)")
    say(f"added {spec.kind} source {spec.name!r}: {spec.url}")


@app.command("add-defaults")
def sources_add_defaults() -> None:
    """Add cait's curated China-AI sources (collectors/default_sources.toml); keeps existing ones.

    Example: cait sources add-defaults
    """
    from collectors import sources as source_files
    from collectors import store

    specs = source_files.load_toml(source_files.DEFAULT_SOURCES)
    with open_session() as session:
        added, _ = store.add_sources(session, specs, settings().default_interval_seconds,
                                     skip_known_urls=True)
    console.print(f"{added} sources added, {len(specs) - added} already present")


@app.command("list")
def sources_list(format: FormatOption = "table", as_json: JsonFlag = False) -> None:
    """List sources with their fetch state: next fetch, interval, failures, last error.

    Example: cait sources list --format csv
    """
    chosen = output_format(format, as_json)
    from sqlalchemy import func, select

    from db.models import Article, Source

    with open_session() as session:
        rows = list(session.scalars(select(Source).order_by(Source.name)))
        per_source = dict(session.execute(
            select(Article.source_id, func.count()).group_by(Article.source_id)).all())
        data = [{
            "name": r.name, "kind": r.kind, "url": r.url, "enabled": r.enabled,
            "tags": r.tags, "full_text": r.full_text,
            "last_fetched_at": r.last_fetched_at, "next_fetch_at": r.next_fetch_at,
            "interval_seconds": r.interval_seconds,
            "consecutive_failures": r.consecutive_failures, "failure_score": r.failure_score,
            "last_status": r.last_status, "last_error": r.last_error,
            "disabled_reason": r.disabled_reason, "articles": per_source.get(r.id, 0),
        } for r in rows]
    if chosen != "table":
        print_rows(data, chosen)
        return
    table = Table("name", "kind", "state", "articles", "last fetch", "next fetch", "every",
                  "failures", "last error")
    for row, item in zip(rows, data, strict=True):
        state = (f"muted: {row.disabled_reason}" if row.disabled_reason
                 else "enabled" if row.enabled else "disabled")
        table.add_row(safe(row.name), row.kind, safe(state), str(item["articles"]),
                      when(row.last_fetched_at), when(row.next_fetch_at),
                      f"{row.interval_seconds // 60} min", str(row.consecutive_failures),
                      safe(row.last_error))
    console.print(table)


def _set_enabled(name: str, enabled: bool) -> None:
    from db.queries import source_by_name

    with open_session() as session:
        row = source_by_name(session, name)
        if row is None:
            raise UserError(f"no such source: {name}")
        row.enabled = enabled
        if enabled:
            row.disabled_reason = None  # enabling un-mutes a source muted by HTTP 410
            row.next_fetch_at = None
    say(f"{'enabled' if enabled else 'disabled'} {name}")


@app.command("enable")
def sources_enable(name: str) -> None:
    """Enable a source (also un-mutes one muted after HTTP 410) and make it due now.

    Example: cait sources enable "SCMP China"
    """
    _set_enabled(name, True)


@app.command("disable")
def sources_disable(name: str) -> None:
    """Disable a source: it keeps its articles but is not polled.

    Example: cait sources disable "SCMP China"
    """
    _set_enabled(name, False)


@app.command("remove")
def sources_remove(name: str) -> None:
    """Remove a source; its articles stay (their source_id becomes empty).

    Example: cait sources remove "SCMP China"
    """
    from db.queries import source_by_name

    with open_session() as session:
        row = source_by_name(session, name)
        if row is None:
            raise UserError(f"no such source: {name}")
        session.delete(row)
    say(f"removed {name}")


@app.command("import")
def sources_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    replace: Annotated[bool, typer.Option(help="Update sources whose name exists.")] = False,
) -> None:
    """Import sources from an OPML (other feed readers) or TOML (cait) file.

    Example: cait sources import feeds.opml
    """
    from collectors import sources as source_files
    from collectors import store

    specs = source_files.load_file(file)
    with open_session() as session:
        added, updated = store.add_sources(session, specs, settings().default_interval_seconds,
                                           replace=replace)
    console.print(f"{added} added, {updated} updated, "
                  f"{len(specs) - added - updated} already present")


@app.command("export")
def sources_export(
    format: Annotated[str, typer.Option("--format", help="opml | toml")] = "toml",
) -> None:
    """Print all sources as OPML or TOML (`cait sources import` reads either back).

    Example: cait sources export --format opml > cait.opml
    """
    from sqlalchemy import select

    from collectors import sources as source_files
    from collectors import store
    from db.models import Source

    if format not in ("opml", "toml"):
        raise UserError("--format must be opml or toml")
    with open_session() as session:
        specs = [store.source_spec(r) for r in session.scalars(select(Source)
                                                               .order_by(Source.name))]
    sys.stdout.write(source_files.to_opml(specs) if format == "opml"
                     else source_files.to_toml(specs))


