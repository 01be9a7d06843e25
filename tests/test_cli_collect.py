"""`cait sources …`, `cait collect`, `cait inspect` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from tests.conftest import CORPUS
from tests.pages import seed_page, seed_paragraphs
from tests.server import LoopbackServer, Reply

runner = CliRunner()
FEED = CORPUS / "feeds" / "Ranchero-Software-NetNewsWire__DaringFireball.atom"


@pytest.fixture
def env(cli_env: None) -> None:
    """The CLI on the test database (conftest `cli_env`)."""


def cait(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_add_discovers_the_feed_of_a_home_page_then_collects(
        server: LoopbackServer, env: None) -> None:
    server.routes["/"] = Reply(200, b'<html><head><link rel="alternate" '
                                    b'type="application/atom+xml" href="/atom.xml"></head></html>')
    server.routes["/atom.xml"] = Reply(200, FEED.read_bytes(), content_type="application/xml")
    out = cait("sources", "add", server.url("/"), "--name", "df", "--tag", "blog")
    assert "found feed" in out and "/atom.xml" in out
    [row] = json.loads(cait("sources", "list", "--json"))
    assert row["url"].endswith("/atom.xml") and row["tags"] == ["blog"]
    report = json.loads(cait("collect", "--all", "--json"))
    assert {k: report[k] for k in ("sources", "fetched", "failed", "new_articles")} == {
        "sources": 1, "fetched": 1, "failed": 0, "new_articles": 47}  # 48 entries, 2 share a URL
    assert set(report) >= {"sources", "fetched", "not_modified", "failed", "new_articles",
                           "duplicates", "related_followed"}
    status = json.loads(cait("status", "--json"))
    assert status["counts"]["articles"] == 47


def test_collect_exits_3_when_nothing_could_be_fetched(server: LoopbackServer,
                                                       env: None) -> None:
    server.routes["/gone"] = Reply(404, b"no")
    server.routes["/down"] = Reply(503, b"busy")
    for name in ("gone", "down"):
        cait("sources", "add", server.url(f"/{name}"), "--name", name, "--no-check")
    result = runner.invoke(app, ["collect", "--all", "--json"])
    assert result.exit_code == 3, result.output
    assert "nothing could be fetched: all 2 sources failed" in result.output
    as_csv = runner.invoke(app, ["collect", "--all", "--format", "md"])
    assert as_csv.exit_code == 3 and as_csv.stdout.startswith("| name | ")
    assert as_csv.stdout.count("| failed |") == 2, as_csv.stdout
    server.routes["/atom.xml"] = Reply(200, FEED.read_bytes(), content_type="application/xml")
    cait("sources", "add", server.url("/atom.xml"), "--name", "ok", "--no-check")
    result = runner.invoke(app, ["collect", "--all"])
    assert result.exit_code == 0 and "failed 2" in result.output, result.output
    assert runner.invoke(app, ["collect"]).exit_code == 0  # nothing due is not a failure


def test_add_reports_a_site_without_feed(server: LoopbackServer, env: None) -> None:
    server.routes["/"] = Reply(200, b"<html><body>no feeds</body></html>")
    result = runner.invoke(app, ["sources", "add", server.url("/")])
    assert result.exit_code == 1 and "no feed found" in result.output
    assert "--kind page" in result.output


def test_sources_lifecycle_and_export_import(tmp_path: Path, env: None) -> None:
    cait("sources", "add", "https://example.com/feed", "--name", "a", "--no-discover")
    cait("sources", "add", "DeepSeek V4", "--kind", "search", "--name", "s")
    duplicate = runner.invoke(app, ["sources", "add", "https://e.com/f", "--name", "a",
                                    "--no-discover"])
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output
    cait("sources", "disable", "a")
    rows = {r["name"]: r for r in json.loads(cait("sources", "list", "--json"))}
    assert rows["a"]["enabled"] is False
    assert rows["s"]["url"].startswith("https://news.google.com/rss/search?q=DeepSeek+V4")
    exported = cait("sources", "export", "--format", "opml")
    (tmp_path / "out.opml").write_text(exported)
    cait("sources", "remove", "a")
    assert "1 added" in cait("sources", "import", str(tmp_path / "out.opml"))
    missing = runner.invoke(app, ["sources", "remove", "nope"])
    assert missing.exit_code == 1 and "no such source: nope" in missing.output


def test_one_feed_url_is_one_source(tmp_path: Path, env: None) -> None:
    cait("sources", "add", "https://例子.中国/feed?utm_source=x", "--name", "a", "--no-discover")
    for url in ("https://xn--fsqu00a.xn--fiqs8s/feed", "HTTPS://例子.中国:443/feed"):
        again = runner.invoke(app, ["sources", "add", url, "--name", "b", "--no-discover"])
        assert again.exit_code == 1 and again.output.count("\n") == 1, again.output
        assert "is already the source 'a'" in again.output
    opml = tmp_path / "in.opml"
    opml.write_text('<opml version="2.0"><body><outline text="new" xmlUrl="https://n.example/f"/>'
                    '<outline text="copy" xmlUrl="https://xn--fsqu00a.xn--fiqs8s/feed"/>'
                    '</body></opml>')
    imported = runner.invoke(app, ["sources", "import", str(opml)])
    assert imported.exit_code == 1 and "is already the source 'a'" in imported.output
    twice = tmp_path / "twice.toml"
    twice.write_text('[[source]]\nname = "x"\nurl = "https://t.example/f"\n'
                     '[[source]]\nname = "y"\nurl = "https://T.example/f#top"\n')
    imported = runner.invoke(app, ["sources", "import", str(twice)])
    assert imported.exit_code == 1 and "is already the source 'x'" in imported.output
    names = {r["name"] for r in json.loads(cait("sources", "list", "--json"))}
    assert names == {"a"}  # a refused import adds nothing


def test_add_defaults_skips_a_url_the_user_added_under_another_name(env: None) -> None:
    from collectors.sources import DEFAULT_SOURCES, load_toml

    first = load_toml(DEFAULT_SOURCES)[0]
    cait("sources", "add", first.url, "--name", "mine", "--no-discover")
    out = cait("sources", "add-defaults")
    assert out.endswith(f"{len(load_toml(DEFAULT_SOURCES)) - 1} sources added, 1 already "
                        f"present\n")


def test_add_defaults_is_idempotent(env: None) -> None:
    first = cait("sources", "add-defaults")
    assert first.split()[0].isdigit() and int(first.split()[0]) >= 20
    assert cait("sources", "add-defaults").startswith("0 sources added")


def test_inspect_a_feed_file_and_a_seed_page(tmp_path: Path, env: None) -> None:
    feed = json.loads(cait("inspect", str(FEED), "--json"))
    assert feed["type"] == "feed" and len(feed["entries"]) == 48
    _, titles = seed_paragraphs()
    page_file = tmp_path / "seed.html"
    page_file.write_text(seed_page({t: f"/n/{i}" for i, t in enumerate(titles)}))
    page = json.loads(cait("inspect", str(page_file), "--url", "https://abmedia.io/a", "--json"))
    assert page["type"] == "page" and page["language"] == "en"
    assert [r["anchor_text"] for r in page["related"]] == titles
    assert {r["block"] for r in page["related"]} == {"Related News"}
    text = cait("inspect", str(page_file), "--url", "https://abmedia.io/a")
    assert "related links: 5" in text
    # every candidate block with the detector's verdict; the nav menu is not followed
    blocks = {b["heading"] or b["path"]: b for b in page["blocks"]}
    assert blocks["Related News"]["followed"] and len(blocks["Related News"]["links"]) == 5
    assert [b for b in page["blocks"] if not b["followed"]], page["blocks"]
    assert all(0.0 <= b["score"] <= 1.0 and b["kind"] for b in page["blocks"])
    assert "followed" in text and "Related News" in text


@pytest.mark.parametrize(("head", "url", "home"), [
    ("", "http://127.0.0.1:8080/pages/1.html", {"url": "https://www.news.example/",
                                                "from": "linked"}),
    ('<link rel="canonical" href="https://www.news.example/business/story">',
     "http://127.0.0.1:8080/pages/1.html", {"url": "https://www.news.example/business/story",
                                            "from": "declared"}),
    ("", "https://www.news.example/business/story", None)])
def test_inspect_says_which_site_a_page_fetched_from_elsewhere_counts_as_its_own(
        tmp_path: Path, env: None, head: str, url: str, home: dict[str, str] | None) -> None:
    """A page saved from its site and inspected at another address: `cait inspect` says whose
    links the detector reads as the page's own, and why (the URL it declares, or the site its
    links name when it declares none); at home it says nothing of it."""
    menu = "".join(f'<li><a href="https://www.news.example/section-{i}/">Section {i}</a></li>'
                   for i in range(12))
    page_file = tmp_path / "saved.html"
    page_file.write_text(f"<html><head><title>Chip rules</title>{head}</head><body><nav><ul>"
                         f"{menu}</ul></nav><article><p>{'Chip export rules tighten. ' * 60}"
                         "</p></article></body></html>")
    page = json.loads(cait("inspect", str(page_file), "--url", url, "--json"))
    assert page["home_elsewhere"] == home
    text = cait("inspect", str(page_file), "--url", url)
    assert ("fetched from elsewhere: links to https://www.news.example/" in text) is bool(home)


def test_collect_unknown_source_is_one_line(env: None) -> None:
    result = runner.invoke(app, ["collect", "--source", "nope"])
    assert result.exit_code == 1 and result.output.strip() == "error: no such source: nope"


def test_read_only_database_is_one_clear_line(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "ro.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["sources", "add", "https://x.example/feed", "--name", "x",
                               "--no-discover"]).exit_code == 0
    # file modes do not bind root (CI), so open the file read-only the way SQLite does for a
    # read-only file or filesystem
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///file:{db}?mode=ro&uri=true")
    result = runner.invoke(app, ["sources", "add", "https://y.example/feed", "--name", "y",
                                 "--no-discover"])
    assert result.exit_code == 1
    assert result.output.startswith("error: database error:")
    assert "readonly" in result.output or "read-only" in result.output
    assert "Traceback" not in result.output
