"""`cait serve`: the dashboard and JSON API run by uvicorn in a subprocess on a loopback port,
over a seeded SQLite and PostgreSQL database, driven with httpx.

The API's timeline is the CLI's; the pages escape a hostile title and send the CSP; writes
need login and the CSRF token and write `labels` rows; reading can require login; SIGTERM
stops the server cleanly (each server is stopped so, and its exit status checked).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from classify.examples import label_examples
from cli import app
from config import load_settings
from db.models import Article, ArticleLink, Label
from db.session import session_scope
from reports.digest import build_digest, store_digest
from tests.test_reports import MONDAY, add_article, corpus  # noqa: F401  (the seeded fixture)
from web.auth import load_users, user_line, verify

ROOT = Path(__file__).resolve().parents[1]
EVIL = '<script>alert("xss")</script><img src=x onerror=alert(1)> Huawei chips'
PASSWORD = "correct horse battery"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db_url: str, tmp_path: Path, **env: str) -> Iterator[str]:
    """`cait serve` in a subprocess until the block ends; then SIGTERM must stop it cleanly."""
    port = _free_port()
    environ = {**os.environ, "DATABASE_URL": db_url, "CAIT_DATA_DIR": str(tmp_path / "data"),
               "CAIT_WEB_USERS": user_line("alice", PASSWORD), **env}
    log = (tmp_path / f"serve-{port}.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)],
                               cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/static/app.css", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / f"serve-{port}.log").read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
        log.close()
        output = (tmp_path / f"serve-{port}.log").read_text()
        assert code == 0, output
        assert "Traceback" not in output, output


@pytest.fixture
def site(corpus: Engine) -> dict[str, int]:  # noqa: F811
    """The corpus, plus a hostile title that links to a burst article, and a stored digest."""
    with session_scope(corpus) as s:
        burst = s.scalars(select(Article.id).where(Article.title.like("Huawei Ascend%"))
                          .order_by(Article.id)).first()
        assert burst is not None
        evil = add_article(s, 500, MONDAY + timedelta(weeks=9, hours=20), {"chips"},
                           title=EVIL, body="Huawei ships Ascend chips.\nSecond paragraph.")
        article = s.get(Article, evil)
        assert article is not None
        article.canonical_url = "javascript:alert(1)"
        s.add(ArticleLink(from_article_id=evil, url="https://news.example/1", followed=True,
                          to_article_id=burst, anchor_text="burst story"))
        s.add(ArticleLink(from_article_id=evil, url="javascript:alert(2)", followed=False,
                          anchor_text='<b onmouseover="x()">click</b>'))
        store_digest(s, build_digest(s, "2026-W19"))
    return {"evil": evil, "burst": burst}


def test_the_api_is_the_cli_and_is_described(site: dict[str, int], db_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with serving(db_url, tmp_path) as base, httpx.Client(base_url=base) as web:
        for cli_args, query in [([], "by=week"), (["--by", "month"], "by=month"),
                                (["--theme", "chips", "--theme", "data", "--since",
                                  "2026-03-09", "--until", "2026-05-11"],
                                 "by=week&theme=chips&theme=data&since=2026-03-09"
                                 "&until=2026-05-11")]:
            printed = runner.invoke(app, ["timeline", *cli_args, "--format", "json"])
            assert printed.exit_code == 0, printed.output
            served = web.get(f"/api/timeline?{query}")
            assert served.status_code == 200
            assert served.json() == json.loads(printed.output)
        assert any(r["spike"] for r in web.get("/api/timeline?by=week").json())
        spec = web.get("/openapi.json")
        assert spec.status_code == 200 and spec.headers["content-type"] == "application/json"
        paths = set(json.loads(spec.text)["paths"])
        assert {"/api/timeline", "/api/articles", "/api/search", "/api/articles/{article_id}",
                "/api/labels", "/api/sources", "/api/digests", "/api/status"} <= paths
        found = web.get("/api/search", params={"q": "export controls", "theme": "chips"}).json()
        assert found and all("chips" in h["themes"] for h in found)
        cjk = web.get("/api/search", params={"q": "通义千问"}).json()
        assert [h["title"] for h in cjk] == ["Qwen open weights 通义千问开源"]
        assert len(web.get("/api/articles", params={"limit": 5}).json()) == 5
        detail = web.get(f"/api/articles/{site['evil']}").json()
        assert detail["title"] == EVIL  # JSON carries the text as it is; pages escape it
        assert {t["theme"] for t in detail["tags"]} >= {"chips", "china_ai"}
        assert detail["links_to"][0]["to_article_id"] == site["burst"]
        led = web.get(f"/api/articles/{site['burst']}").json()["led_here"]
        assert led == [{"id": site["evil"], "title": EVIL}]
        assert web.get("/api/sources").json()[0]["name"] == "wire"
        assert [d["week"] for d in web.get("/api/digests").json()] == ["2026-W19"]
        assert web.get("/api/status").json()["counts"]["articles"] >= 20
        # mistakes are one clear answer, never a 500
        bad = web.get("/api/search", params={"q": '"unbalanced'})
        assert bad.status_code == 400 and "quote" in bad.json()["detail"]
        assert web.get("/api/timeline?by=year").status_code == 422
        assert web.get("/api/timeline?since=0001-01-01").status_code == 422
        assert web.get("/api/articles/999999").status_code == 404


def test_pages_render_escape_hostile_text_and_send_the_csp(
        site: dict[str, int], corpus: Engine, db_url: str, tmp_path: Path) -> None:  # noqa: F811
    with session_scope(corpus) as s:
        duplicate = s.scalars(select(Article.title).where(Article.duplicate_of.is_not(None))).one()
    with serving(db_url, tmp_path) as base, httpx.Client(base_url=base) as web:
        pages = {path: web.get(path) for path in
                 ["/", "/?by=month&theme=chips", "/search?q=Huawei", "/search?q=通义千问",
                  f"/articles/{site['evil']}", f"/articles/{site['burst']}", "/sources",
                  "/digests", "/login"]}
        for path, response in pages.items():
            assert response.status_code == 200, path
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "unsafe-inline" not in csp, path
            assert response.headers["x-frame-options"] == "DENY"
            body = response.text
            assert '<meta name="viewport"' in body
            assert "<script" not in body.lower() and " style=" not in body, path
            assert "javascript:" not in body.replace("javascript:alert(1)</", ""), path
        timeline = pages["/"].text
        assert '<svg class="chart"' in timeline and 'class="spike"' in timeline
        assert "/search?theme=chips&amp;since=2026-05-04&amp;until=2026-05-11" in timeline
        assert "Qwen open weights" in pages["/search?q=通义千问"].text
        # the filter forms send their empty fields: "not given", not a 422
        for path in ["/?by=week&since=&until=", "/search?q=Huawei&source=&since=&until=&china_ai=",
                     "/api/search?q=Huawei&since=&china_ai="]:
            assert web.get(path).status_code == 200, path
        # a point's link lists what the point counts: the near-duplicate is left out there
        week = "/search?theme=chips&since=2026-05-04&until=2026-05-11&china_ai=yes&limit=100"
        assert "&amp;duplicates=no" in timeline
        assert f">{duplicate}</a>" in web.get(week).text
        assert f">{duplicate}</a>" not in web.get(week + "&duplicates=no").text
        evil = pages[f"/articles/{site['evil']}"].text
        assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;&lt;img src=x onerror=" in evil
        assert "<img" not in evil and 'href="#"' in evil  # javascript: URLs become '#'
        assert "&lt;b onmouseover=" in evil
        assert f'href="/articles/{site["burst"]}"' in evil  # the related-news chain
        assert "Log in</a> to confirm or reject" in evil  # no label buttons when logged out
        chart = pages["/search?q=Huawei"].text
        assert "&lt;script&gt;" in chart and "<script>" not in chart
        digest = web.get("/digests/2026-W19")
        assert digest.status_code == 200 and "sandbox" in digest.headers[
            "content-security-policy"] and "script" not in digest.headers[
            "content-security-policy"]
        assert '<svg class="chart"' in digest.text  # the timeline page's chart code
        assert web.get("/static/app.css").status_code == 200


def _labels(engine: Engine, article_id: int) -> list[tuple[str, bool, str | None]]:
    with session_scope(engine) as s:
        return [(lab.theme, lab.value, lab.author) for lab in s.scalars(
            select(Label).where(Label.article_id == article_id).order_by(Label.id))]


def test_labels_need_login_and_csrf_and_write_rows(
        site: dict[str, int], corpus: Engine, db_url: str, tmp_path: Path) -> None:  # noqa: F811
    target = site["burst"]
    body = {"article_id": target, "labels": {"data": False, "china_ai": True}}
    with serving(db_url, tmp_path) as base, httpx.Client(base_url=base) as web:
        assert web.post("/api/labels", json=body).status_code == 401  # not logged in
        token = web.get("/api/session").json()["csrf_token"]
        assert web.post("/api/login", json={"name": "alice", "password": "wrong password"},
                        headers={"X-CSRF-Token": token}).status_code == 401
        assert web.post("/api/login", json={"name": "alice", "password": "x" * 10_000},
                        headers={"X-CSRF-Token": token}).status_code == 422  # not hashed
        assert web.post("/api/login", json={"name": "alice", "password": PASSWORD}
                        ).status_code == 403  # a login needs the token too
        me = web.post("/api/login", json={"name": "alice", "password": PASSWORD},
                      headers={"X-CSRF-Token": token})
        assert me.status_code == 200 and me.json()["user"] == "alice"
        assert web.post("/api/labels", json=body).status_code == 403       # no CSRF token
        assert web.post("/api/labels", json=body,
                        headers={"X-CSRF-Token": "forged"}).status_code == 403
        assert _labels(corpus, target) == []
        done = web.post("/api/labels", json=body, headers={"X-CSRF-Token": token})
        assert done.status_code == 200 and done.json() == {"added": 2, "author": "alice"}
        assert _labels(corpus, target) == [("data", False, "alice"), ("china_ai", True, "alice")]
        with session_scope(corpus) as s:  # what the next `cait train` learns from
            [example] = [e for e in label_examples(s) if e.id == f"article-{target}"]
        assert "data" not in example.themes and example.china_ai
        refused = web.post("/api/labels", json={"article_id": target, "labels": {"robots": True}},
                           headers={"X-CSRF-Token": token})
        assert refused.status_code == 422
        # the page's one-click form: the buttons are there once logged in
        page = web.get(f"/articles/{target}").text
        assert 'value="no"><button class="no"' in page and f'value="{token}"' in page
        assert web.post(f"/articles/{target}/labels",
                        data={"theme": "chips", "value": "no"}).status_code == 403
        clicked = web.post(f"/articles/{target}/labels",
                           data={"theme": "chips", "value": "no", "csrf": token})
        assert clicked.status_code == 303
        assert _labels(corpus, target)[-1] == ("chips", False, "alice")
        assert "chips: no — alice" in web.get(f"/articles/{target}").text
        # another client (no session cookie) holding the token still cannot write
        with httpx.Client(base_url=base) as stranger:
            assert stranger.post("/api/labels", json=body,
                                 headers={"X-CSRF-Token": token}).status_code == 401


def test_behind_https_the_session_cookie_is_secure_and_browsers_keep_to_https(
        site: dict[str, int], db_url: str, tmp_path: Path) -> None:
    for https in (False, True):
        env = {"CAIT_WEB_HTTPS": "1"} if https else {}
        with serving(db_url, tmp_path, **env) as base:
            answer = httpx.get(f"{base}/api/session")
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith("cait_session=") and "samesite=strict" in cookie
        assert "httponly" in cookie
        assert ("; secure" in cookie) is https, cookie
        assert ("strict-transport-security" in answer.headers) is https


def test_reading_can_require_login(site: dict[str, int], db_url: str, tmp_path: Path) -> None:
    with serving(db_url, tmp_path, CAIT_WEB_LOGIN_REQUIRED="1") as base, \
            httpx.Client(base_url=base) as web:
        assert web.get("/api/timeline").status_code == 401
        assert web.get(f"/articles/{site['evil']}").status_code == 303
        assert web.get("/").headers["location"] == "/login"
        assert web.get("/openapi.json").status_code == 200
        token = web.get("/api/session").json()["csrf_token"]
        login = web.post("/login", data={"name": "alice", "password": PASSWORD, "csrf": token})
        assert login.status_code == 303
        assert web.get("/api/timeline").status_code == 200
        assert web.get("/").status_code == 200


def test_serve_refuses_an_uninitialised_database_in_one_line(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CAIT_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["serve", "--port", str(_free_port())])
    assert result.exit_code == 1 and "not initialised: run `cait init`" in result.output


def test_web_user_add_hashes_with_argon2(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAIT_WEB_USERS_FILE", raising=False)
    made = runner.invoke(app, ["web-user", "add", "bob", "--password-stdin"],
                         input=f"{PASSWORD}\n")
    assert made.exit_code == 0, made.output
    line = made.output.strip()
    name, _, hashed = line.partition(":")
    assert name == "bob" and hashed.startswith("$argon2id$")
    assert PasswordHasher().verify(hashed, PASSWORD)
    short = runner.invoke(app, ["web-user", "add", "bob", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    users_file = tmp_path / "users"
    monkeypatch.setenv("CAIT_WEB_USERS_FILE", str(users_file))
    for password in ("first password", "second password"):
        assert runner.invoke(app, ["web-user", "add", "carol", "--password-stdin"],
                             input=password + "\n").exit_code == 0
    # argon2 hashes hold commas: the list still splits into its users
    settings = load_settings(environ={"CAIT_WEB_USERS": f"{line},{user_line('dan', PASSWORD)}",
                                      "CAIT_WEB_USERS_FILE": str(users_file)})
    users = load_users(settings)
    assert set(users) == {"bob", "carol", "dan"}
    assert verify(users, "carol", "second password")
    assert not verify(users, "carol", "first password") and not verify(users, "eve", PASSWORD)
    assert datetime.now(UTC).year >= 2026
