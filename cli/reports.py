"""`cait timeline`, `search`, `plot`, `digest`, `narratives`: thin commands over `reports`.

The report modules pull in SciPy, scikit-learn and matplotlib; they are imported inside the
commands so that other `cait` commands start quickly.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli._common import (
    FormatOption,
    JsonFlag,
    console,
    err_console,
    initialised_engine,
    open_session,
    output_format,
    print_json,
    print_rows,
    safe,
    say,
    settings,
    when,
    write_file,
)
from cli._common import parse_date as _date
from common.errors import UserError
from common.vocabulary import THEMES
from reports.escape import clean

if TYPE_CHECKING:
    from reports.digest import DigestData

app = typer.Typer()


ThemeOption = Annotated[list[str] | None, typer.Option("--theme", help="A theme; repeat.")]
SinceOption = Annotated[str | None, typer.Option(help="From this date (YYYY-MM-DD), UTC.")]
UntilOption = Annotated[str | None, typer.Option(help="Before this date (YYYY-MM-DD), UTC.")]
SourceOption = Annotated[str | None, typer.Option("--source", help="Only this source.")]


def _themes(values: list[str] | None) -> list[str] | None:
    unknown = set(values or []) - set(THEMES)
    if unknown:
        raise UserError(f"unknown theme(s) {', '.join(sorted(unknown))}: "
                        f"themes are {', '.join(THEMES)}")
    return values or None


def _check_format(value: str) -> str:
    return output_format(value)


@app.command("timeline")
def timeline_command(theme: ThemeOption = None, since: SinceOption = None,
                     until: UntilOption = None,
                     by: Annotated[str, typer.Option(help="week | month")] = "week",
                     source: SourceOption = None, format: FormatOption = "table",
                     as_json: JsonFlag = False) -> None:
    """Per theme and ISO week (or month): China-AI articles, share, change, spikes, gaps.

    Example: cait timeline --theme chips --since 2026-01-01
    Example: cait timeline --format json
    """
    from reports import render
    from reports.timeline import build_timeline

    format = output_format(format, as_json)
    if by not in ("week", "month"):
        raise UserError("--by must be week or month")
    with open_session() as session:
        timeline = build_timeline(session, themes=_themes(theme), by=by,
                                  since=_date(since, "since"), until=_date(until, "until"),
                                  source=source)
    if format == "json":
        print_json(timeline.to_json())
    elif format == "csv":
        sys.stdout.write(render.timeline_csv(timeline))
    elif format == "md":
        sys.stdout.write(render.timeline_markdown(timeline))
    else:
        table = Table(by, "theme", "articles", "share", "change", "trailing mean", "spike",
                      "coverage")
        for r in timeline.rows:
            gap = timeline.gaps.get(r.period)
            table.add_row(r.period, r.theme, str(r.articles), f"{r.share:.0%}",
                          "" if r.change is None else f"{r.change:+d}",
                          "" if r.trailing_mean is None else f"{r.trailing_mean:.1f}",
                          "SPIKE" if r.spike else "",
                          f"{len(gap.failing_sources)} sources failing" if gap else "")
        console.print(table)
        spikes = [r for r in timeline.rows if r.spike]
        if spikes:
            r = spikes[-1]
            console.print(f"the articles behind a spike: cait search --theme {r.theme} "
                          f"--since <first day of {r.period}> --china-ai yes", highlight=False)


@app.command("plot")
def plot_command(output: Annotated[Path, typer.Option(
                     help="File to write: .png, .svg or .pdf (the suffix picks the format).")],
                 theme: ThemeOption = None, since: SinceOption = None,
                 until: UntilOption = None) -> None:
    """Draw the weekly series per theme with spikes marked.

    Example: cait plot --theme chips --theme talent --output timeline.png
    Example: cait plot --output timeline.svg
    """
    from reports.plot import FORMATS, timeline_chart
    from reports.timeline import build_timeline

    chart_format = output.suffix.lower().removeprefix(".")
    if chart_format not in FORMATS:
        raise UserError(f"--output must end in .png, .svg or .pdf (the format), not "
                        f"{output.name!r}")
    with open_session() as session:
        timeline = build_timeline(session, themes=_themes(theme), since=_date(since, "since"),
                                  until=_date(until, "until"))
    if not timeline.periods:
        raise UserError("no China-AI articles to plot yet (run `cait collect` and `cait "
                        "classify`)")
    write_file(output, timeline_chart(timeline, chart_format))
    console.print(f"wrote {output}", highlight=False)


@app.command("search")
def search_command(
    query: Annotated[str | None, typer.Argument(help="Full-text query (optional).")] = None,
    theme: ThemeOption = None, source: SourceOption = None, since: SinceOption = None,
    until: UntilOption = None,
    china_ai: Annotated[str | None, typer.Option("--china-ai", help="yes | no")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most results.")] = 20,
    duplicates: Annotated[bool, typer.Option(
        "--duplicates/--no-duplicates",
        help="--no-duplicates leaves out near-duplicates, as the timeline counts.")] = True,
    format: FormatOption = "table",
    as_json: JsonFlag = False,
) -> None:
    """The articles behind the numbers: newest first, or ranked by a full-text query.

    Words are all needed; OR between two terms needs either; -word leaves out articles with
    it; "exact phrase" needs the words together. Chinese and English mix freely (华为 昇腾,
    Huawei 华为). The id is what `cait label` and `cait explain` take.

    Example: cait search "export controls" --theme chips --since 2026-05-01
    Example: cait search 'Huawei OR SMIC -phones' --format csv
    """
    from reports import render
    from reports.search import search

    format = "json" if as_json else _check_format(format)
    relevance = None
    if china_ai is not None:
        if china_ai not in ("yes", "no"):
            raise UserError("--china-ai must be yes or no")
        relevance = china_ai == "yes"
    with open_session() as session:
        hits = search(session, query, themes=_themes(theme), source=source,
                      since=_date(since, "since"), until=_date(until, "until"),
                      china_ai=relevance, originals_only=not duplicates, limit=limit)
    if format == "json":
        print_json(render.hits_json(hits))
    elif format == "csv":
        sys.stdout.write(render.hits_csv(hits))
    elif format == "md":
        sys.stdout.write(render.hits_markdown(hits))
    else:
        table = Table("id", "date", "source", "title", "themes")
        table.add_column("url", overflow="fold")  # folded, never cut: it is to be copied
        for h in hits:
            title = safe(h.title, 120)  # article strings are never markup
            if h.snippet:
                title.append("\n" + clean(h.snippet, 200), style="dim")
            table.add_row(str(h.id), h.date.strftime("%Y-%m-%d") if h.date else "",
                          safe(h.source, 40), title,
                          ", ".join(f"{t} {s:.2f}" for t, s in h.themes.items()),
                          safe(h.url, 2000))
        console.print(table)


@app.command("digest")
def digest_command(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W19 (default: last "
                                                  "complete week).")] = None,
    format: Annotated[str, typer.Option("--format", help="md | html")] = "md",
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")]
    = None,
    send: Annotated[bool, typer.Option(
        "--send", help="Email it (CAIT_SMTP_URL, CAIT_DIGEST_TO) and post it to "
                       "CAIT_WEBHOOK_URL; one line per channel.")] = False,
) -> None:
    """The weekly theme-trend digest; stored in the database and written out, or sent.

    With --send the digest goes out on every configured channel, even if it went before, and
    each channel prints one line (sent, or failed with the reason); the exit status is 1 when
    every channel failed.

    Example: cait digest --week 2026-W19 --format html --output digest.html
    Example: cait digest --week 2026-W19 --send
    """
    from reports.digest import build_digest, last_complete_week, store_digest
    from reports.render import digest_html, digest_markdown

    if format not in ("md", "html"):
        raise UserError("--format must be md or html")
    if send:
        _check_channels()
    chosen = week or last_complete_week(datetime.now(UTC))
    with open_session() as session:
        try:
            data = build_digest(session, chosen)
        except ValueError as error:
            raise UserError(str(error)) from None
        replaced = store_digest(session, data)
    if replaced is not None:
        err_console.print(f"this replaces the stored digest of {chosen} (written "
                          f"{when(replaced)} UTC)", highlight=False, markup=False)
    content = digest_html(data) if format == "html" else digest_markdown(data)
    if output is not None:
        write_file(output, content)
        console.print(f"wrote {output}", highlight=False)
    elif not send:
        sys.stdout.write(content)
    if send:
        _send_digest(data)


def _check_channels() -> None:
    from reports.delivery import configured_channels

    if not configured_channels(settings()):
        raise UserError("nothing to send to: set CAIT_SMTP_URL and CAIT_DIGEST_TO, or "
                        "CAIT_WEBHOOK_URL (see `cait config`)")


def _send_digest(data: DigestData) -> None:
    """Send the digest on every channel, one line each; exit 1 when every one failed."""
    import os
    import socket

    from sqlalchemy.orm import sessionmaker

    from reports.alerts import send_digest

    sessions = sessionmaker(bind=initialised_engine(), expire_on_commit=False)
    results = send_digest(sessions, settings(), data,
                          f"cli@{socket.gethostname()}:{os.getpid()}", datetime.now(UTC),
                          by_hand=True)
    for result in results:
        say(result.outcome.line())  # a reason may quote a server's reply: untrusted
    if not any(r.outcome.ok for r in results):
        raise typer.Exit(1)


@app.command("narratives")
def narratives_command(
    theme: Annotated[str, typer.Option("--theme", help="The theme to follow.")],
    by: Annotated[str, typer.Option(help="week | month")] = "week",
    since: SinceOption = None, until: UntilOption = None,
    format: FormatOption = "table", as_json: JsonFlag = False,
) -> None:
    """How a theme's story changes: distinctive and new terms, drift, sub-narratives.

    Example: cait narratives --theme chips --by month
    Example: cait narratives --theme chips --format csv
    """
    from reports.narratives import build_narratives

    chosen = output_format(format, as_json)
    if by not in ("week", "month"):
        raise UserError("--by must be week or month")
    _themes([theme])
    with open_session() as session:
        result = build_narratives(session, theme, by=by, since=_date(since, "since"),
                                  until=_date(until, "until"))
    if chosen == "json":
        print_json(result.to_json())
        return
    if chosen != "table":
        print_rows([{by: p.period, "articles": p.articles, "distinctive": p.distinctive,
                     "entering": p.entering, "leaving": p.leaving, "drift": p.drift,
                     "drift_flag": p.drift_flag, "framings": p.framings,
                     "top_headline": p.headlines[0][0] if p.headlines else None}
                    for p in result.periods], chosen)
        return
    table = Table(by, "articles", "distinctive terms", "entering", "drift", "seed framings",
                  "top headline")
    for p in result.periods:
        drift = "" if p.drift is None else f"{p.drift:.2f}" + (" CHANGE" if p.drift_flag else "")
        table.add_row(p.period, str(p.articles), ", ".join(p.distinctive),
                      ", ".join(p.entering), drift,
                      ", ".join(f"{k} ×{v}" for k, v in p.framings.items()),
                      safe(p.headlines[0][0], 90) if p.headlines else "")
    console.print(table)
    if result.clusters:
        sub = Table("sub-narrative", "articles", "terms", "trend")
        for c in result.clusters:
            sub.add_row(c.label, str(c.articles), ", ".join(c.terms),
                        " ".join(f"{k}:{v}" for k, v in c.trend.items()))
        console.print(sub)
