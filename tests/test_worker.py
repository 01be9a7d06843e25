"""The worker: one per SQLite file, leases on PostgreSQL, clean stop, crash recovery."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from collectors.sources import SourceSpec
from collectors.store import add_sources
from common.errors import WorkerRefused
from db import migrate
from db.models import Article, Source, WorkerHeartbeat
from db.queries import claim_due_sources
from db.session import make_engine
from tests.server import LoopbackServer, Reply
from worker import sqlite_lock

ROOT = Path(__file__).resolve().parents[1]


def _database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """A migrated database and its session factory."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    return engine, sessionmaker(bind=engine, expire_on_commit=False)


def rss(feed: int, items: int = 5) -> bytes:
    body = "".join(f"<item><title>Feed {feed} story {i}</title>"
                   f"<link>https://news{feed}.example/story/{i}</link>"
                   f"<description>Story {i} of feed {feed}.</description></item>"
                   for i in range(items))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{feed}</title>{body}'
            f"</channel></rss>").encode()


def test_a_second_worker_on_sqlite_is_refused(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    first = sqlite_lock(engine)
    try:
        with pytest.raises(WorkerRefused, match="SQLite takes one worker"):
            sqlite_lock(engine)
    finally:
        assert first is not None
        first.close()
    again = sqlite_lock(engine)  # released with the first
    assert again is not None
    again.close()


@pytest.mark.postgres
def test_concurrent_claims_are_disjoint_on_postgres(pg_url: str) -> None:
    engine, sessions = _database(pg_url)
    with sessions() as s:
        add_sources(s, [SourceSpec(f"s{i}", f"https://x{i}.example/feed") for i in range(30)],
                    3600)
        s.commit()
    now = datetime.now(UTC)
    a, b = sessions(), sessions()
    try:
        first = {r.id for r in claim_due_sources(a, now, "worker-a", 60, 20)}
        second = {r.id for r in claim_due_sources(b, now, "worker-b", 60, 20)}  # a still open
        a.commit()
        b.commit()
    finally:
        a.close()
        b.close()
    assert len(first) == 20 and len(second) == 10 and not first & second
    with sessions() as s:
        assert claim_due_sources(s, now, "worker-c", 60, 20) == []  # all leased
    engine.dispose()


def _worker_env(db_url: str, tmp_path: Path, model_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIT_")}
    env.update({"DATABASE_URL": db_url, "CAIT_DATA_DIR": str(tmp_path),
                "CAIT_MODEL_DIR": str(model_dir), "CAIT_HOST_DELAY_SECONDS": "0",
                "CAIT_HOST_CONCURRENCY": "8", "CAIT_ALLOW_PRIVATE_NETWORKS": "1",
                "CAIT_LOG_LEVEL": "WARNING", **extra})
    return env


def _start_workers(n: int, env: dict[str, str], tmp_path: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        with (tmp_path / f"w{i}.log").open("wb") as log:  # the child keeps its own copy
            procs.append(subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT,
                                          env={**env, "CAIT_WORKER_ID": f"w{i}"},
                                          stdout=subprocess.DEVNULL, stderr=log))
    return procs


def _wait(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError("timed out waiting")


@pytest.fixture
def stop_all() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_worker_collects_tags_and_stops_on_sigterm(
        server: LoopbackServer, sqlite_url: str, tmp_path: Path, model_dir: Path,
        stop_all: list[subprocess.Popen[bytes]]) -> None:
    engine, sessions = _database(sqlite_url)
    server.routes["/f"] = Reply(200, rss(1), content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec("f", server.url("/f"))], 3600)
        s.commit()
    stop_all += _start_workers(1, _worker_env(sqlite_url, tmp_path, model_dir), tmp_path)

    def tagged() -> bool:
        with sessions() as s:
            return bool(s.scalar(select(func.count()).select_from(Article)))
    _wait(tagged, 60)
    time.sleep(1)
    started = time.monotonic()
    stop_all[0].send_signal(signal.SIGTERM)
    assert stop_all[0].wait(timeout=10) == 0
    assert time.monotonic() - started < 10
    with sessions() as s:
        beat = s.get(WorkerHeartbeat, "w0")
        assert beat is not None and beat.state == "stopped" and beat.stopped_at is not None
        assert s.scalar(select(func.count()).select_from(Article)) == 5
    engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_share_200_feeds_exactly_once(
        server: LoopbackServer, pg_url: str, tmp_path: Path, model_dir: Path,
        stop_all: list[subprocess.Popen[bytes]]) -> None:
    engine, sessions = _database(pg_url)
    for i in range(200):
        server.routes[f"/feed/{i}"] = Reply(200, rss(i), content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec(f"feed {i}", server.url(f"/feed/{i}")) for i in range(200)],
                    3600)
        s.commit()
    env = _worker_env(pg_url, tmp_path, model_dir, CAIT_CLAIM_BATCH="15",
                      CAIT_COLLECT_EVERY_SECONDS="1")
    stop_all += _start_workers(3, env, tmp_path)

    def all_fetched() -> bool:
        with sessions() as s:
            return s.scalar(select(func.count()).select_from(Source)
                            .where(Source.last_success_at.is_(None))) == 0
    _wait(all_fetched, 120)
    time.sleep(2)  # a further cycle must not fetch anything again: nothing is due
    for proc in stop_all:
        proc.send_signal(signal.SIGTERM)
    assert all(proc.wait(timeout=15) == 0 for proc in stop_all)
    hits = Counter(r.path for r in server.requests if r.path.startswith("/feed/"))
    assert len(hits) == 200 and set(hits.values()) == {1}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 1000
        owners = {r.lease_owner for r in s.scalars(select(Source))}
        assert owners == {None}
    engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_killed_workers_sources_come_back_after_the_lease(
        server: LoopbackServer, pg_url: str, tmp_path: Path, model_dir: Path,
        stop_all: list[subprocess.Popen[bytes]]) -> None:
    from tests.server import Seen

    engine, sessions = _database(pg_url)

    def slow_feed(i: int):  # type: ignore[no-untyped-def]
        def handle(h):  # type: ignore[no-untyped-def]
            time.sleep(1.5)
            body = rss(i)
            h.send_response(200)
            h.send_header("Content-Type", "application/xml")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        return handle

    for i in range(40):
        server.routes[f"/feed/{i}"] = slow_feed(i)
    with sessions() as s:
        add_sources(s, [SourceSpec(f"feed {i}", server.url(f"/feed/{i}")) for i in range(40)],
                    3600)
        s.commit()
    env = _worker_env(pg_url, tmp_path, model_dir, CAIT_CLAIM_BATCH="10",
                      CAIT_COLLECT_EVERY_SECONDS="1", CAIT_LEASE_SECONDS="4",
                      CAIT_HOST_CONCURRENCY="4")
    stop_all += _start_workers(3, env, tmp_path)

    def someone_claimed() -> bool:
        with sessions() as s:
            return bool(s.scalar(select(func.count()).select_from(Source)
                                 .where(Source.lease_owner == "w0")))
    _wait(someone_claimed, 60)
    stop_all[0].send_signal(signal.SIGKILL)  # mid-pass: its claimed sources stay leased
    stop_all[0].wait()

    def all_fetched() -> bool:
        with sessions() as s:
            return s.scalar(select(func.count()).select_from(Source)
                            .where(Source.last_success_at.is_(None))) == 0
    _wait(all_fetched, 120)
    for proc in stop_all[1:]:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 40 * 5
        assert s.scalar(select(func.count(func.distinct(Article.canonical_url)))) == 200
    seen: list[Seen] = [r for r in server.requests if r.path.startswith("/feed/")]
    assert {r.path for r in seen} == {f"/feed/{i}" for i in range(40)}  # at least once each
    engine.dispose()


PG_CTL = shutil.which("pg_ctlcluster")


def _pg_cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                   check=True, capture_output=True, timeout=60)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(PG_CTL is None or os.geteuid() != 0 or not Path("/etc/postgresql").exists(),
                    reason="needs the local PostgreSQL cluster and root to restart it")
def test_worker_recovers_after_postgres_restarts(
        server: LoopbackServer, pg_url: str, tmp_path: Path, model_dir: Path,
        stop_all: list[subprocess.Popen[bytes]]) -> None:
    engine, sessions = _database(pg_url)
    server.routes["/a"] = Reply(200, rss(1), content_type="application/xml")
    server.routes["/b"] = Reply(200, rss(2), content_type="application/xml")
    with sessions() as s:
        add_sources(s, [SourceSpec("a", server.url("/a"))], 3600)
        s.commit()
    env = _worker_env(pg_url, tmp_path, model_dir, CAIT_COLLECT_EVERY_SECONDS="1")
    stop_all += _start_workers(1, env, tmp_path)

    def stored(n: int):  # type: ignore[no-untyped-def]
        def check() -> bool:
            with sessions() as s:
                return s.scalar(select(func.count()).select_from(Article)) == n
        return check
    _wait(stored(5), 60)
    engine.dispose()
    try:
        _pg_cluster("stop")
        time.sleep(4)  # the worker's passes fail meanwhile and back off
        assert stop_all[0].poll() is None, "the worker died with the database"
    finally:
        _pg_cluster("start")
    time.sleep(2)
    with sessions() as s:  # a new source added after the restart ...
        add_sources(s, [SourceSpec("b", server.url("/b"))], 3600)
        s.commit()
    _wait(stored(10), 90)  # ... is collected by the same worker process, not restarted
    assert stop_all[0].poll() is None
    stop_all[0].send_signal(signal.SIGTERM)
    assert stop_all[0].wait(timeout=15) == 0
    log = (tmp_path / "w0.log").read_text()
    assert "database_unavailable" in log
    engine.dispose()
