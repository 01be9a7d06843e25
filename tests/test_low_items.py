"""Issue 13, low items: each is one line on stderr (or simply works), never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli import app
from cli._common import open_session
from collectors.sources import SourceSpec, _toml_string, load_opml, to_toml
from common.errors import UserError, WorkerRefused
from db import migrate
from db.models import Source
from db.session import make_engine
from tests.server import LoopbackServer, Reply
from tests.test_cli_collect import env  # noqa: F401  (the fixture)
from worker import sqlite_lock

runner = CliRunner()


def one_line_error(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception) \
        or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


def test_opml_with_5000_nested_outlines(tmp_path: Path) -> None:
    path = tmp_path / "deep.opml"
    path.write_text('<?xml version="1.0"?><opml version="2.0"><body>'
                    + '<outline text="folder">' * 5000
                    + '<outline text="deep feed" xmlUrl="https://x.example/feed"/>'
                    + "</outline>" * 5000 + "</body></opml>")
    [spec] = load_opml(path)
    assert spec.name == "deep feed" and spec.tags == ["folder"] * 8


def test_opml_keeps_document_order_and_folders(tmp_path: Path) -> None:
    path = tmp_path / "s.opml"
    path.write_text('<?xml version="1.0"?><opml version="2.0"><body>'
                    '<outline text="a" xmlUrl="https://x.example/a"/>'
                    '<outline text="News"><outline text="b" xmlUrl="https://x.example/b"/>'
                    "</outline>"
                    '<outline text="c" xmlUrl="https://x.example/c"/></body></opml>')
    assert [(s.name, s.tags) for s in load_opml(path)] == [("a", []), ("b", ["News"]),
                                                           ("c", [])]


@pytest.mark.parametrize("content", ["source = [1,2]", 'source = ["a"]', "source = 5"])
def test_toml_sources_that_are_not_tables(tmp_path: Path, content: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(content)
    from collectors.sources import load_toml
    with pytest.raises(UserError, match=r"expected \[\[source\]\] tables"):
        load_toml(path)


def test_cli_import_of_bad_files_is_one_line(tmp_path: Path, env: None) -> None:  # noqa: F811
    (tmp_path / "s.toml").write_text("source = [1,2]")
    assert "expected [[source]] tables" in one_line_error("sources", "import",
                                                          str(tmp_path / "s.toml"))


def test_names_with_control_characters_are_refused_at_add_time(env: None) -> None:  # noqa: F811
    line = one_line_error("sources", "add", "https://x.example/feed", "--name", "a\x1b[2Jb",
                          "--no-discover")
    assert "control characters" in line and "\x1b" not in line


def test_toml_export_escapes_every_control_character() -> None:
    name = "tab\there \x1b[2J bell\x07 del\x7f \u0085 quote\" back\\"
    assert tomllib.loads(f"name = {_toml_string(name)}")["name"] == name
    exported = to_toml([SourceSpec("Reuters [/bold]", "https://x.example/f")])
    assert tomllib.loads(exported)["source"][0]["name"] == "Reuters [/bold]"


def test_cait_run_on_a_data_dir_it_cannot_create(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("CAIT_DATA_DIR", str(blocker / "data"))
    assert "cannot create the data directory" in one_line_error("run")


def test_cait_run_on_a_read_only_database(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "ro.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///file:{db}?mode=ro&uri=true")
    line = one_line_error("run")
    assert "readonly" in line or "read-only" in line
    assert not (tmp_path / "file:").exists()  # the URI form makes no stray directory


def test_the_sqlite_lock_holds_across_hard_links_and_the_uri_form(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "cait.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    (tmp_path / "other").mkdir()
    os.link(db, tmp_path / "other" / "linked.db")
    monkeypatch.chdir(tmp_path)
    first = sqlite_lock(engine)
    try:
        for url in (f"sqlite:///{tmp_path / 'other' / 'linked.db'}",
                    f"sqlite:///file:{db}?uri=true", f"sqlite:///{tmp_path}/./cait.db"):
            with pytest.raises(WorkerRefused, match="SQLite takes one worker"):
                sqlite_lock(make_engine(url))
    finally:
        assert first is not None
        first.close()
    assert not (tmp_path / "file:").exists()
    engine.dispose()


def test_collect_takes_back_leases_of_a_killed_collect(
        server: LoopbackServer, env: None) -> None:  # noqa: F811
    server.routes["/f"] = Reply(200, b'<?xml version="1.0"?><rss version="2.0"><channel>'
                                     b"<title>t</title><item><title>DeepSeek</title>"
                                     b"<link>https://x.example/1</link></item></channel></rss>",
                                content_type="application/xml")
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that was a process and is no more, like a kill -9'd `cait collect`
    host = socket.gethostname()
    with open_session() as session:
        from collectors.store import add_sources
        add_sources(session, [SourceSpec("dead", server.url("/f")),
                              SourceSpec("alive", server.url("/f?other"))], 3600)
        until = datetime.now(UTC) + timedelta(minutes=15)
        for row in session.scalars(select(Source)):
            pid = gone.pid if row.name == "dead" else 1  # pid 1 is always running
            row.lease_owner, row.lease_expires_at = f"cli@{host}:{pid}", until
    result = runner.invoke(app, ["collect", "--json"])
    assert result.exit_code == 0, result.output
    assert "took back 1 sources" in result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert [s["name"] for s in report["per_source"]] == ["dead"]
    with open_session() as session:
        rows = {r.name: r for r in session.scalars(select(Source))}
        assert rows["dead"].lease_owner is None and rows["dead"].last_success_at is not None
        assert rows["alive"].lease_owner == f"cli@{host}:1"


def test_collect_says_when_live_leases_hold_every_source(env: None) -> None:  # noqa: F811
    with open_session() as session:
        from collectors.store import add_sources
        add_sources(session, [SourceSpec("held", "https://x.example/feed")], 3600)
        row = session.scalars(select(Source)).one()
        row.lease_owner = "some-worker"
        row.lease_expires_at = datetime.now(UTC) + timedelta(minutes=15)
    result = runner.invoke(app, ["collect"])
    assert result.exit_code == 0, result.output
    assert "1 sources are leased by another run" in result.output
