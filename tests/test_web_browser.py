"""The dashboard in a real browser: Playwright drives Debian's chromium (/usr/bin/chromium, never
a downloaded build) against a running `cait serve` over the seeded database, on SQLite and,
when TEST_DATABASE_URL is set, PostgreSQL.

A user's path through the pages: the timeline draws its chart; clicking a spike lists exactly
the articles the point counts (checked against the database); search finds a Chinese and an
English query typed into the form; a user made by `cait web-user add` logs in and rejects a
tag with one click, and the `labels` row carries their name; a logged-out browser has no label
buttons and its POSTs are refused; a hostile title is text, no dialog fires and the CSP has
nothing to block. Every page is kept as a screenshot at phone (420 px) and desktop width in
the test's temporary directory (pytest keeps the last runs': `screenshots/*.png`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, sync_playwright
from sqlalchemy import and_, exists, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from typer.testing import CliRunner

from cli import app
from common.vocabulary import RELEVANCE
from db.models import Article, ArticleTheme, Label
from db.rollup import rebuild
from db.session import session_scope
from reports.timeline import period_span
from tests.test_digest_browser import CHROMIUM
from tests.test_reports import MONDAY, add_article, corpus  # noqa: F401  (the seeded fixture)
from tests.test_web import EVIL, PASSWORD, serving, site  # noqa: F401

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None,
                                 reason="chromium is not installed (.ci/run installs it)")]

PHONE = {"width": 420, "height": 900}
DESKTOP = {"width": 1280, "height": 900}
CHINESE = "华为发布新一代昇腾芯片"


@dataclass
class Watch:
    """What a page did that it must not: dialogs, uncaught errors, console errors (a CSP
    refusal is one: "Refused to execute inline script …")."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_quiet(self, where: str) -> None:
        assert self.dialogs == [], f"{where}: a dialog fired: {self.dialogs}"
        assert self.errors == [], f"{where}: {self.errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update"])
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[], tuple[Page, Watch]]]:
    """A fresh browser profile (no cookies) per call, each page watched."""
    contexts = []

    def make() -> tuple[Page, Watch]:
        context = browser.new_context(viewport=DESKTOP)  # never bypass_csp: the CSP is tested
        contexts.append(context)
        page = context.new_page()
        watch = Watch()

        def on_dialog(dialog: Dialog) -> None:
            watch.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning") or "Content Security Policy" in message.text:
                watch.errors.append(f"console {message.type}: {message.text} {message.location}")

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda error: watch.errors.append(f"page error: {error}"))
        page.on("response", lambda r: watch.errors.append(f"HTTP {r.status} {r.url}")
                if r.status >= 400 else None)
        return page, watch

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def seeded(site: dict[str, int], corpus: Engine) -> dict[str, int]:  # noqa: F811
    """The web tests' site plus a Chinese-titled article, with the rollup rebuilt as the
    tagging pass would leave it (the hostile title counts in the chips spike week)."""
    with session_scope(corpus) as s:
        chinese = add_article(s, 600, MONDAY + timedelta(weeks=4, hours=3), {"chips"},
                              title=CHINESE, body="华为昇腾芯片出货。")
        rebuild(s)
    return {**site, "chinese": chinese}


def _counted_titles(engine: Engine, period: str, theme: str) -> list[str]:
    """The titles one point of the timeline counts, straight from the tables: China-AI,
    tagged with the theme, not a near-duplicate, dated (published, else first seen) in it."""
    start, end = (datetime.combine(d, time(), UTC) for d in period_span(period))
    tagged, relevance = aliased(ArticleTheme), aliased(ArticleTheme)
    dated = func.coalesce(Article.published_at, Article.first_seen_at)
    with session_scope(engine) as s:
        return sorted(s.scalars(select(Article.title).where(
            Article.duplicate_of.is_(None), dated >= start, dated < end,
            exists().where(and_(tagged.article_id == Article.id, tagged.theme == theme,
                                tagged.assigned)),
            exists().where(and_(relevance.article_id == Article.id,
                                relevance.theme == RELEVANCE, relevance.assigned)))))


def _labels(engine: Engine, article_id: int) -> list[tuple[str, bool, str | None]]:
    with session_scope(engine) as s:
        return [(lab.theme, lab.value, lab.author) for lab in s.scalars(
            select(Label).where(Label.article_id == article_id).order_by(Label.id))]


def _listed(page: Page) -> list[str]:
    return sorted(page.locator("ol.hits > li > a").all_inner_texts())


def test_the_timeline_draws_its_chart_and_a_spike_lists_its_articles(
        seeded: dict[str, int], corpus: Engine, db_url: str, tmp_path: Path,  # noqa: F811
        open_page: Callable[[], tuple[Page, Watch]]) -> None:
    page, watch = open_page()
    with serving(db_url, tmp_path) as base:
        page.goto(base + "/")
        chart = page.locator("svg.chart")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 200
        assert chart.locator("polyline").count() >= 2  # one line per theme with data
        spikes = chart.locator("a", has=page.locator("polygon.spike"))
        labels = [spikes.nth(i).locator("title").text_content() or ""
                  for i in range(spikes.count())]
        assert any(label.startswith("chips 2026-W19:") for label in labels), labels
        for label in labels:
            found = re.match(r"(\w+) (\d{4}-W\d\d): (\d+) articles", label)
            assert found, label
            theme, period, count = found[1], found[2], int(found[3])
            page.goto(base + "/")
            spike = page.locator("svg.chart a", has=page.locator("polygon.spike")).filter(
                has=page.locator("title", has_text=label))
            with page.expect_navigation():
                spike.locator("polygon").click()
            assert "/search?" in page.url
            expected = _counted_titles(corpus, period, theme)
            assert len(expected) == count, (label, expected)  # the point tells the truth
            assert _listed(page) == expected, label
            assert f"{count} found" in page.locator("p.meta").first.inner_text()
        assert EVIL in _counted_titles(corpus, "2026-W19", "chips")  # the list shows it as text
        watch.assert_quiet("timeline and spikes")


def test_search_finds_a_chinese_and_an_english_query(
        seeded: dict[str, int], corpus: Engine, db_url: str, tmp_path: Path,  # noqa: F811
        open_page: Callable[[], tuple[Page, Watch]]) -> None:
    with session_scope(corpus) as s:
        everything = [(a.title or "", a.text or "") for a in s.scalars(select(Article))]
    page, watch = open_page()
    with serving(db_url, tmp_path) as base:
        page.goto(base + "/")
        page.get_by_role("link", name="Search", exact=True).click()
        for query, word in [("华为", "华为"), ("Huawei", "huawei"), ("通义千问", "通义千问")]:
            page.locator("input[name=q]").fill(query)
            with page.expect_navigation():
                page.get_by_role("button", name="Search").click()
            expected = sorted(t for t, body in everything if word in (t + " " + body).lower())
            if query == "华为":
                assert expected == [CHINESE]
            if query == "Huawei":
                assert EVIL in expected and len(expected) == 9  # the burst and the hostile one
            assert _listed(page) == expected, (query, page.url, page.inner_text("main")[:500])
            assert page.locator("input[name=q]").input_value() == query  # the form keeps it
        watch.assert_quiet("search")


def test_a_logged_in_user_rejects_a_tag_with_one_click(
        seeded: dict[str, int], corpus: Engine, db_url: str, tmp_path: Path,  # noqa: F811
        open_page: Callable[[], tuple[Page, Watch]]) -> None:
    users = tmp_path / "users"
    made = CliRunner().invoke(app, ["web-user", "add", "mei", "--password-stdin"],
                              input=f"{PASSWORD}\n", env={"CAIT_WEB_USERS_FILE": str(users)})
    assert made.exit_code == 0, made.output
    target = seeded["burst"]
    page, watch = open_page()
    with serving(db_url, tmp_path, CAIT_WEB_USERS="", CAIT_WEB_USERS_FILE=str(users)) as base:
        page.goto(base + "/login")
        page.get_by_label("Name").fill("mei")
        page.get_by_label("Password").fill("not the password")
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()
        assert "wrong name or password" in page.locator("p.error").inner_text()
        assert watch.errors[0] == f"HTTP 401 {base}/login"  # the refusal is a 401 page …
        watch.errors.clear()                                 # … that chromium logs
        page.get_by_label("Name").fill("mei")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()
        assert page.locator("header .who").inner_text().startswith("mei")
        page.goto(f"{base}/articles/{target}")
        assert _labels(corpus, target) == []
        row = page.locator("table.tags tbody tr").filter(
            has=page.locator("td:first-child", has_text=re.compile("^chips$")))
        with page.expect_navigation():
            row.get_by_role("button", name="reject").click()
        assert page.url.endswith(f"/articles/{target}#labels")
        assert _labels(corpus, target) == [("chips", False, "mei")]
        assert "chips: no — mei" in page.locator("article ul").first.inner_text()
        watch.assert_quiet("labelling")


def test_a_logged_out_user_cannot_write(
        seeded: dict[str, int], corpus: Engine, db_url: str, tmp_path: Path,  # noqa: F811
        open_page: Callable[[], tuple[Page, Watch]]) -> None:
    target = seeded["burst"]
    page, watch = open_page()
    with serving(db_url, tmp_path) as base:
        page.goto(f"{base}/articles/{target}")
        assert page.locator("table.tags tbody tr").count() >= 5  # the tags are shown …
        assert page.locator("form[action$='/labels'], button.yes, button.no").count() == 0
        assert "Log in to confirm or reject tags." in page.locator("article").inner_text()
        token = page.request.get(f"{base}/api/session").json()["csrf_token"]
        form = page.request.post(f"{base}/articles/{target}/labels", max_redirects=0,
                                 form={"theme": "chips", "value": "no", "csrf": token})
        api = page.request.post(f"{base}/api/labels", headers={"X-CSRF-Token": token},
                                data={"article_id": target, "labels": {"chips": False}})
        assert (form.status, api.status) == (401, 401)
        assert _labels(corpus, target) == []
        watch.assert_quiet("logged out")


def test_a_hostile_title_is_text_and_nothing_runs(
        seeded: dict[str, int], db_url: str, tmp_path: Path,
        open_page: Callable[[], tuple[Page, Watch]]) -> None:
    page, watch = open_page()
    with serving(db_url, tmp_path) as base:
        page.goto(f"{base}/articles/{seeded['evil']}")
        assert page.locator("article h1").inner_text() == EVIL
        assert page.title().startswith('<script>alert("xss")</script>')
        assert page.locator("script, img, [onerror], [onmouseover]").count() == 0
        hrefs = page.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if not h or h.lower().startswith("javascript:")], hrefs
        assert page.get_by_text('<b onmouseover="x()">click</b>').count() == 1
        for name in ["javascript:alert(1)", '<b onmouseover="x()">click</b>']:
            link = page.get_by_role("link", name=name, exact=True)
            link.hover()
            link.click()  # a `javascript:` URL became '#': nothing runs
        page.goto(f"{base}/search?q=Huawei")
        assert EVIL in page.locator("ol.hits > li > a").all_inner_texts()
        assert page.locator("script, img").count() == 0
        watch.assert_quiet("hostile title")


def test_every_page_at_phone_and_desktop_width(
        seeded: dict[str, int], db_url: str, tmp_path: Path,
        open_page: Callable[[], tuple[Page, Watch]]) -> None:
    """Each page renders under the CSP with its stylesheet, creates no script, fits a phone;
    both screenshots are kept."""
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page, watch = open_page()
    with serving(db_url, tmp_path) as base:
        for name, path in [("timeline", "/"), ("search", "/search?q=Huawei"),
                           ("article", f"/articles/{seeded['evil']}"), ("sources", "/sources"),
                           ("digests", "/digests"), ("digest", "/digests/2026-W19"),
                           ("login", "/login")]:
            for width, size in [("phone", PHONE), ("desktop", DESKTOP)]:
                page.set_viewport_size(size)
                response = page.goto(base + path)
                assert response is not None and response.status == 200, name
                assert page.locator("script").count() == 0, name
                if name != "digest":  # the digest is its own HTML document, sandboxed
                    assert page.evaluate("[...document.styleSheets].map(s => s.cssRules.length)"
                                         ) not in ([], [0]), name  # app.css was applied
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= size["width"], f"{name} overflows at {width}: {scroll}px"
                if name == "timeline":
                    chart = page.locator("svg.chart").bounding_box()
                    assert chart is not None and chart["width"] <= size["width"]
                    assert page.locator("svg.chart polyline").count() >= 2
                if name == "article":
                    assert page.locator("article h1").inner_text() == EVIL
                shot = shots / f"{name}-{width}.png"
                page.screenshot(path=shot, full_page=True)
                assert shot.read_bytes().startswith(b"\x89PNG"), name
                assert shot.stat().st_size > 10_000, name  # a real page was painted
        watch.assert_quiet("pages")
    assert len(list(shots.glob("*.png"))) == 14
