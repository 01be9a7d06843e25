"""Reports: timeline (= the theme_weekly view), spikes, coverage gaps, search, digest, plot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from cli import app
from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, Digest, FetchLog, Source
from db.rollup import rebuild
from db.session import session_scope
from reports.digest import build_digest, store_digest, week_bounds
from reports.plot import timeline_chart
from reports.render import CHART_TITLE, digest_html, digest_markdown
from reports.search import search
from reports.svg import timeline_svg
from reports.timeline import build_timeline

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 2026-W10
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def add_article(s, n: int, when: datetime | None, themes: set[str], china: bool = True,  # type: ignore[no-untyped-def]
                title: str | None = None, body: str = "", source_id: int | None = None,
                duplicate_of: int | None = None, first_seen: datetime | None = None,
                score: float = 0.9) -> int:
    article = Article(url=f"u{n}", canonical_url=f"https://news.example/{n}",
                      title=title or f"Story {n}", text=body or f"Body of story {n}.",
                      published_at=when, first_seen_at=first_seen or when or MONDAY,
                      source_id=source_id, duplicate_of=duplicate_of)
    s.add(article)
    s.flush()
    for theme in THEMES:
        s.add(ArticleTheme(article_id=article.id, theme=theme, score=score if theme in themes
                           else 0.1, assigned=theme in themes, model_version="m",
                           evidence=[theme] if theme in themes else []))
    s.add(ArticleTheme(article_id=article.id, theme=RELEVANCE, score=0.9 if china else 0.1,
                       assigned=china, model_version="m"))
    return article.id


@pytest.fixture
def corpus(engine: Engine) -> Engine:
    """Ten weeks of coverage: chips steady at 1/week then a burst of 8 in week 10."""
    with session_scope(engine) as s:
        src = Source(name="wire", url="https://wire.example/feed")
        s.add(src)
        s.flush()
        n = 0
        for week in range(9):
            n += 1
            add_article(s, n, MONDAY + timedelta(weeks=week), {"chips"}, source_id=src.id)
            n += 1
            add_article(s, n, MONDAY + timedelta(weeks=week, days=1), {"talent"})
        first_burst = None
        for i in range(8):
            n += 1
            aid = add_article(s, n, MONDAY + timedelta(weeks=9, hours=i), {"chips", "data"},
                              title=f"Huawei Ascend export controls story {i}",
                              body="Export controls on Nvidia GPUs hit Chinese labs; Biren, "
                                   "Enflame and Iluvatar respond.",
                              source_id=src.id)
            first_burst = first_burst or aid
        n += 1  # a near-duplicate of the first burst article: must count once only
        add_article(s, n, MONDAY + timedelta(weeks=9), {"chips"}, duplicate_of=first_burst)
        n += 1  # not about China's AI: never counted
        add_article(s, n, MONDAY + timedelta(weeks=9), {"chips"}, china=False)
        n += 1  # no publication date: counted by first-seen time, in week 12 (a gap week 11)
        add_article(s, n, None, {"open_source"}, first_seen=MONDAY + timedelta(weeks=11),
                    title="Qwen open weights 通义千问开源", body="阿里巴巴开源通义千问大模型权重")
        s.add(FetchLog(source_id=src.id, url=src.url, outcome="failed", error="timeout: x",
                       started_at=MONDAY + timedelta(weeks=10, days=2)))
        rebuild(s)  # tags were written directly, not by the tagging pass that maintains it
    return engine


def test_timeline_equals_the_sql_view(corpus: Engine) -> None:
    with session_scope(corpus) as s:
        timeline = build_timeline(s)
    with corpus.connect() as conn:
        view = {(r.week, r.theme): (r.articles, r.share) for r in conn.execute(
            text("SELECT week, theme, articles, share FROM theme_weekly"))}
    from_cli = {(r["week"], r["theme"]): (r["articles"], r["share"])
                for r in timeline.to_json() if r["articles"]}
    assert set(from_cli) == set(view)
    for key, (articles, share) in view.items():
        assert from_cli[key][0] == articles
        assert from_cli[key][1] == pytest.approx(share, abs=1e-4)
    assert timeline.periods == [f"2026-W{w:02d}" for w in range(10, 22)]  # zero weeks too
    chips = {r.period: r for r in timeline.rows if r.theme == "chips"}
    assert chips["2026-W19"].articles == 8          # the duplicate counted once
    assert chips["2026-W20"].articles == 0          # an empty week, present
    assert chips["2026-W19"].share == pytest.approx(1.0)
    assert {r.period: r.articles for r in timeline.rows if r.theme == "open_source"}[
        "2026-W21"] == 1                             # dated by first-seen time


def test_spikes_and_coverage_gaps(corpus: Engine) -> None:
    with session_scope(corpus) as s:
        timeline = build_timeline(s)
    spikes = [(r.period, r.theme) for r in timeline.rows if r.spike]
    assert spikes == [("2026-W19", "chips"), ("2026-W19", "data")] or \
        spikes == [("2026-W19", "chips")]
    chips = {r.period: r for r in timeline.rows if r.theme == "chips"}
    assert chips["2026-W19"].p_value is not None and chips["2026-W19"].p_value < 0.01
    assert chips["2026-W18"].spike is False and chips["2026-W18"].change == 0
    assert chips["2026-W19"].change == 7
    assert timeline.gaps["2026-W20"].failing_sources == ["wire"]


def test_timeline_filters_and_months(corpus: Engine) -> None:
    with session_scope(corpus) as s:
        wire = build_timeline(s, themes=["chips"], source="wire")
        monthly = build_timeline(s, by="month")
        window = build_timeline(s, since=datetime(2026, 5, 4, tzinfo=UTC),
                                until=datetime(2026, 5, 11, tzinfo=UTC))
    assert sum(r.articles for r in wire.rows) == 17
    assert monthly.periods[0] == "2026-03" and "2026-05" in monthly.periods
    assert window.periods == ["2026-W19"]


def test_search_full_text_filters_and_cjk(corpus: Engine) -> None:
    with session_scope(corpus) as s:
        hits = search(s, "export controls", limit=5)
        assert len(hits) == 5 and all("Huawei" in (h.title or "") for h in hits)
        assert all(h.snippet and "[" in h.snippet for h in hits)
        assert search(s, "Qwen")[0].title.startswith("Qwen")  # type: ignore[union-attr]
        assert search(s, "通义千问")[0].title.startswith("Qwen")  # type: ignore[union-attr]
        # Chinese queries are segmented: every word must occur, in any order, any case
        assert search(s, "千问 通义")[0].title.startswith("Qwen")  # type: ignore[union-attr]
        assert search(s, "通义千问 火星殖民地") == []
        assert search(s, "100%_通义") == []  # LIKE wildcards in the query are literal
        assert len(search(s, themes=["talent"], limit=100)) == 9
        assert len(search(s, source="wire", limit=100)) == 17
        assert all(h.china_ai is False for h in search(s, china_ai=False))
        newest = search(s, limit=3)
        assert newest[0].date >= newest[1].date >= newest[2].date  # type: ignore[operator]
        for hostile in ["x' OR 1=1 ; x", "chips' ; DROP TABLE articles;", "NEAR(a b)",
                        "a:b ^c d*", "'; SELECT 1; '"]:
            search(s, hostile)  # parameters and quoted terms: no error, no injection
        assert s.scalar(text("SELECT count(*) FROM articles")) == 29


def test_a_digest_week_of_thousands_of_articles_binds_their_ids_as_one_list(
        engine: Engine) -> None:
    """The week's ids go to the database as one bound value (`db.queries.in_bound_list`: a
    JSON array on SQLite, an array on PostgreSQL), however many: every article is counted
    and the best-scored are the ones shown."""
    n = 6_000
    when = MONDAY + timedelta(weeks=9, hours=1)
    articles = [{"id": i, "url": f"u{i}", "canonical_url": f"https://news.example/{i}",
                 "title": f"Story {i}", "text": f"Body of story {i}.", "published_at": when,
                 "first_seen_at": when, "discovered_via": "feed", "depth": 0}
                for i in range(1, n + 1)]
    # every article about China's AI and tagged chips, scores rising with the id; the even
    # ones tagged data too
    tags = [{"article_id": i, "theme": theme, "score": 0.5 + i / (4 * n), "assigned": True,
             "model_version": "m", "evidence": []}
            for i in range(1, n + 1)
            for theme in (RELEVANCE, "chips", *(("data",) if i % 2 == 0 else ()))]
    with engine.begin() as connection:
        connection.execute(insert(Article.__table__), articles)
        connection.execute(insert(ArticleTheme.__table__), tags)
    with session_scope(engine) as s:
        rebuild(s)
    with session_scope(engine) as s:
        data = build_digest(s, "2026-W19")
    themes = {summary.theme: summary for summary in data.themes}
    assert [a.id for a in themes["chips"].top] == [n - k for k in range(5)]
    assert [a.id for a in themes["data"].top] == [n - 2 * k for k in range(5)]
    assert (themes["chips"].row.articles, themes["data"].row.articles) == (n, n // 2)


def test_digest_escapes_article_text_and_is_stored(corpus: Engine) -> None:
    evil = '<script>alert("x")</script> **bold** [link](javascript:1) \x1b[31mred'
    with session_scope(corpus) as s:
        add_article(s, 999, MONDAY + timedelta(weeks=9, hours=9), {"chips"}, title=evil,
                    score=0.99)
        rebuild(s)
    with session_scope(corpus) as s:
        data = build_digest(s, "2026-W19")
        store_digest(s, data)
    html, md = digest_html(data), digest_markdown(data)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "\x1b" not in html and "\x1b" not in md
    assert "javascript:" not in html.split("<main>")[1].split("href=")[0]
    assert "\\<script\\>" in md and "\\*\\*bold\\*\\*" in md
    assert "<script" not in html.lower()
    # the chart is the dashboard's inline SVG (the timeline page's code), not an image
    assert timeline_svg(data.timeline, title=CHART_TITLE) in html
    assert "<img" not in html and "data:image" not in html and "<polyline" in html
    assert 'class="spike"' in html  # the burst week's triangle
    # an email names its attached PNG instead: mail clients do not render inline SVG
    mail = digest_html(data, chart_src="cid:chart@cait.invalid")
    assert '<img alt="Weekly China-AI articles per theme" src="cid:chart@cait.invalid">' in mail
    assert "<svg" not in mail and data.chart_png.startswith(b"\x89PNG")
    chips = next(t for t in data.themes if t.theme == "chips")
    assert chips.row.articles == 9 and chips.row.spike and len(chips.top) == 5
    assert chips.top[0].title == evil
    with session_scope(corpus) as s:
        assert s.scalars(select(Digest.week)).all() == ["2026-W19"]
    with pytest.raises(ValueError, match="2026-W19"):
        week_bounds("2026-19")


def test_plot_is_a_png(corpus: Engine) -> None:
    with session_scope(corpus) as s:
        png = timeline_chart(build_timeline(s))
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_plot_format_follows_the_suffix(corpus: Engine, db_url: str, tmp_path,  # type: ignore[no-untyped-def]
                                        monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    magic = {"t.png": b"\x89PNG", "t.SVG": b"<?xml", "t.pdf": b"%PDF"}
    for name, start in magic.items():
        result = runner.invoke(app, ["plot", "--output", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).read_bytes().startswith(start), name
    assert b"<svg" in (tmp_path / "t.SVG").read_bytes()[:1000]
    for name in ("t.jpg", "t"):
        result = runner.invoke(app, ["plot", "--output", str(tmp_path / name)])
        assert result.exit_code == 1 and not (tmp_path / name).exists()
        assert result.output.count("\n") == 1 and ".png, .svg or .pdf" in result.output


def test_cli_reports(corpus: Engine, db_url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = runner.invoke(app, ["timeline", "--theme", "chips", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert set(rows[0]) >= {"week", "theme", "articles", "share", "change", "spike"}
    assert [r["week"] for r in rows if r["spike"]] == ["2026-W19"]
    for fmt in ("table", "csv", "md"):
        assert runner.invoke(app, ["timeline", "--format", fmt]).exit_code == 0
    found = json.loads(runner.invoke(app, ["search", "export", "--format", "json"]).output)
    assert found and found[0]["themes"]
    out = tmp_path / "digest.html"
    made = runner.invoke(app, ["digest", "--week", "2026-W19", "--format", "html",
                               "--output", str(out)])
    assert made.exit_code == 0, made.output
    assert out.read_text().startswith("<!doctype html>")
    assert runner.invoke(app, ["timeline", "--json"]).output == \
        runner.invoke(app, ["timeline", "--format", "json"]).output
    stories = runner.invoke(app, ["narratives", "--theme", "chips", "--format", "csv"]).output
    assert stories.startswith("week,articles,distinctive,entering,leaving,drift")
    assert "2026-W19,8," in stories
    bad = runner.invoke(app, ["timeline", "--theme", "robots"])
    assert bad.exit_code == 1 and "unknown theme" in bad.output
    assert runner.invoke(app, ["plot", "--output", str(tmp_path / "t.png")]).exit_code == 0


def test_narratives_show_the_new_story_and_the_seed_framing(corpus: Engine) -> None:
    from reports.narratives import build_narratives

    with session_scope(corpus) as s:
        result = build_narratives(s, "chips")
    by_period = {p.period: p for p in result.periods}
    burst = by_period["2026-W19"]
    assert burst.articles == 8
    assert {"export", "controls"} <= set(burst.distinctive)
    assert {"export", "controls"} <= set(burst.entering)
    assert burst.drift is not None and burst.drift_flag        # the story changed
    assert burst.framings == {"export controls": 8}
    assert not by_period["2026-W18"].drift_flag                 # same old story before
    assert burst.headlines[0][0].startswith("Huawei Ascend export controls")
    assert json_roundtrip(result.to_json())["theme"] == "chips"


def json_roundtrip(value: object) -> dict:  # type: ignore[type-arg]
    return json.loads(json.dumps(value))


def test_rollup_path_and_raw_path_agree(corpus: Engine) -> None:
    from reports.timeline import _counts, _counts_from_rollup

    with session_scope(corpus) as s:
        for by in ("week", "month"):
            assert _counts_from_rollup(s, by, None, None) == _counts(s, by, None, None, None)
        window = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 20, tzinfo=UTC))
        assert _counts_from_rollup(s, "week", *window) == _counts(s, "week", *window, None)


@pytest.mark.parametrize("args", [["search", "x", "--limit", "99999999999999999999"],
                                  ["timeline", "--since", "9999-12-31"],
                                  ["timeline", "--until", "0001-01-01"]])
def test_out_of_range_report_options_are_one_line(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                  args: list[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("where", ["missing-dir/x", "a-file/x", "a-dir"])
@pytest.mark.parametrize("command", [["plot"], ["digest", "--week", "2026-W19"],
                                     ["classify", "--input", "{items}"],
                                     ["demo", "--data-dir"]])
def test_a_file_that_cannot_be_written_is_one_line(
        corpus: Engine, db_url: str, tmp_path, monkeypatch,  # type: ignore[no-untyped-def]
        command: list[str], where: str) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    (tmp_path / "a-file").write_text("not a directory")
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": 1, "title": "t", "text": "x"}\n')
    suffix = "" if command[0] == "demo" else ".png" if command[0] == "plot" else ".md"
    (tmp_path / f"a-dir{suffix}").mkdir()
    target = tmp_path / f"{where}{suffix}"
    if command[0] == "demo":
        if where != "a-file/x":
            pytest.skip("a directory that is missing is made; one that exists is used")
        args = [*command, str(target)]
    else:
        args = [*[str(items) if a == "{items}" else a for a in command], "--output", str(target)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot "), result.output
    assert str(target) in " ".join(result.output.split())


@pytest.mark.slow
def test_digests_are_the_same_run_to_run_and_a_rerun_says_it_replaces(
        corpus: Engine, db_url: str) -> None:
    """Ties among "new this week" terms (the burst's eight articles share every word) are
    ordered by the term itself, not by Python's per-process string hashing."""
    outputs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "DATABASE_URL": db_url, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "cli", "digest", "--week", "2026-W19"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
        replaced = "replaces the stored digest of 2026-W19" in done.stderr
        assert replaced == (seed != "1"), done.stderr
    assert "New this week:" in outputs[0]
    assert outputs[0] == outputs[1] == outputs[2]


def test_new_this_week_is_new_to_the_coverage_not_noise(engine: Engine) -> None:
    """A word the talent stories used last month is not new when chips stories use it now;
    stopwords and everyday news words ("whereas", "nearly", "including": common/
    common_words.txt) never are, however thin the history; a word no earlier story had is."""
    week10 = MONDAY + timedelta(weeks=9, hours=2)
    with session_scope(engine) as s:
        add_article(s, 1, week10 - timedelta(weeks=2), {"talent"},
                    body="Recruiters describe lithography hiring using referrals anywhere.")
        for n in (2, 3):
            add_article(s, n, week10 + timedelta(hours=n), {"chips"},
                        body="Fabs using lithography anywhere; the Zhaoxin roadmap widens, "
                             "nearly doubling output, including Lithography, whereas Zhaoxin "
                             "ships.")
        rebuild(s)
    with session_scope(engine) as s:
        chips = next(t for t in build_digest(s, "2026-W19").themes if t.theme == "chips")
    assert "zhaoxin" in chips.new_terms
    assert not {"lithography", "using", "anywhere", "whereas", "nearly", "including",
                "output"} & set(chips.new_terms)
