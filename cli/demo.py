"""`cait demo`: the whole pipeline offline, on a bundled snapshot served from 127.0.0.1.

The snapshot: the first seed article (from the classifier's anchors) as a page ending in its
real "Related News" block, a page for each story that block links to, and a feed of real
articles (the hand-labelled ones in bench/data and classify/anchors) with publication
dates spread over the last ten weeks, so the timeline has a shape. Nothing leaves the machine.
"""

from __future__ import annotations

import html
import json
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from classify import ANCHORS
from cli._common import console, write_file
from common.errors import UserError

if TYPE_CHECKING:
    from collectors.report import PassReport
    from reports.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
ARTICLE_FILES = [ROOT / "bench" / "data" / "dev.jsonl", ANCHORS / "articles.jsonl"]
RELATED_NEWS = [  # the block at the end of the first seed article, as published
    "AMD reportedly seeks Samsung to manufacture its chips, while TSMC's capacity crunch "
    "exposes challenges in supply-chain diversification",
    "Cloudflare announces global layoffs of 20%, with AI usage increasing by more than 600% "
    "over three months",
    "Does Claude/GPT love pleasing too much? A Claude.md prompt lets AI deliver tough, "
    "accurate answers",
    "DeepSeek Raises Funding at $45B Valuation Amid AI Competition",
    "Arm's earnings beat expectations; the CEO warned that the mobile market is weak, and "
    "launched the AGI CPU to expand its share in AI",
]


def _page(title: str, paragraphs: list[str], related: list[tuple[str, str]] | None = None,
          published: datetime | None = None) -> bytes:
    meta = (f'<meta property="article:published_time" content="{published.isoformat()}">'
            if published else "")
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    block = ""
    if related:
        items = "".join(f'<li><a href="{html.escape(u)}">{html.escape(t)}</a></li>'
                        for t, u in related)
        block = f'<section class="post-footer"><h3>Related News</h3><ul>{items}</ul></section>'
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
            f"{html.escape(title)}</title>{meta}</head><body><article><h1>"
            f"{html.escape(title)}</h1>{body}</article>{block}</body></html>").encode()


def snapshot(now: datetime) -> dict[str, tuple[str, bytes]]:
    """path → (content type, body) for every page and feed of the demo."""
    routes: dict[str, tuple[str, bytes]] = {"/robots.txt": ("text/plain", b"User-agent: *\n")}
    seeds = [json.loads(line) for line in (ANCHORS / "seeds.jsonl").read_text().splitlines()]
    body = [p for s in seeds if s["source"].startswith("abmedia") and s["lines"] < "34"
            for p in s["text"].split("\n")]
    body = [p for p in body if p not in RELATED_NEWS]
    related = [(title, f"/news/{i}") for i, title in enumerate(RELATED_NEWS)]
    routes["/seed/china-ai-labs"] = ("text/html", _page(
        "In-depth field visit to China's AI labs: the chip and data gaps", body, related,
        now - timedelta(days=7)))
    for i, title in enumerate(RELATED_NEWS):
        routes[f"/news/{i}"] = ("text/html", _page(title, [
            f"{title}.", "This page is part of cait's offline demo snapshot: the headline is "
            "real, the text stands in for the article.", f"{title}."],
            published=now - timedelta(days=6)))
    items = []
    rows = [json.loads(line) for path in ARTICLE_FILES for line in path.read_text().splitlines()]
    monday = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=now.weekday())
    for n, row in enumerate(rows[:90]):
        # the first eight (Huawei Ascend and export controls) land in the last complete week,
        # so the timeline has a chips story to flag; the rest spread over the nine before
        if n < 8:
            when = monday - timedelta(days=6, hours=-3 * n)
        else:
            when = monday - timedelta(weeks=2 + n % 9, hours=n)
        routes[f"/articles/{n}"] = ("text/html", _page(row["title"], [row["text"]], None, when))
        items.append(f"<item><title>{html.escape(row['title'])}</title>"
                     f"<link>/articles/{n}</link><pubDate>{format_datetime(when)}</pubDate>"
                     f"<description>{html.escape(row['text'][:200])}</description></item>")
    routes["/feeds/china-ai.xml"] = ("application/rss+xml", (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>cait demo feed</title>{''.join(items)}</channel></rss>").encode())
    return routes


def serve(routes: dict[str, tuple[str, bytes]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            content_type, body = routes.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_demo(data_dir: Path, say: Callable[[str], None]) -> tuple[PassReport, Timeline, Path]:
    """Collect, classify, report on the snapshot in `data_dir`; returns what it made."""
    # The whole pipeline (scikit-learn, trafilatura, matplotlib) is imported here, not when
    # the CLI starts: every other command would pay for it.
    from sqlalchemy.orm import sessionmaker

    from collectors.sources import SourceSpec
    from collectors.store import add_sources
    from config import Settings, load_settings
    from db import migrate
    from db.session import make_engine, session_scope
    from pipeline import run_pass
    from reports.digest import build_digest, last_complete_week, store_digest
    from reports.render import digest_html
    from reports.timeline import build_timeline

    settings: Settings = load_settings(
        data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'demo.db'}",
        host_delay_seconds=0.0, host_concurrency=8, allow_private_networks=True,
        full_text_per_source=100)
    now = datetime.now(UTC)
    server = serve(snapshot(now))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    engine = make_engine(settings.effective_database_url)
    try:
        migrate.upgrade(engine)
        sessions = sessionmaker(bind=engine, expire_on_commit=False)
        with sessions() as session:
            add_sources(session, [
                SourceSpec("demo: seed article", f"{base}/seed/china-ai-labs", kind="page"),
                SourceSpec("demo: China-AI feed", f"{base}/feeds/china-ai.xml",
                           full_text=True)], settings.default_interval_seconds)
            session.commit()
        say(f"serving the demo snapshot at {base}; collecting…")
        result = run_pass(engine, settings, due_only=False, on_stage=lambda _: say("classifying…"))
        report = result.collected
        with session_scope(engine) as session:
            timeline = build_timeline(session)
            week = last_complete_week(now)
            data = build_digest(session, week)
            store_digest(session, data)
        digest_path = data_dir / f"digest-{week}.html"
        write_file(digest_path, digest_html(data))
        return report, timeline, digest_path
    finally:
        server.shutdown()
        server.server_close()
        engine.dispose()


app = typer.Typer()


@app.command("demo")
def demo_command(
    data_dir: Annotated[Path | None, typer.Option(
        help="Where to keep the demo database and digest (default: a new temporary "
             "directory).")] = None,
) -> None:
    """Run the whole pipeline offline on a bundled snapshot and show what cait does.

    Example: cait demo
    """
    from reports.render import timeline_markdown

    target = data_dir or Path(tempfile.mkdtemp(prefix="cait-demo-"))
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {target}: {error.strerror or error}") from None
    started = time.monotonic()
    report, timeline, digest_path = run_demo(
        target, lambda message: console.print(message, highlight=False))
    summary = report.summary()
    console.print(f"collected {summary['new_articles']} articles from {summary['sources']} "
                  f"sources, followed {summary['related_followed']} Related-News link(s)",
                  highlight=False)
    recent = timeline.periods[-6:]
    rows = [r for r in timeline.rows if r.period in recent]
    console.print(timeline_markdown(type(timeline)(timeline.by, timeline.themes, recent, rows,
                                                   timeline.gaps)), highlight=False,
                  markup=False)
    console.print(f"digest: {digest_path}\ndatabase: {target / 'demo.db'} (try: "
                  f"DATABASE_URL=sqlite:///{target / 'demo.db'} cait search --theme chips)\n"
                  f"done in {time.monotonic() - started:.0f} s", highlight=False)
