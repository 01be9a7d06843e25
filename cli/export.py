"""`cait export articles`: the stored articles as CSV, JSON lines or Parquet (`reports.export`).

Reading and writing stream together, so the file grows while the database is read; a file
that cannot be written is one line (the error tree), checked before anything is read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli._common import console, open_session, parse_date
from cli.reports import SinceOption, UntilOption, _themes
from common.errors import UserError

app = typer.Typer(help="Export stored data for pandas, R and spreadsheets.",
                  no_args_is_help=True)


@app.command("articles")
def articles_command(
    format: Annotated[str, typer.Option("--format", help="csv | jsonl | parquet")] = "csv",
    output: Annotated[str, typer.Option(
        "--output", "-o", help="File to write, or - for stdout (csv and jsonl).")] = "-",
    since: SinceOption = None, until: UntilOption = None,
    theme: Annotated[list[str] | None, typer.Option(
        "--theme", help="Only articles tagged with this theme; repeat for any of several.")]
    = None,
    china_ai: Annotated[bool, typer.Option(
        "--china-ai/--all", help="Only China-AI articles (as the timelines count), or all.")]
    = True,
    with_text: Annotated[bool, typer.Option(
        "--with-text", help="Include each article's summary and full text.")] = False,
) -> None:
    """Articles with their tags, scores, evidence and source; one row (or line) per article.

    CSV is UTF-8 with a byte-order mark (Excel needs it for Chinese); themes are columns
    chips, chips_score, chips_evidence, …; text that would start a spreadsheet formula gets
    a leading '. JSON lines nest themes; Parquet needs pyarrow (the [parquet] extra).
    Times are UTC, ISO 8601.

    Example: cait export articles --since 2026-01-01 --theme chips --format csv -o chips.csv
    Example: cait export articles --all --with-text --format jsonl -o - | gzip > all.jsonl.gz
    """
    from reports import export

    if format not in export.FORMATS:
        raise UserError("--format must be csv, jsonl or parquet")
    chosen = export.ExportFilter(since=parse_date(since, "since"), until=parse_date(until, "until"),
                                 themes=tuple(_themes(theme) or ()), china_ai_only=china_ai,
                                 with_text=with_text)
    if format == "parquet":
        export.pyarrow_modules()  # refused in one line before anything is read
        if output == "-":
            raise UserError("--format parquet is binary: give --output FILE")
    try:
        with open_session() as session:
            rows = export.records(session, chosen)  # read as it is written
            if format == "parquet":
                count = export.write_parquet(rows, output, with_text)
            elif output == "-":
                count = export.write_text(format, rows, sys.stdout, with_text)
            else:
                with Path(output).open("w", encoding="utf-8", newline="") as out:
                    count = export.write_text(format, rows, out, with_text)
    except OSError as error:  # a missing directory, no permission, a full disk
        raise UserError(f"cannot write {output}: {error.strerror or error}") from None
    if output != "-":
        console.print(f"wrote {count} articles to {output}", highlight=False)
