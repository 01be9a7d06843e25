"""Issue 13, item 8: untrusted text (titles, source names, errors) never drives the terminal.

ESC sequences would clear the screen or set the window title; Rich markup in a title would
become a link, and a stray `[/bold]` used to crash the table with a MarkupError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from cli._common import open_session
from collectors.sources import SourceSpec
from collectors.store import add_sources
from tests.server import LoopbackServer, Reply, redirect
from tests.test_cli_collect import env  # noqa: F401  (the fixture)

runner = CliRunner()
HOSTILE = ["\x1b[2J\x1b]0;pwned\x07", "[link=http://evil]x[/link]", "[/bold]"]


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, so literal text is found


def json_feed(titles: list[str]) -> bytes:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": " ".join(titles),
        "items": [{"id": str(i), "url": f"https://x.example/{i}", "title": t,
                   "content_text": t} for i, t in enumerate(titles)]}).encode()


def test_inspect_a_hostile_feed_and_page(tmp_path: Path, env: None) -> None:  # noqa: F811
    feed = tmp_path / "feed.json"
    feed.write_bytes(json_feed(HOSTILE))
    out = run("inspect", str(feed))
    assert "[link=http://evil]x[/link]" in out and "[/bold]" in out  # shown, not obeyed
    page = tmp_path / "page.html"
    page.write_text(f"<html><head><title>{''.join(HOSTILE)}</title></head><body><p>"
                    f"{HOSTILE[0]} text</p><h3>Related News</h3><ul><li><a href='/a'>"
                    f"{HOSTILE[2]}{HOSTILE[1]}</a></li></ul></body></html>")
    out = run("inspect", str(page), "--url", "https://news.example/p")
    assert "[/bold]" in out


def test_collect_and_sources_list_with_hostile_names_and_errors(
        tmp_path: Path, server: LoopbackServer, env: None) -> None:  # noqa: F811
    server.routes["/feed"] = Reply(200, json_feed(HOSTILE), content_type="application/json")
    server.routes["/bad"] = redirect("javascript:[/bold][link=http://evil]x[/link]")
    toml = tmp_path / "s.toml"
    toml.write_text('[[source]]\nname = "[link=http://evil]bad[/link]"\n'
                    f'url = "{server.url("/bad")}"\n', encoding="utf-8")
    run("sources", "import", str(toml))
    with open_session() as session:  # a name stored before control characters were refused
        add_sources(session, [SourceSpec("Reuters [/bold] \x1b[2J\x1b]0;pwned\x07",
                                         server.url("/feed"))], 3600)
    out = run("collect", "--all")
    assert "Reuters [/bold]" in out and "[link=http://evil]bad[/link]" in out
    assert "javascript:[/bold]" in out
    out = run("sources", "list")
    assert "Reuters [/bold]" in out and "javascript:[/bold]" in out
    run("status")


def test_an_opml_outline_named_with_markup_lists(tmp_path: Path, env: None) -> None:  # noqa: F811
    opml = tmp_path / "s.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><body>'
                    '<outline text="Reuters [/bold]" xmlUrl="https://x.example/feed"/>'
                    "</body></opml>")
    run("sources", "import", str(opml))
    assert "Reuters [/bold]" in run("sources", "list")
    assert "disabled Reuters [/bold]" in run("sources", "disable", "Reuters [/bold]")
