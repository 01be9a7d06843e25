"""Dashboard latency and API throughput of `cait serve` on synthetic databases, SQLite and
PostgreSQL.

For each size (default 100k and 1M articles) the database is seeded by `bench.report_bench`
(three years, its realistic theme mix, the rollup rebuilt), then `cait serve` runs in a
subprocess on a loopback port and is measured from outside, as a browser would see it:

- the timeline page (`GET /`, the whole three years by week, with its SVG chart): p50 and p95
  of sequential requests, after a warm-up, against the goal of 150 ms;
- `GET /api/timeline` requests per second under a loopback load generator: `wrk` (Debian's
  package) when it is installed, else an asyncio httpx generator with the same number of
  connections for the same time. The output says which.

The machine is shared (2 cores; the load generator and the server share them too): the
1-minute load average is printed beside each row, before and after it.

Run: .venv/bin/python -m bench.web_bench [--sizes 100000 1000000] [--postgres URL]
     [--databases sqlite postgresql] [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.report_bench import each_database, seed, timed
from db.session import make_engine

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 150
PAGE_REQUESTS = 40


@contextmanager
def serving(url: str) -> Iterator[str]:
    """`cait serve` over `url` on a free loopback port until the block ends (then SIGTERM)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIT_")}
        env.update({"DATABASE_URL": url, "CAIT_DATA_DIR": tmp, "CAIT_LOG_LEVEL": "WARNING"})
        process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/static/app.css", timeout=2)
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"cait serve did not start over {url}") from None
                    time.sleep(0.2)
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def page_latency(base: str, path: str) -> tuple[float, float]:
    """p50 and p95 in ms of sequential `GET path` (each must be a 200), after a warm-up."""
    with httpx.Client(base_url=base, timeout=60) as client:
        def get() -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: HTTP {response.status_code}")

        for _ in range(3):
            get()
        return timed(get, PAGE_REQUESTS)


def wrk_rps(url: str, seconds: int, connections: int) -> tuple[float, int]:
    """Requests/s and non-2xx answers, as `wrk` prints them."""
    # --timeout: a request queued behind the others is slow, not failed (default 2 s)
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
                           url], capture_output=True, text=True, check=True)
    rate = re.search(r"Requests/sec:\s*([\d.]+)", done.stdout)
    if rate is None:
        raise SystemExit(f"wrk printed no rate:\n{done.stdout}{done.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", done.stdout)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", done.stdout)
    failed = (int(bad.group(1)) if bad else 0) + (
        sum(int(g) for g in errors.groups()) if errors else 0)
    return float(rate.group(1)), failed


def httpx_rps(url: str, seconds: int, connections: int) -> tuple[float, int]:
    """Requests/s and failures of N connections each sending requests back to back."""
    async def run() -> tuple[int, int]:
        ok = failed = 0
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            end = time.monotonic() + seconds

            async def worker() -> None:
                nonlocal ok, failed
                while time.monotonic() < end:
                    try:
                        response = await client.get(url)
                        ok, failed = (ok + 1, failed) if response.status_code == 200 else (
                            ok, failed + 1)
                    except httpx.HTTPError:
                        failed += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
        return ok, failed

    started = time.perf_counter()
    ok, failed = asyncio.run(run())
    return ok / (time.perf_counter() - started), failed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    generator = (f"wrk -t2 -c{args.connections} -d{args.seconds}s --timeout 30s" if use_wrk else
                 f"asyncio httpx, {args.connections} connections, {args.seconds} s "
                 f"(wrk is not installed)")
    print(f"cait serve (one uvicorn process) on 127.0.0.1; {os.cpu_count()} cores shared with "
          f"the load generator; GET / = the timeline page, {PAGE_REQUESTS} sequential requests "
          f"after 3 warm-ups; /api/timeline load: {generator}")
    print(f"{'database':10} {'articles':>9} {'seed s':>7} {'GET / p50':>10} {'p95':>6} "
          f"{'goal':>5} {'api req/s':>10} {'failed':>7}  load 1m before/after")
    for kind, n, url in each_database(args.sizes, args.databases, args.postgres):
        engine = make_engine(url)
        try:
            seed_s = seed(engine, n)
        finally:
            engine.dispose()
        before = os.getloadavg()[0]
        with serving(url) as base:
            p50, p95 = page_latency(base, "/")
            load = wrk_rps if use_wrk else httpx_rps
            rps, failed = load(f"{base}/api/timeline", args.seconds, args.connections)
        after = os.getloadavg()[0]
        goal = "ok" if p95 < GOAL_MS else "over"
        print(f"{kind:10} {n:>9,} {seed_s:7.0f} {p50:8.0f}ms {p95:4.0f}ms {goal:>5} "
              f"{rps:10.0f} {failed:7}  {before:.2f} / {after:.2f}", flush=True)

if __name__ == "__main__":
    main()
