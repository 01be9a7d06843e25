"""`cait sources …`, `cait collect` and `cait inspect`: thin commands over `collectors`."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from cli import CaitGroup, app, console, engine, open_session, print_json, settings
from collectors import sources as source_files
from collectors import store
from collectors.discover import discover_feed
from collectors.feeds import parse_feed
from collectors.fetch import Fetcher, FetchError, FetchResult
from collectors.pages import extract_page
from collectors.update import FEED_ACCEPT, SourceReport, collect
from config import UserError
from db.models import Article, Source
from db.queries import source_by_name

sources_app = typer.Typer(cls=CaitGroup, help="Manage the sources cait polls.",
                          no_args_is_help=True)
app.add_typer(sources_app, name="sources")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@sources_app.command("add")
def sources_add(
    url: Annotated[str, typer.Argument(help="Feed URL, site home page, article page, or "
                                            "search words with --kind search.")],
    name: Annotated[str | None, typer.Option(help="Name (default: from the URL).")] = None,
    kind: Annotated[str, typer.Option(help="feed | page | search")] = "feed",
    tag: Annotated[list[str] | None, typer.Option(help="A tag; repeat for more.")] = None,
    full_text: Annotated[bool, typer.Option(
        help="Fetch each entry's page for its full text.")] = False,
    no_discover: Annotated[bool, typer.Option(
        help="Take the URL as a feed without checking it.")] = False,
) -> None:
    """Add a source. A site's home page is searched for its feed.

    Example: cait sources add https://technode.com --tag china-tech --full-text
    Example: cait sources add "Huawei Ascend" --kind search
    """
    if kind == "search" and not url.startswith(("http://", "https://")):
        url = source_files.search_feed_url(url)
    if kind == "feed" and not no_discover:
        found = asyncio.run(discover_feed(settings(), url))
        if found.url is None:
            raise UserError(f"no feed found at {url} ({found.error}; tried "
                            f"{len(found.looked_at)} addresses). To track this one page, "
                            f"add it with --kind page")
        if found.url != url:
            console.print(f"found feed {found.url} ({found.entries} entries)", highlight=False)
        url = found.url
    spec = source_files.SourceSpec(name=name or source_files.name_from_url(url), url=url,
                                   kind=kind, tags=tag or [], full_text=full_text).validated()
    with open_session() as session:
        added, _ = store.add_sources(session, [spec], settings().default_interval_seconds)
    if not added:
        raise UserError(f"a source named {spec.name!r} exists already (pick another --name)")
    console.print(f"added {spec.kind} source {spec.name!r}: {spec.url}", highlight=False)


@sources_app.command("add-defaults")
def sources_add_defaults() -> None:
    """Add cait's curated China-AI sources (collectors/default_sources.toml); keeps existing ones.

    Example: cait sources add-defaults
    """
    specs = source_files.load_toml(source_files.DEFAULT_SOURCES)
    with open_session() as session:
        added, _ = store.add_sources(session, specs, settings().default_interval_seconds)
    console.print(f"{added} sources added, {len(specs) - added} already present")


@sources_app.command("list")
def sources_list(as_json: JsonFlag = False) -> None:
    """List sources with their fetch state: next fetch, interval, failures, last error.

    Example: cait sources list --json
    """
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
    if as_json:
        print_json(data)
        return
    table = Table("name", "kind", "state", "articles", "last fetch", "next fetch", "every",
                  "failures", "last error")
    for row, item in zip(rows, data, strict=True):
        state = (f"muted: {row.disabled_reason}" if row.disabled_reason
                 else "enabled" if row.enabled else "disabled")
        table.add_row(row.name, row.kind, state, str(item["articles"]),
                      _when(row.last_fetched_at), _when(row.next_fetch_at),
                      f"{row.interval_seconds // 60} min", str(row.consecutive_failures),
                      row.last_error or "")
    console.print(table)


def _set_enabled(name: str, enabled: bool) -> None:
    with open_session() as session:
        row = source_by_name(session, name)
        if row is None:
            raise UserError(f"no such source: {name}")
        row.enabled = enabled
        if enabled:
            row.disabled_reason = None  # enabling un-mutes a source muted by HTTP 410
            row.next_fetch_at = None
    console.print(f"{'enabled' if enabled else 'disabled'} {name}", highlight=False)


@sources_app.command("enable")
def sources_enable(name: str) -> None:
    """Enable a source (also un-mutes one muted after HTTP 410) and make it due now.

    Example: cait sources enable "SCMP China"
    """
    _set_enabled(name, True)


@sources_app.command("disable")
def sources_disable(name: str) -> None:
    """Disable a source: it keeps its articles but is not polled.

    Example: cait sources disable "SCMP China"
    """
    _set_enabled(name, False)


@sources_app.command("remove")
def sources_remove(name: str) -> None:
    """Remove a source; its articles stay (their source_id becomes empty).

    Example: cait sources remove "SCMP China"
    """
    with open_session() as session:
        row = source_by_name(session, name)
        if row is None:
            raise UserError(f"no such source: {name}")
        session.delete(row)
    console.print(f"removed {name}", highlight=False)


@sources_app.command("import")
def sources_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    replace: Annotated[bool, typer.Option(help="Update sources whose name exists.")] = False,
) -> None:
    """Import sources from an OPML (other feed readers) or TOML (cait) file.

    Example: cait sources import feeds.opml
    """
    specs = source_files.load_file(file)
    with open_session() as session:
        added, updated = store.add_sources(session, specs, settings().default_interval_seconds,
                                           replace=replace)
    console.print(f"{added} added, {updated} updated, "
                  f"{len(specs) - added - updated} already present")


@sources_app.command("export")
def sources_export(
    format: Annotated[str, typer.Option("--format", help="opml | toml")] = "toml",
) -> None:
    """Print all sources as OPML or TOML (`cait sources import` reads either back).

    Example: cait sources export --format opml > cait.opml
    """
    if format not in ("opml", "toml"):
        raise UserError("--format must be opml or toml")
    with open_session() as session:
        specs = [store.source_spec(r) for r in session.scalars(select(Source)
                                                               .order_by(Source.name))]
    sys.stdout.write(source_files.to_opml(specs) if format == "opml"
                     else source_files.to_toml(specs))


@app.command("collect")
def collect_command(
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="Only this source (by name); repeat for more.")] = None,
    due_only: Annotated[bool, typer.Option(
        "--due-only/--all", help="Only sources whose next fetch time has come.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Run one collection pass and print a per-source summary.

    Example: cait collect --all
    Example: cait collect --source "SCMP China" --json
    """
    from classify.tagging import relevance_gate  # scikit-learn: imported only when needed
    from classify.train import model_for_database

    cfg = settings()
    eng = engine()
    with open_session() as session:  # also checks that the database is initialised
        gate = relevance_gate(model_for_database(session, cfg.effective_model_dir))
    factory = sessionmaker(bind=eng, expire_on_commit=False)
    show_progress = sys.stderr.isatty() and not as_json
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True, disable=not show_progress) as progress:
        task = progress.add_task("collecting", total=None)

        def done(result: SourceReport) -> None:
            progress.update(task, advance=1, description=f"collecting · {result.name[:40]}")

        report = collect(factory, cfg, names=source, due_only=due_only, on_source_done=done,
                         gate=gate)
    if as_json:
        print_json({**report.summary(), "per_source": report.to_json()["per_source"]})
        return
    table = Table("source", "outcome", "HTTP", "entries", "new", "dup", "next fetch", "error")
    for s in report.sources:
        table.add_row(s.name, s.outcome, str(s.http_status or ""), str(s.entries),
                      str(s.new_articles), str(s.duplicates), _when(s.next_fetch_at),
                      s.error or "")
    console.print(table)
    console.print(" · ".join(f"{k} {v}" for k, v in report.summary().items()), highlight=False)


@app.command("inspect")
def inspect_command(
    target: Annotated[str, typer.Argument(help="A URL or a local file (feed or HTML page).")],
    base_url: Annotated[str | None, typer.Option(
        "--url", help="For a file: the address it was saved from (resolves its links).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show what the collector makes of one feed or page, without storing anything.

    Example: cait inspect https://technode.com/feed/
    Example: cait inspect saved-article.html --json
    """
    path = Path(target)
    if path.exists():
        body, headers = path.read_bytes(), {}
        url = base_url or path.resolve().as_uri()
    else:
        fetched = asyncio.run(_fetch_one(target))
        if isinstance(fetched, FetchError):
            raise UserError(f"cannot fetch {target}: {fetched.describe()}")
        body, headers, url = fetched.body, fetched.headers, fetched.url
    parsed = parse_feed(body, headers, url)
    if parsed.ok:
        data: dict[str, object] = {
            "type": "feed", "format": parsed.format, "parser": parsed.parser,
            "title": parsed.title, "refresh_hint_seconds": parsed.ttl_seconds,
            "warnings": parsed.warnings,
            "entries": [{"url": e.url, "title": e.title, "published_at": e.published_at,
                         "author": e.author, "summary": (e.summary or "")[:200]}
                        for e in parsed.entries]}
    else:
        page = extract_page(body, url, headers.get("content-type", ""))
        data = {"type": "page", "feed_error": parsed.error, "title": page.title,
                "canonical_url": page.canonical_url, "published_at": page.published_at,
                "author": page.author, "language": page.language, "encoding": page.encoding,
                "error": page.error, "text": page.text,
                "related": [{"url": r.url, "anchor_text": r.anchor_text, "block": r.block}
                            for r in page.related]}
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    _print_inspection(data)


async def _fetch_one(url: str) -> FetchResult | FetchError:
    async with Fetcher(settings()) as fetcher:
        return await fetcher.get(url, accept=FEED_ACCEPT)


def _print_inspection(data: dict[str, object]) -> None:
    if data["type"] == "feed":
        console.print(f"feed · {data['format']} · parsed by {data['parser']} · "
                      f"{data['title']!r}", highlight=False, markup=False)
        table = Table("published", "title", "url")
        for e in data["entries"]:  # type: ignore[attr-defined]
            table.add_row(_when(e["published_at"]), e["title"] or "", e["url"])
        console.print(table)
        return
    console.print(f"page · {data['title']!r} · {data['language']} · {data['encoding']} · "
                  f"published {data['published_at']}", highlight=False, markup=False)
    console.print(f"canonical: {data['canonical_url']}", highlight=False, markup=False)
    if data["error"]:
        console.print(f"extraction: {data['error']}", highlight=False, markup=False)
    text = str(data["text"] or "")
    console.print(text[:1500] + ("…" if len(text) > 1500 else ""), highlight=False,
                  markup=False)
    related = data["related"]
    console.print(f"\nrelated links: {len(related)}")  # type: ignore[arg-type]
    for r in related:  # type: ignore[attr-defined]
        console.print(f"  [{r['block']}] {r['anchor_text']} → {r['url']}", highlight=False,
                      markup=False)

