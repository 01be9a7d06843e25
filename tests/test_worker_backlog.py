"""Issue 13: SIGTERM during tagging of a large backlog stops the worker in seconds (what was
tagged before the signal is kept), and SIGHUP stops it cleanly like SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Article, ArticleTheme, WorkerHeartbeat
from tests.pages import seed_paragraphs
from tests.test_worker import _database, _start_workers, _wait, _worker_env, stop_all

__all__ = ["stop_all"]  # the fixture, used by name below
BACKLOG = 8_000


@pytest.mark.slow
def test_sigterm_with_an_8000_article_backlog_exits_within_10_s(
        sqlite_url: str, tmp_path: Path, model_dir: Path,
        stop_all: list[subprocess.Popen[bytes]]) -> None:
    engine, sessions = _database(sqlite_url)
    body, titles = seed_paragraphs()
    text = " ".join(body)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(Article), [
            {"url": f"https://x.example/{i}", "canonical_url": f"https://x.example/{i}",
             "title": f"{titles[i % len(titles)]} {i}", "text": f"{text} {i}",
             "first_seen_at": now, "discovered_via": "feed", "depth": 0}
            for i in range(BACKLOG)])
    stop_all += _start_workers(1, _worker_env(sqlite_url, tmp_path, model_dir), tmp_path)

    _wait(lambda: _state(sessions) == "classifying", 90)
    time.sleep(1.0)  # well inside the backlog (the whole of it takes far longer)
    started = time.monotonic()
    stop_all[0].send_signal(signal.SIGTERM)
    assert stop_all[0].wait(timeout=15) == 0
    took = time.monotonic() - started
    assert took < 10, f"exit took {took:.1f} s"
    with sessions() as s:
        tagged = s.scalar(select(func.count(func.distinct(ArticleTheme.article_id))))
        assert tagged is not None and 0 < tagged < BACKLOG  # kept, and really interrupted
        beat = s.get(WorkerHeartbeat, "w0")
        assert beat is not None and beat.state == "stopped"
    engine.dispose()


@pytest.mark.slow
def test_sighup_stops_the_worker_like_sigterm(
        sqlite_url: str, tmp_path: Path, model_dir: Path,
        stop_all: list[subprocess.Popen[bytes]]) -> None:
    engine, sessions = _database(sqlite_url)
    stop_all += _start_workers(1, _worker_env(sqlite_url, tmp_path, model_dir), tmp_path)

    _wait(lambda: _state(sessions) == "idle", 90)
    stop_all[0].send_signal(signal.SIGHUP)
    assert stop_all[0].wait(timeout=10) == 0  # a clean exit, not death by signal (-1)
    with sessions() as s:
        beat = s.get(WorkerHeartbeat, "w0")
        assert beat is not None and beat.state == "stopped" and beat.stopped_at is not None
    engine.dispose()


def _state(sessions: sessionmaker[Session]) -> str | None:
    """The first worker's state in its heartbeat row."""
    with sessions() as s:
        beat = s.get(WorkerHeartbeat, "w0")
        return beat.state if beat is not None else None
