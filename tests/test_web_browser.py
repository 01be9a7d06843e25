"""The dashboard in a real headless browser (Debian's chromium) against a running `cait serve`:
pages render under the CSP with their stylesheet, the chart is drawn, no script runs, a hostile
title is text. Screenshots of each page are kept in the test's temporary directory
(pytest keeps the last runs': `screenshots/*.png`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.test_digest_browser import CHROMIUM, FLAGS
from tests.test_reports import corpus  # noqa: F401  (the seeded fixture)
from tests.test_web import serving, site  # noqa: F401


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
@pytest.mark.slow
def test_dashboard_pages_in_chromium(site: dict[str, int], corpus: Engine,  # noqa: F811
                                     db_url: str, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with serving(db_url, tmp_path) as base:
        for name, path in [("timeline", "/"), ("search", "/search?q=Huawei"),
                           ("article", f"/articles/{site['evil']}"), ("sources", "/sources"),
                           ("digests", "/digests")]:
            dom = subprocess.run([*common, "--dump-dom", base + path], capture_output=True,
                                 text=True, timeout=90)
            assert dom.returncode == 0, dom.stderr[-2000:]
            assert "<script" not in dom.stdout.lower(), name   # no script element was created
            assert "Refused to" not in dom.stderr, name        # nothing the CSP had to block
            assert "xss" not in dom.stderr and "Uncaught" not in dom.stderr, name
            if name == "timeline":
                assert '<svg class="chart"' in dom.stdout and "<polyline" in dom.stdout
            if name == "article":
                assert "&lt;script&gt;alert" in dom.stdout and "<img" not in dom.stdout
            shot = shots / f"{name}.png"
            done = subprocess.run([*common, "--window-size=420,1400", f"--screenshot={shot}",
                                   base + path], capture_output=True, text=True, timeout=90)
            assert done.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG"), name
            assert shot.stat().st_size > 10_000, name  # a real page was painted
