"""Collection throughput: cait's pass against a loopback farm of feeds, beside two baselines.

Prints, in one run, for N feeds (from the corpus, 100–300 ms injected latency, 2 % failures,
spread over 16 loopback hosts):
  cait     – one `collect` pass end to end (fetch, parse, dedup, store in SQLite), with the
             default CAIT_PARSE_PROCESSES (parsing and hashing in parser processes) started
             and stopped by the pass, as one `cait collect` does; then the same pass on a new
             database with the parser processes started before it, as a worker keeps them
  (a)      – a naive sequential loop of httpx.get + feedparser.parse (on a sample, as a rate)
  (b)      – the CPU-only parse time of the same bytes, with feedparser and with cait's parser
  (c)      – the requests alone: the same 1,000 GETs through cait's fetcher with the pass's
             request slots, nothing parsed or stored; no pass can be shorter, and it is
             printed beside what the ≥ 10× reader target allows
  reader   – lemon24/reader's `update_feeds(workers=16)` over the same 1,000 feeds on the same
             server, in the same run (the optional extra `bench-reader`; skipped with a note
             when it is not installed)
with `--postgres URL`, the same pass once more on PostgreSQL (a new schema of that database),
and the parser side by side on the 122 corpus feeds (fastfeedparser fast path vs feedparser).
The machine is shared: the load average is printed beside the figures, and the CPU time of
the passes (this process and its parser processes, from the pass's start to its end; for the
feeds-only pass the feed server's too, read from /proc) beside their wall time.

Full text (`--only full-text`, also in the default run): the 100 corpus article pages as 10
full-text feeds on 10 loopback hosts (100–300 ms latency on every request), one pass end to end
as `cait run` does it (fetch feeds → fetch pages → extract → dedup → store → classify), in
articles/s for CAIT_PARSE_PROCESSES=1, 2 and the default; the parser processes and the model are
started before the clock (a worker keeps both), and once more with the pool started inside the
pass, as one `cait collect` does.

Run: .venv/bin/python -m bench.collect_bench [--feeds 1000] [--naive-sample 100]
     [--only feeds|full-text] [--no-reader] [--postgres URL]
     (reader: .venv/bin/pip install -e '.[bench-reader]')
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import feedparser
import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bench.feed_server import CORPUS, feed_bodies, feed_urls, full_text_urls
from collectors.feeds import parse_feed
from collectors.fetch import Fetcher
from collectors.offload import Offload
from collectors.outcome import FetchError, FetchResult
from collectors.sources import SourceSpec
from collectors.store import add_sources
from collectors.update import collect
from config import Settings, load_settings
from db import migrate
from db.models import Article
from db.session import make_engine, scratch_schema


def start_server(feeds: int, hosts: int, port: int, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.feed_server", "--feeds", str(feeds),
                             "--hosts", str(hosts), "--port", str(port), *extra],
                            stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the parser processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pool_cpu_seconds(offload: Offload | None) -> float:
    """CPU time so far of a kept pool's processes (alive, so not among the reaped children)."""
    return sum(map(process_cpu_seconds, offload.pids())) if offload is not None else 0.0


def process_cpu_seconds(pid: int) -> float:
    """CPU time so far of a running process (the feed server, not reaped until the end)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def run_reader(urls: list[str], workdir: Path) -> tuple[float, int] | None:
    """lemon24/reader's update_feeds(workers=16) on a fresh database: (seconds, entries), or
    None when reader is not installed (`pip install -e '.[bench-reader]'`)."""
    if importlib.util.find_spec("reader") is None:
        return None
    from reader import make_reader

    reader = make_reader(str(workdir / "reader.sqlite"))
    for url in urls:
        reader.add_feed(url)
    started = time.perf_counter()
    reader.update_feeds(workers=16)
    elapsed = time.perf_counter() - started
    entries = reader.get_entry_counts().total or 0
    reader.close()
    return elapsed, entries


def run_cait(urls: list[str], workdir: Path, database_url: str | None = None,
             offload: Offload | None = None) -> tuple[float, int, int, int, float]:
    """One collection pass over `urls` on a fresh database (SQLite in `workdir`, or the
    PostgreSQL database at `database_url`, in a schema of its own, dropped after): (seconds,
    entries, stored articles, failed sources, CPU seconds of the pass in this process and its
    parser processes, the database's set-up and the sources' adding left out). Without
    `offload` the pass starts and stops its own parser processes, as one `cait collect` does;
    with one, the pass uses those, as a worker's pass does."""
    if database_url is not None:
        with scratch_schema(database_url, f"cait_bench_{os.getpid()}") as url:
            return run_cait_on(urls, workdir, url, offload)
    name = "bench.db" if offload is None else "bench-worker.db"
    return run_cait_on(urls, workdir, f"sqlite:///{workdir / name}", offload)


SLOTS = 64  # cait's requests in flight in the bench's passes


def pass_settings(workdir: Path, **overrides: Any) -> Settings:
    """The bench's settings for cait: `SLOTS` requests in flight, 8 to a host, no spacing,
    the loopback farm allowed."""
    return load_settings(environ={}, data_dir=workdir, host_concurrency=8,
                         host_delay_seconds=0.0, concurrency=SLOTS,
                         allow_private_networks=True, **overrides)


def run_cait_on(urls: list[str], workdir: Path, database_url: str,
                offload: Offload | None = None) -> tuple[float, int, int, int, float]:
    settings = pass_settings(workdir)
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as s:
        add_sources(s, [SourceSpec(f"feed {i}", url) for i, url in enumerate(urls)], 3600)
        s.commit()
    cpu, started = cpu_seconds() + pool_cpu_seconds(offload), time.perf_counter()
    report = collect(sessions, settings, due_only=False, seed=1, offload=offload)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() + pool_cpu_seconds(offload) - cpu
    summary = report.summary()
    with sessions() as s:
        stored = int(s.scalar(select(func.count()).select_from(Article)) or 0)
    engine.dispose()
    entries = sum(r.entries for r in report.sources)
    return elapsed, entries, stored, summary["failed"], cpu


def run_full_text(port: int, workdir: Path, processes: int | None, warm: bool
                  ) -> tuple[float, int, int, float]:
    """One full-text pass on a fresh database: (seconds, articles stored, of them with the
    page's text, CPU seconds of this process). `processes` None is the default setting."""
    from pipeline import prepare_model, run_pass  # scikit-learn: only for this mode

    overrides = {} if processes is None else {"parse_processes": processes}
    settings = pass_settings(workdir, related_depth=0, **overrides)
    database = workdir / f"full-text-{time.monotonic_ns()}.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as s:
        add_sources(s, [SourceSpec(f"full text {k}", url, full_text=True)
                        for k, url in enumerate(full_text_urls(port))], 3600)
        s.commit()
    model = prepare_model(engine, settings)  # trained once into workdir, then loaded
    offload = None
    if warm:
        offload = Offload(settings.parse_process_count)
        offload.warm()
    cpu, started = time.process_time(), time.perf_counter()
    try:
        run_pass(engine, settings, model=model, due_only=False, offload=offload)
    finally:
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if offload is not None:
            offload.close()
    with sessions() as s:
        stored = int(s.scalar(select(func.count()).select_from(Article)) or 0)
        full = int(s.scalar(select(func.count()).select_from(Article)
                            .where(Article.text.is_not(None))) or 0)
    engine.dispose()
    return elapsed, stored, full, cpu


def full_text_figures(port: int) -> None:
    server = start_server(0, 10, port, "--full-text")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            # trains the model once, untimed; in a parser process, so that this process has
            # not extracted a page before the in-process row (its one-off loading counts)
            run_full_text(port, workdir, 1, warm=True)
            default = load_settings(environ={}).parse_process_count
            print("full text: 100 corpus pages as 10 full-text feeds on 10 loopback hosts, "
                  "100-300 ms latency; fetch, extract, dedup, store, classify")
            print(f"{'':44}{'seconds':>9}{'articles/s':>12}{'full text':>11}{'main CPU s':>12}")
            runs: list[tuple[str, int | None, bool]] = [
                ("CAIT_PARSE_PROCESSES=0 (one process)", 0, True),
                ("CAIT_PARSE_PROCESSES=1", 1, True),
                ("CAIT_PARSE_PROCESSES=2", 2, True),
                (f"default ({default} processes)", None, True),
                ("default, pool started in the pass", None, False)]
            for label, processes, warm in runs:
                elapsed, stored, full, cpu = run_full_text(port, workdir, processes, warm)
                print(f"{label:44}{elapsed:9.2f}{stored / elapsed:12.1f}{full:>11}{cpu:12.2f}")
    finally:
        server.terminate()


WORKER_PASS = "cait, a worker's pass (pool kept)"


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


def run_requests(urls: list[str], workdir: Path) -> tuple[float, int]:
    """The pass's requests alone (`pass_settings`' slots, cait's fetcher, each body read and
    dropped): (seconds, answers with status 200)."""

    async def fetch_all() -> list[FetchResult | FetchError]:
        async with Fetcher(pass_settings(workdir)) as fetcher:
            return await asyncio.gather(*(fetcher.get(url) for url in urls))

    started = time.perf_counter()
    results = asyncio.run(fetch_all())
    return (time.perf_counter() - started,
            sum(1 for r in results if isinstance(r, FetchResult) and r.status == 200))


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
    parser.add_argument("--only", choices=["feeds", "full-text"])
    parser.add_argument("--no-reader", action="store_true",
                        help="skip lemon24/reader's pass (about two minutes)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also one pass on this PostgreSQL database (in a new schema)")
    args = parser.parse_args()
    if args.only != "feeds":
        full_text_figures(args.port + 1)
    if args.only == "full-text":
        return

    server = start_server(args.feeds, args.hosts, args.port)
    try:
        urls = feed_urls(args.feeds, args.hosts, args.port)
        with tempfile.TemporaryDirectory() as tmp:
            rss_before = peak_rss_mb()
            load_before, served = load(), process_cpu_seconds(server.pid)
            elapsed, entries, stored, failed, cpu = run_cait(urls, Path(tmp))
            served = process_cpu_seconds(server.pid) - served
            # a worker's pass: its parser processes started (and their imports done) before
            with Offload(load_settings(environ={}).parse_process_count) as kept:
                kept.warm()
                worker_load = load()
                worker_run = run_cait(urls, Path(tmp), offload=kept)
            rss_after = peak_rss_mb()
            requests_load = load()
            requests_elapsed, answered = run_requests(urls, Path(tmp))
            # read now: a later pass's pool, forked from this bigger process, would count it
            parser_rss = peak_rss_mb(resource.RUSAGE_CHILDREN)
            postgres_run = None
            if args.postgres:
                postgres_load = load()
                postgres_run = run_cait(urls, Path(tmp), args.postgres)
            reader_load = load()
            reader_run = None if args.no_reader else run_reader(urls, Path(tmp))
        sample = urls[:: max(1, len(urls) // args.naive_sample)][: args.naive_sample]
        naive_elapsed, naive_entries = run_naive(sample)
    finally:
        server.terminate()
    bodies = feed_bodies(args.feeds)
    parse_load = load()
    fp_seconds, cait_parse_seconds = parse_only(bodies)

    cait_rate = args.feeds / elapsed
    naive_rate = len(sample) / naive_elapsed
    print(f"{args.feeds} feeds, {args.hosts} loopback hosts, 100-300 ms latency, 2% failing")
    print(f"{'':34}{'seconds':>9}{'feeds/s':>10}{'entries/s':>11}")
    print(f"{'cait collect (fetch+parse+store)':34}{elapsed:9.2f}{cait_rate:10.1f}"
          f"{entries / elapsed:11.0f}   stored {stored} articles, {failed} sources failed; "
          f"CPU of the pass {cpu:.2f} s (cait's processes; the feed server {served:.2f} s); "
          f"{load_before}")
    w_elapsed, w_entries, w_stored, w_failed, w_cpu = worker_run
    print(f"{WORKER_PASS:34}{w_elapsed:9.2f}{args.feeds / w_elapsed:10.1f}"
          f"{w_entries / w_elapsed:11.0f}   stored {w_stored} articles, {w_failed} sources "
          f"failed; CPU of the pass {w_cpu:.2f} s (the parser processes started before it, as "
          f"a worker keeps them); {worker_load}")
    if postgres_run is not None:
        pg_elapsed, pg_entries, pg_stored, pg_failed, pg_cpu = postgres_run
        print(f"{'cait collect, PostgreSQL':34}{pg_elapsed:9.2f}{args.feeds / pg_elapsed:10.1f}"
              f"{pg_entries / pg_elapsed:11.0f}   stored {pg_stored} articles, {pg_failed} "
              f"sources failed; CPU of the pass {pg_cpu:.2f} s (cait's processes, not the "
              f"server's); {postgres_load}")
    if reader_run is None:
        print("lemon24/reader: not installed, not run (pip install -e '.[bench-reader]')"
              if not args.no_reader else "lemon24/reader: not run (--no-reader)")
    else:
        reader_elapsed, reader_entries = reader_run
        print(f"{'reader update_feeds(workers=16)':34}{reader_elapsed:9.2f}"
              f"{args.feeds / reader_elapsed:10.1f}{reader_entries / reader_elapsed:11.0f}   "
              f"stored {reader_entries} entries; {reader_load}")
    print(f"{'(a) naive httpx+feedparser loop':34}{naive_elapsed:9.2f}{naive_rate:10.1f}"
          f"{naive_entries / naive_elapsed:11.0f}   on {len(sample)} of the feeds")
    print(f"{'(b) parse only, feedparser':34}{fp_seconds:9.2f}{args.feeds / fp_seconds:10.1f}")
    print(f"{'(b) parse only, cait parse_feed':34}{cait_parse_seconds:9.2f}"
          f"{args.feeds / cait_parse_seconds:10.1f}   one process, CPU-bound; {parse_load}")
    print(f"{'(c) the requests alone':34}{requests_elapsed:9.2f}"
          f"{args.feeds / requests_elapsed:10.1f}{'':11}   {answered} answered 200, "
          f"{SLOTS} in flight; {requests_load}")
    if reader_run is not None:
        print(f"cait vs reader: {reader_run[0] / elapsed:.1f}x faster; a worker's pass "
              f"{reader_run[0] / w_elapsed:.1f}x (target >= 10x: a pass of at most "
              f"{reader_run[0] / 10:.2f} s, where the requests alone took "
              f"{requests_elapsed:.2f} s)")
    print(f"cait vs (a): {cait_rate / naive_rate:.1f}x faster (target >= 20x)")
    print(f"cait vs (b) feedparser parse time: {elapsed / fp_seconds:.2f}x; vs cait's own parse "
          f"time: {elapsed / cait_parse_seconds:.2f}x, a worker's pass "
          f"{w_elapsed / cait_parse_seconds:.2f}x (target <= 1.5x)")
    print(f"peak RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after the pass; parser "
          f"process {parser_rss:.0f} MB "
          f"(CAIT_PARSE_PROCESSES={load_settings(environ={}).parse_process_count})")
    parser_side_by_side()


if __name__ == "__main__":
    main()
