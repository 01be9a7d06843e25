"""Soak: the worker's pass loop against 1,000 loopback feeds that change every cycle.

Runs `worker.Worker.pass_once` repeatedly for --minutes (default 10) on a fresh SQLite
database; sources are due again after CAIT_MIN_INTERVAL_SECONDS (30 s here), and every
fetch of a feed shows 5 new items. Prints articles stored, duplicates (must be 0), errors by
kind, and resident memory after the first pass and at the end (growth should stay < 10 %).

Run: .venv/bin/python -m bench.soak_bench [--minutes 10] [--feeds 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bench.feed_server import feed_urls
from collectors.sources import SourceSpec
from collectors.store import add_sources
from config import load_settings
from db import migrate
from db.models import Article, FetchLog
from db.session import make_engine, session_scope
from worker import Worker


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18180)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "bench.feed_server", "--feeds",
                               str(args.feeds), "--hosts", "16", "--port", str(args.port),
                               "--latency", "0.05", "0.2", "--rotate"],
                              stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(
                environ={}, data_dir=Path(tmp), host_delay_seconds=0.0, host_concurrency=8,
                concurrency=64, min_interval_seconds=30, default_interval_seconds=30,
                claim_batch=args.feeds, allow_private_networks=True)
            engine = make_engine(f"sqlite:///{Path(tmp) / 'soak.db'}")
            migrate.upgrade(engine)
            with session_scope(engine) as s:
                add_sources(s, [SourceSpec(f"feed {i}", url) for i, url in
                                enumerate(feed_urls(args.feeds, 16, args.port))], 30)
            worker = Worker(settings, engine)
            started = time.monotonic()
            worker.pass_once()
            first_rss, passes = rss_mb(), 1
            while time.monotonic() - started < args.minutes * 60:
                worker.pass_once()
                passes += 1
                time.sleep(1)
            end_rss = rss_mb()
            with session_scope(engine) as s:
                stored = int(s.scalar(select(func.count()).select_from(Article)) or 0)
                distinct = int(s.scalar(select(func.count(func.distinct(
                    Article.canonical_url)))) or 0)
                fetches = int(s.scalar(select(func.count()).select_from(FetchLog)) or 0)
                errors = Counter(str(e).split(":")[0] for e in s.scalars(
                    select(FetchLog.error).where(FetchLog.error.is_not(None))))
            engine.dispose()
    finally:
        server.terminate()
    minutes = (time.monotonic() - started) / 60
    print(f"{args.feeds} rotating feeds, {minutes:.1f} minutes, {passes} passes, "
          f"{fetches} fetches")
    print(f"articles stored: {stored}; duplicates: {stored - distinct} (must be 0)")
    print(f"errors by kind: {dict(errors) or 'none'} (2 % of feeds answer 500 by design)")
    growth = (end_rss - first_rss) / first_rss * 100 if first_rss else 0.0
    print(f"resident memory: {first_rss:.0f} MB after the first pass, {end_rss:.0f} MB at the "
          f"end ({growth:+.1f} %; target < +10 %)")


if __name__ == "__main__":
    main()
