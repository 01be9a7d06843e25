"""`cait collect`, `cait backfill` and `cait inspect`: one collection pass; a source's past
articles; what cait makes of one URL."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cli._common import (
    FormatOption,
    JsonFlag,
    TableOrJson,
    console,
    err_console,
    initialised_engine,
    note,
    open_session,
    output_format,
    parse_date,
    print_json,
    print_rows,
    safe,
    say,
    settings,
    when,
)
from common.errors import UserError

if TYPE_CHECKING:  # the collectors pull in httpx, lxml and trafilatura: imported when used
    from collectors.outcome import FetchError, FetchResult
    from collectors.report import SourceReport

app = typer.Typer()

# Exit status of a pass in which every source it tried failed (README: exit statuses), so
# cron jobs and scripts notice a dead network or a wrong proxy; 1 stays "error".
NOTHING_FETCHED = 3


@app.command("collect")
def collect_command(
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="Only this source (by name); repeat for more.")] = None,
    due_only: Annotated[bool, typer.Option(
        "--due-only/--all", help="Only sources whose next fetch time has come.")] = True,
    format: FormatOption = "table",
    as_json: JsonFlag = False,
) -> None:
    """Run one collection pass and print a per-source summary; exit status 3 when every
    source it tried failed (nothing could be fetched).

    Example: cait collect --all
    Example: cait collect --source "SCMP China" --format json
    """
    chosen = output_format(format, as_json)
    from pipeline import run_pass  # the collectors: imported only when needed

    cfg = settings()
    eng = initialised_engine()
    owner = _take_back_leases()
    show_progress = sys.stderr.isatty() and chosen == "table"
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True, disable=not show_progress) as progress:
        task = progress.add_task("collecting", total=None)

        def done(result: SourceReport) -> None:
            # the description is read as markup: a name like "Reuters [/bold]" must stay text
            name = escape(str(safe(result.name, 40)))
            progress.update(task, advance=1, description=f"collecting · {name}")

        result = run_pass(eng, cfg, names=source, due_only=due_only,
                          on_source_done=done, owner=owner, note=note)
    report = result.collected
    if due_only and not source and not report.sources:
        _explain_held_leases()
    summary = {**report.summary(), "tagged": result.tagged.tagged}
    if chosen == "json":
        print_json({**summary, "per_source": report.to_json()["per_source"]})
    elif chosen != "table":
        print_rows(report.to_json()["per_source"], chosen)  # type: ignore[arg-type]
    else:
        table = Table("source", "outcome", "HTTP", "entries", "new", "dup", "next fetch",
                      "error")
        for s in report.sources:
            table.add_row(safe(s.name), s.outcome, str(s.http_status or ""), str(s.entries),
                          str(s.new_articles), str(s.duplicates), when(s.next_fetch_at),
                          safe(s.error))
        console.print(table)
        console.print(" · ".join(f"{k} {v}" for k, v in summary.items()), highlight=False)
    if summary["sources"] and summary["failed"] == summary["sources"]:
        err_console.print(f"nothing could be fetched: all {summary['sources']} sources failed "
                          f"(exit status {NOTHING_FETCHED})", highlight=False, markup=False)
        raise typer.Exit(NOTHING_FETCHED)


@app.command("backfill")
def backfill_command(
    name: Annotated[str, typer.Argument(help="The source, by name (see `cait sources list`).")],
    since: Annotated[str, typer.Option(help="From this date (YYYY-MM-DD), UTC.")],
    until: Annotated[str | None, typer.Option(
        help="Before this date (YYYY-MM-DD), UTC; default: now.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    format: TableOrJson = "table",
    as_json: JsonFlag = False,
) -> None:
    """Collect a source's past articles in a date range (its sitemaps and feed archives).

    The articles are tagged and count in the timelines at their publication dates.

    At most CAIT_BACKFILL_PER_RUN pages per run; run it again to go on where it stopped.

    Example: cait backfill TechNode --since 2025-01-01
    Example: cait backfill "SCMP China" --since 2025-01-01 --until 2025-07-01 --json
    """
    from pipeline import run_backfill  # scikit-learn: imported only when needed

    as_json = output_format(format, as_json, ("table", "json")) == "json"
    start = parse_date(since, "since")
    end = parse_date(until, "until")
    assert start is not None
    if start >= datetime.now(UTC):
        raise UserError("--since must be a date in the past")
    if end is not None and end <= start:
        raise UserError("--until must be after --since")
    cfg = settings()
    eng = initialised_engine()
    show_progress = err_console.is_terminal and not quiet and not as_json
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True,
                  disable=not show_progress) as progress:
        task = progress.add_task("reading sitemaps", total=None)

        def discovering(read: int, found: int) -> None:
            progress.update(task, description=f"reading sitemaps and feed archives · {read} "
                                              f"read · {found} URLs in range")

        def collecting(total: int) -> None:
            progress.reset(task, total=total, description="collecting past articles")

        try:
            result = run_backfill(eng, cfg, name, start, end, on_discovery=discovering,
                                  on_total=collecting, on_item=lambda _o: progress.advance(task))
        except KeyboardInterrupt:
            progress.stop()
            err_console.print("stopped: what was collected is kept; run the same command "
                              "again to go on", highlight=False, markup=False)
            raise typer.Exit(130) from None
    report = result.collected
    summary = {**report.summary(), "tagged": result.tagged.tagged}
    if as_json:
        print_json({**summary, "notes": report.notes})
        return
    for line in report.notes:
        say(f"note: {line}")
    span = f"{summary['since']} to {summary['until'] or 'now'}"
    read = (f"read {report.sitemaps} sitemaps and {report.archive_pages} feed archive pages, "
            f"found {report.found} new URLs; " if report.discovered else "")
    say(f"{report.source}, {span}: {read}collected {report.total}: {report.new} new, "
        f"{report.duplicates} already stored, {report.skipped} skipped (undated, out of range "
        f"or no text), {report.failed} failed, {report.retry} to retry; "
        f"tagged {result.tagged.tagged}")
    if report.remaining:
        say(f"{report.remaining} URLs left: run the same command again to go on")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _take_back_leases() -> str:
    """This run's lease owner (`cli@HOST:PID`), after releasing the leases of earlier runs on
    this host whose process is gone (a kill -9 would otherwise hold them for the lease time)."""
    from db.queries import reclaim_dead_leases

    prefix = f"cli@{socket.gethostname()}:"
    with open_session() as session:
        released = reclaim_dead_leases(session, prefix, _alive)
    if released:
        err_console.print(f"took back {released} sources leased by an earlier `cait collect` "
                          f"that is no longer running", highlight=False, markup=False)
    return f"{prefix}{os.getpid()}"


def _explain_held_leases() -> None:
    """Say in one line why a due-only pass found nothing, when leases are the reason."""
    from db.queries import held_leases

    with open_session() as session:
        count, until = held_leases(session, datetime.now(UTC))
    if count:
        err_console.print(f"{count} sources are leased by another run (a worker, or a "
                          f"`cait collect` elsewhere) until {when(until)} UTC",
                          highlight=False, markup=False)


@app.command("inspect")
def inspect_command(
    target: Annotated[str, typer.Argument(help="A URL or a local file (feed or HTML page).")],
    base_url: Annotated[str | None, typer.Option(
        "--url", help="For a file: the address it was saved from (resolves its links).")] = None,
    format: TableOrJson = "table",
    as_json: JsonFlag = False,
) -> None:
    """Show what the collector makes of one feed or page, without storing anything.

    Example: cait inspect https://technode.com/feed/
    Example: cait inspect saved-article.html --json
    """
    chosen = output_format(format, as_json, ("table", "json"))
    from collectors.block_model import scored_blocks
    from collectors.blocks import PageElements
    from collectors.feeds import parse_feed
    from collectors.outcome import FetchError
    from collectors.page_meta import home_elsewhere
    from collectors.pages import extract_page, parse_html
    from collectors.textutil import decode_body

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
        tree = parse_html(decode_body(body, headers.get("content-type", ""))[0])
        blocks = scored_blocks(tree, url)
        home = home_elsewhere(PageElements.of(tree), url) if tree is not None else None
        data = {"type": "page", "feed_error": parsed.error, "title": page.title,
                "canonical_url": page.canonical_url, "published_at": page.published_at,
                "author": page.author, "language": page.language, "encoding": page.encoding,
                "error": page.error, "text": page.text,
                # the site whose links the detector reads as the page's own, when the page
                # was fetched from elsewhere: the URL it declares, or the one its links name
                "home_elsewhere": {"url": home[0], "from": home[1]} if home else None,
                "related": [{"url": r.url, "anchor_text": r.anchor_text, "block": r.block}
                            for r in page.related],
                "blocks": [{"index": b.candidate.index, "kind": b.kind,
                            "score": round(b.score, 3), "followed": b.followed,
                            "heading": b.candidate.heading, "path": b.candidate.path,
                            "links": [{"url": u, "anchor_text": t}
                                      for u, t in b.candidate.links]} for b in blocks]}
    if chosen == "json":
        print_json(data)
        return
    _print_inspection(data)


async def _fetch_one(url: str) -> FetchResult | FetchError:
    from collectors.fetch import Fetcher
    from collectors.update import FEED_ACCEPT

    async with Fetcher(settings()) as fetcher:
        return await fetcher.get(url, accept=FEED_ACCEPT)


def _print_inspection(data: dict[str, object]) -> None:
    if data["type"] == "feed":
        say(f"feed · {data['format']} · parsed by {data['parser']} · {data['title']!r}")
        table = Table("published", "title", "url")
        for e in data["entries"]:  # type: ignore[attr-defined]
            table.add_row(when(e["published_at"]), safe(e["title"]), safe(e["url"], 2000))
        console.print(table)
        return
    say(f"page · {data['title']!r} · {data['language']} · {data['encoding']} · "
        f"published {data['published_at']}")
    say(f"canonical: {data['canonical_url']}")
    home = data["home_elsewhere"]
    if isinstance(home, dict):
        how = ("the URL it declares" if home["from"] == "declared" else
               "no URL of its own; the site its links name")
        say(f"fetched from elsewhere: links to {home['url']} read as its own site ({how})")
    if data["error"]:
        say(f"extraction: {data['error']}")
    text = str(data["text"] or "")
    say(text[:1500] + ("…" if len(text) > 1500 else ""))
    related = data["related"]
    console.print(f"\nrelated links: {len(related)}")  # type: ignore[arg-type]
    for r in related:  # type: ignore[attr-defined]
        say(f"  [{r['block']}] {r['anchor_text']} → {r['url']}")
    # Every candidate block with the detector's verdict: why a block was or was not taken.
    table = Table("#", "kind", "score", "followed", "heading", "links", "first link")
    for b in data["blocks"]:  # type: ignore[attr-defined]
        first = b["links"][0] if b["links"] else {"anchor_text": "", "url": ""}
        table.add_row(str(b["index"]), b["kind"], f"{b['score']:.2f}",
                      "yes" if b["followed"] else "", safe(b["heading"], 40),
                      str(len(b["links"])), safe(f"{first['anchor_text']} → {first['url']}", 80))
    console.print(table)

