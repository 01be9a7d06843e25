"""Collection throughput: cait's pass against a loopback farm of feeds, beside two baselines.

Prints, in one run, for N feeds (from the corpus, 100–300 ms injected latency, 2 % failures,
spread over 16 loopback hosts):
  cait     – one `collect` pass end to end (fetch, parse, dedup, store in SQLite), with the
             default CAIT_PARSE_PROCESSES=1 (parsing and hashing in a second process)
  (a)      – a naive sequential loop of httpx.get + feedparser.parse (on a sample, as a rate)
  (b)      – the CPU-only parse time of the same bytes, with feedparser and with cait's parser
and the parser side by side on the 122 corpus feeds (fastfeedparser fast path vs feedparser).

Run: .venv/bin/python -m bench.collect_bench [--feeds 1000] [--naive-sample 100]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import feedparser
import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bench.feed_server import CORPUS, feed_bodies, feed_urls
from collectors.feeds import parse_feed
from collectors.sources import SourceSpec
from collectors.store import add_sources
from collectors.update import collect
from config import load_settings
from db import migrate
from db.models import Article
from db.session import make_engine


def start_server(feeds: int, hosts: int, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.feed_server", "--feeds", str(feeds),
                             "--hosts", str(hosts), "--port", str(port)],
                            stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def run_cait(urls: list[str], workdir: Path) -> tuple[float, int, int, int]:
    settings = load_settings(environ={}, data_dir=workdir, host_concurrency=8,
                             host_delay_seconds=0.0, concurrency=64,
                             allow_private_networks=True)
    engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
    migrate.upgrade(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as s:
        add_sources(s, [SourceSpec(f"feed {i}", url) for i, url in enumerate(urls)], 3600)
        s.commit()
    started = time.perf_counter()
    report = collect(sessions, settings, due_only=False, seed=1)
    elapsed = time.perf_counter() - started
    summary = report.summary()
    with sessions() as s:
        stored = int(s.scalar(select(func.count()).select_from(Article)) or 0)
    entries = sum(r.entries for r in report.sources)
    return elapsed, entries, stored, summary["failed"]


def run_naive(urls: list[str]) -> tuple[float, int]:
    entries = 0
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for url in urls:
            try:
                response = client.get(url)
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                entries += len(feedparser.parse(response.content).entries)
    return time.perf_counter() - started, entries


def parse_only(bodies: list[bytes]) -> tuple[float, float]:
    started = time.perf_counter()
    for body in bodies:
        feedparser.parse(body)
    feedparser_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for body in bodies:
        parse_feed(body, {}, "https://bench.example/feed")
    return feedparser_seconds, time.perf_counter() - started


def parser_side_by_side() -> None:
    files = sorted(CORPUS.iterdir())
    by_parser: dict[str, int] = {}
    for path in files:
        parsed = parse_feed(path.read_bytes(), {}, "https://bench.example/feed")
        by_parser[parsed.parser] = by_parser.get(parsed.parser, 0) + 1
    print(f"  corpus routing: {by_parser} (122 feeds; 'none' = empty/HTML, rejected early)")


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--naive-sample", type=int, default=100)
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()

    server = start_server(args.feeds, args.hosts, args.port)
    try:
        urls = feed_urls(args.feeds, args.hosts, args.port)
        with tempfile.TemporaryDirectory() as tmp:
            rss_before = peak_rss_mb()
            elapsed, entries, stored, failed = run_cait(urls, Path(tmp))
            rss_after = peak_rss_mb()
        sample = urls[:: max(1, len(urls) // args.naive_sample)][: args.naive_sample]
        naive_elapsed, naive_entries = run_naive(sample)
    finally:
        server.terminate()
    bodies = feed_bodies(args.feeds)
    fp_seconds, cait_parse_seconds = parse_only(bodies)

    cait_rate = args.feeds / elapsed
    naive_rate = len(sample) / naive_elapsed
    print(f"{args.feeds} feeds, {args.hosts} loopback hosts, 100-300 ms latency, 2% failing")
    print(f"{'':34}{'seconds':>9}{'feeds/s':>10}{'entries/s':>11}")
    print(f"{'cait collect (fetch+parse+store)':34}{elapsed:9.2f}{cait_rate:10.1f}"
          f"{entries / elapsed:11.0f}   stored {stored} articles, {failed} sources failed")
    print(f"{'(a) naive httpx+feedparser loop':34}{naive_elapsed:9.2f}{naive_rate:10.1f}"
          f"{naive_entries / naive_elapsed:11.0f}   on {len(sample)} of the feeds")
    print(f"{'(b) parse only, feedparser':34}{fp_seconds:9.2f}{args.feeds / fp_seconds:10.1f}")
    print(f"{'(b) parse only, cait parse_feed':34}{cait_parse_seconds:9.2f}"
          f"{args.feeds / cait_parse_seconds:10.1f}")
    print(f"cait vs (a): {cait_rate / naive_rate:.1f}x faster (target >= 20x)")
    print(f"cait vs (b) feedparser parse time: {elapsed / fp_seconds:.2f}x; vs cait's own parse "
          f"time: {elapsed / cait_parse_seconds:.2f}x (target <= 1.5x)")
    print(f"peak RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after the pass; parser "
          f"process {peak_rss_mb(resource.RUSAGE_CHILDREN):.0f} MB "
          f"(CAIT_PARSE_PROCESSES={load_settings(environ={}).parse_processes})")
    parser_side_by_side()


if __name__ == "__main__":
    main()
