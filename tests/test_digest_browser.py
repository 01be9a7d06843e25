"""The HTML digest in a real headless browser (Debian's chromium): renders, no scripts run."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from db.rollup import rebuild
from db.session import session_scope
from reports.digest import build_digest
from reports.render import digest_html
from tests.test_reports import MONDAY, add_article

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]
EVIL = '<script>document.title="owned";console.error("xss")</script> Huawei <b>chips</b>'


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
@pytest.mark.slow
def test_digest_renders_in_chromium_with_hostile_titles_as_text(
        sqlite_url: str, tmp_path: Path) -> None:
    from db import migrate
    from db.session import make_engine

    engine: Engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    with session_scope(engine) as s:
        for i in range(6):
            add_article(s, i, MONDAY + timedelta(weeks=i), {"chips"})
        add_article(s, 99, MONDAY + timedelta(weeks=5, hours=2), {"chips"}, title=EVIL,
                    score=0.99)
        rebuild(s)
    with session_scope(engine) as s:
        page = tmp_path / "digest.html"
        page.write_text(digest_html(build_digest(s, "2026-W15")), encoding="utf-8")
    engine.dispose()
    assert CHROMIUM is not None
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<script" not in dom.stdout.lower()              # no script element was created
    assert "&lt;script&gt;document.title" in dom.stdout     # the title is shown as text
    assert "<title>China-AI coverage, week 2026-W15</title>" in dom.stdout  # title untouched
    assert "xss" not in dom.stderr and "Uncaught" not in dom.stderr
    shot = tmp_path / "digest.png"
    done = subprocess.run([*common, "--window-size=420,1600", f"--screenshot={shot}",
                           page.as_uri()], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size > 20_000  # a real page was painted, not a blank one
    assert datetime.now(UTC).year >= 2026
