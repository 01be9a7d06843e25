"""Faults: kill -9 the collector at random moments; nothing half-written, lost, duplicated
or missing from the search index."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from collectors.sources import SourceSpec
from collectors.store import add_sources
from db import migrate
from db.models import Article, FetchLog, Source
from db.session import make_engine, session_scope
from reports.search import search
from tests.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]
FEEDS = 30


def rotating_feed(feed: int, asked: threading.Event):  # type: ignore[no-untyped-def]
    """Each request shows a window moved on by 5 items: every run has new articles. `asked`
    is set on every request, so the test knows the collector has started fetching."""
    calls = {"n": 0}
    lock = threading.Lock()

    def handle(h) -> None:  # type: ignore[no-untyped-def]
        asked.set()
        with lock:
            start = calls["n"] * 5
            calls["n"] += 1
        time.sleep(random.uniform(0.05, 0.4))
        items = "".join(f"<item><title>Feed {feed} item {i}</title>"
                        f"<link>https://n{feed}.example/{i}</link></item>"
                        for i in range(start, start + 20))
        body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{feed}</title>'
                f"{items}</channel></rss>").encode()
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/xml")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except OSError:
            pass  # the collector was killed mid-response

    return handle


@pytest.mark.slow
def test_kill_9_at_random_points_loses_and_duplicates_nothing(
        server: LoopbackServer, db_url: str, tmp_path: Path, model_dir: Path) -> None:
    engine = make_engine(db_url)
    try:
        _kill_loop(server, db_url, tmp_path, model_dir, engine)
    finally:
        engine.dispose()


def _kill_loop(server: LoopbackServer, db_url: str, tmp_path: Path, model_dir: Path,
               engine: Engine) -> None:
    migrate.upgrade(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    asked = threading.Event()
    for i in range(FEEDS):
        server.routes[f"/feed/{i}"] = rotating_feed(i, asked)
    with sessions() as s:
        add_sources(s, [SourceSpec(f"feed {i}", server.url(f"/feed/{i}")) for i in range(FEEDS)],
                    3600)
        s.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIT_")}
    env.update({"DATABASE_URL": db_url, "CAIT_DATA_DIR": str(tmp_path),
                "CAIT_MODEL_DIR": str(model_dir),  # trained once per session, not per run
                "CAIT_HOST_DELAY_SECONDS": "0", "CAIT_HOST_CONCURRENCY": "4",
                "CAIT_LOG_LEVEL": "ERROR"})
    rng = random.Random(20261123)
    seen_ids: set[int] = set()
    # The checks read articles and fetch_log in one snapshot: under READ COMMITTED each
    # statement sees its own, and the killed client's last COMMIT may land between them.
    snapshot = sessionmaker(bind=engine.execution_options(
        isolation_level="REPEATABLE READ" if engine.dialect.name == "postgresql"
        else "SERIALIZABLE"), expire_on_commit=False)
    for run in range(20):
        asked.clear()
        proc = subprocess.Popen([sys.executable, "-c", "import cli; cli.app()", "collect",
                                 "--all", "--json"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if run % 5 == 4:  # now and then during start-up (imports, migrations, model load)
            time.sleep(rng.uniform(0.1, 1.5))
        else:  # else while fetching and storing: timed from the first request, not from
            # the start, since start-up takes 1.5 s on an idle machine and far more on a busy one
            asked.wait(timeout=120)
            time.sleep(rng.uniform(0.0, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with snapshot() as s:
            ids = set(s.scalars(select(Article.id)))
            assert seen_ids <= ids, "an article stored before the kill was lost"
            seen_ids = ids
            assert s.scalar(select(func.count(func.distinct(Article.canonical_url)))) == len(ids)
            per_source = dict(s.execute(select(Article.source_id, func.count())
                                        .group_by(Article.source_id)).all())
            logged = dict(s.execute(select(FetchLog.source_id, func.sum(FetchLog.new_articles))
                                    .group_by(FetchLog.source_id)).all())
            for source in s.scalars(select(Source)):
                # articles and their fetch_log row are written in one transaction
                assert per_source.get(source.id, 0) == (logged.get(source.id) or 0), source.name
            if engine.dialect.name == "sqlite":  # each article indexed or queued with its row
                fts = set(s.scalars(text("SELECT rowid FROM articles_fts")))
                queued = set(s.scalars(text("SELECT id FROM articles_fts_pending")))
                assert fts | queued == ids and not fts & queued
    assert len(seen_ids) >= FEEDS * 20  # every feed was stored at least once despite kills
    with session_scope(engine) as s:  # and search finds every one, killed passes or not
        assert {h.id for h in search(s, "item", limit=len(seen_ids) + 1)} == seen_ids
