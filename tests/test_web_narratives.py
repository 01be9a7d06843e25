"""The Narratives page and `/api/narratives` served by `cait serve` (a subprocess on loopback)
over the seeded corpus, on SQLite and PostgreSQL: the API is `cait narratives --format json`,
the page shows each period's terms, drift flag, sub-narratives and seed framings, escaped."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from cli import app
from db.models import Article
from db.rollup import rebuild
from db.session import session_scope
from tests.test_reports import MONDAY, add_article, corpus  # noqa: F401  (the seeded fixture)
from tests.test_web import serving, site  # noqa: F401

runner = CliRunner()
HOSTILE = '<script>alert("n")</script><img src=x onerror=alert(2)> export controls chips'


@pytest.fixture
def hostile(site: dict[str, int], corpus: Engine) -> int:  # noqa: F811
    """The burst week's best-scored article: a hostile title and a javascript: address."""
    with session_scope(corpus) as s:
        aid = add_article(s, 600, MONDAY + timedelta(weeks=9, hours=22), {"chips"},
                          title=HOSTILE, body="Export controls on chips.", score=0.99)
        found = s.get(Article, aid)
        assert found is not None
        found.canonical_url = "javascript:alert(3)"
        rebuild(s)
    return aid


def test_api_narratives_is_the_cli(hostile: int, db_url: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with serving(db_url, tmp_path) as base, httpx.Client(base_url=base, timeout=30) as web:
        for cli_args, query in [(["--theme", "chips"], "theme=chips"),
                                (["--theme", "chips", "--by", "month"], "theme=chips&by=month"),
                                (["--theme", "data", "--since", "2026-04-01", "--until",
                                  "2026-05-20"], "theme=data&since=2026-04-01&until=2026-05-20"),
                                (["--theme", "talent", "--since", "2030-01-01"],
                                 "theme=talent&since=2030-01-01")]:
            printed = runner.invoke(app, ["narratives", *cli_args, "--format", "json"])
            assert printed.exit_code == 0, printed.output
            served = web.get(f"/api/narratives?{query}")
            assert served.status_code == 200, served.text
            assert served.json() == json.loads(printed.output), query
        chips = web.get("/api/narratives", params={"theme": "chips"}).json()
        burst = {p["period"]: p for p in chips["periods"]}["2026-W19"]
        assert burst["drift_flag"] and {"export", "controls"} <= set(burst["entering"])
        assert burst["headlines"][0] == {"title": HOSTILE, "url": "javascript:alert(3)"}
        assert chips["sub_narratives"]  # 19 chips articles: clustered
        spec = web.get("/openapi.json").json()
        params = {p["name"] for p in spec["paths"]["/api/narratives"]["get"]["parameters"]}
        assert params == {"theme", "by", "since", "until"}
        # mistakes are one clear answer
        assert web.get("/api/narratives").status_code == 422              # theme is needed
        assert web.get("/api/narratives?theme=robots").status_code == 422
        assert web.get("/api/narratives?theme=chips&by=year").status_code == 422
        assert web.get("/api/narratives?theme=chips&since=0001-01-01").status_code == 422


def test_narratives_page_shows_each_period_escaped(hostile: int, db_url: str,
                                                   tmp_path: Path) -> None:
    with serving(db_url, tmp_path) as base, httpx.Client(base_url=base, timeout=30) as web:
        response = web.get("/narratives", params={"theme": "chips"})
        assert response.status_code == 200
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        body = response.text
        assert '<meta name="viewport"' in body and '<a href="/narratives">Narratives</a>' in body
        assert "<script" not in body.lower() and " style=" not in body
        assert "&lt;script&gt;alert(&#34;n&#34;)&lt;/script&gt;&lt;img src=x onerror=" in body
        assert "<img" not in body and "javascript:" not in body  # the address became '#'
        sections = re.findall(r'<section class="period( changed)?">\s*<h3>(\S+) ', body)
        weeks = [w for _, w in sections]
        assert weeks[0] == "2026-W19" and weeks == sorted(weeks, reverse=True)
        assert [w for changed, w in sections if changed] == ["2026-W19"]  # the drift flag
        burst = body.split('<section class="period changed">')[1].split("</section>")[0]
        assert "10 articles" in burst and '<strong class="drift">changed</strong>' in burst
        entering = burst.split('<ul class="terms in">')[1].split("</ul>")[0]
        assert "<li>export</li>" in entering and "<li>controls</li>" in entering
        assert "export controls ×9" in burst                        # the seed framing
        assert re.search(r'<span class="sub">[^<]+ ×\d+</span>', burst)  # sub-narratives
        assert "<h2>Sub-narratives</h2>" in body
        month = web.get("/narratives?theme=chips&by=month").text
        assert "<h3>2026-05 " in month
        empty = web.get("/narratives?theme=talent&since=2030-01-01")
        assert empty.status_code == 200 and "No China-AI articles on talent" in empty.text
        assert "<option value=\"chips\" selected>" in web.get("/narratives").text  # default
        bad = web.get("/narratives?theme=robots")
        assert bad.status_code == 422 and "<script" not in bad.text.lower()
