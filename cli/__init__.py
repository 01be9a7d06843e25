"""The `cait` command line: thin commands that parse options, call a package function and render.

`app` is built here from one Typer per command group (`admin`, `sources`, `collect`,
`classify`, `reports`, `demo`, `export`, `web`); what they share lives in `cli/_common.py`.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from cli import admin, classify, collect, demo, export, reports, sources, web
from cli._common import CaitGroup, console, settings

app = typer.Typer(
    cls=CaitGroup,
    help="cait — track news coverage of China's AI industry by theme "
         "(chips, data, talent, open_source).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        try:
            number = version("china-ai-tracker")
        except PackageNotFoundError:  # run from a checkout that was never installed
            number = "unknown"
        console.print(f"cait {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")]
         = False,
         show_version: Annotated[bool, typer.Option(
             "--version", callback=_version, is_eager=True,
             help="Print cait's version and exit.")] = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, settings().log_level.upper(), 20)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


for group in (admin, collect, classify, reports, demo, web):
    app.add_typer(group.app)
app.add_typer(sources.app, name="sources")
app.add_typer(export.app, name="export")
app.add_typer(web.users_app, name="web-user")
