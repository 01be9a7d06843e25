"""The unattended worker: collect due sources, tag what is new, write weekly digests.

An APScheduler 3.11 background scheduler runs one pass at once and then every
CAIT_COLLECT_EVERY_SECONDS (jobs never overlap: max_instances=1, coalesce, misfire grace).
The weekly digest job runs on CAIT_DIGEST_CRON (default Monday 06:00 UTC). When delivery
channels are set (CAIT_SMTP_URL, CAIT_WEBHOOK_URL), the digest is sent and each pass sends
the current week's spike alerts once (reports/alerts.py) and retries failed deliveries.
SIGTERM/SIGINT/SIGHUP set a stop event: the running pass cancels what is in flight (each source is
written in one transaction with no await inside it, so nothing is half-written) and the
process exits within seconds. A database that goes away is retried with backoff. On SQLite a
lock file keeps a second worker out; on PostgreSQL any number of workers share the sources
through leases (db/queries.claim_due_sources).

Run: python worker.py   (or `cait run`)
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from collectors.offload import Offload
from collectors.robots import RobotsCache
from common.errors import CaitError, WorkerRefused, one_line
from config import Settings, load_settings
from db import migrate
from db.models import WorkerHeartbeat
from db.session import describe_url, get_engine, session_scope
from pipeline import run_pass
from reports.alerts import Delivered, alert_pass, send_digest
from reports.delivery import configured_channels
from reports.digest import build_digest, last_complete_week, store_digest
from reports.render import digest_html, digest_markdown

log = logging.getLogger("cait.worker")
MAX_BACKOFF_SECONDS = 300



def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (plain or `file:…?uri=true` form), else None."""
    url = make_url(str(engine.url))
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if str(url.query.get("uri", "")).lower() in ("true", "1") or database.startswith("file:"):
        database = urlsplit(database).path if database.startswith("file:") else database
        if not database or ":memory:" in database or "mode=memory" in str(engine.url):
            return None
    return Path(database).expanduser().resolve()


def sqlite_lock(engine: Engine) -> IO[str] | None:
    """Hold an exclusive lock for a SQLite database file, or refuse to start.

    The lock is named by the file's device and inode, not by the path it was reached by, so
    a hard link, a symlink or the `sqlite:///file:/path?uri=true` form is the same database
    (issue 13); it lives in the system's temporary directory, which all names share.
    """
    database = sqlite_file(engine)
    if database is None:
        return None
    if not database.exists():
        database.touch()  # an empty file is an empty SQLite database, with its inode
    info = database.stat()
    path = Path(tempfile.gettempdir()) / f"cait-worker-{info.st_dev}-{info.st_ino}.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WorkerRefused(
            f"another cait worker is running on {database} (lock {path}); SQLite takes "
            f"one worker — use PostgreSQL (DATABASE_URL) to run several") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


class Worker:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.id = settings.worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.stop = threading.Event()
        self.robots = RobotsCache()
        self.offload = Offload(settings.parse_process_count)  # kept for the worker's life
        self.failures = 0
        self.retry_at = 0.0

    def beat(self, state: str, stopped: bool = False, strict: bool = False) -> None:
        """Write the heartbeat; a failure is logged, or raised with `strict` (at start, where
        a read-only database must refuse in one line rather than fail every pass)."""
        now = datetime.now(UTC)
        try:
            with session_scope(self.engine) as session:
                row = session.get(WorkerHeartbeat, self.id)
                if row is None:
                    row = WorkerHeartbeat(worker_id=self.id, hostname=socket.gethostname(),
                                          pid=os.getpid(), started_at=now)
                    session.add(row)
                row.last_beat_at, row.state = now, state[:200]
                row.stopped_at = now if stopped else None
        except sa_exc.DBAPIError as error:
            if strict:
                raise
            log.warning("event=heartbeat outcome=failed error=%r", str(error.orig)[:200])

    def pass_once(self) -> None:
        """One collection pass, then tag the new articles; skipped while backing off."""
        if self.stop.is_set() or time.monotonic() < self.retry_at:
            return
        started = time.monotonic()
        try:
            self.beat("collecting")
            result = run_pass(self.engine, self.settings, due_only=True, owner=self.id,
                              stop=self.stop, robots=self.robots, offload=self.offload,
                              on_stage=self.beat)
            summary, tagged = result.collected.summary(), result.tagged
        except sa_exc.DBAPIError as error:
            self.failures += 1
            delay = min(MAX_BACKOFF_SECONDS, 5 * 2 ** (self.failures - 1))
            self.retry_at = time.monotonic() + delay
            log.error("event=pass outcome=database_unavailable retry_in_s=%d error=%r", delay,
                      str(error.orig).strip().splitlines()[0][:200] if error.orig else "")
            return
        self.failures = 0
        log.info("event=pass outcome=ok sources=%d fetched=%d not_modified=%d failed=%d "
                 "new=%d duplicates=%d related=%d tagged=%d china_ai=%d duration_ms=%d",
                 summary["sources"], summary["fetched"], summary["not_modified"],
                 summary["failed"], summary["new_articles"], summary["duplicates"],
                 summary["related_followed"], tagged.tagged, tagged.china_ai,
                 int((time.monotonic() - started) * 1000))
        self.deliver()
        self.beat("idle")

    def deliver(self) -> None:
        """Send this week's new spike alerts and retry failed deliveries; whatever goes wrong
        here is logged and never stops collection (the next pass retries)."""
        if not configured_channels(self.settings):
            return
        try:
            results = alert_pass(self.sessions, self.settings, self.id, datetime.now(UTC))
        except sa_exc.DBAPIError as error:
            log.error("event=delivery outcome=database_unavailable error=%r",
                      str(error.orig)[:200])
            return
        except Exception:  # a bug in delivery must not take collection down with it
            log.exception("event=delivery outcome=error")
            return
        _log_deliveries(results)

    def weekly_digest(self) -> None:
        """Write last week's digest (Markdown and HTML) to $CAIT_DATA_DIR/digests and the
        database."""
        week = last_complete_week(datetime.now(UTC))
        try:
            with session_scope(self.engine) as session:
                data = build_digest(session, week)
                store_digest(session, data)
        except sa_exc.DBAPIError as error:
            log.error("event=digest week=%s outcome=database_unavailable error=%r", week,
                      str(error.orig)[:200])
            return
        directory = self.settings.data_dir / "digests"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{week}.md").write_text(digest_markdown(data), encoding="utf-8")
        (directory / f"{week}.html").write_text(digest_html(data), encoding="utf-8")
        log.info("event=digest week=%s outcome=ok path=%s", week, directory / f"{week}.html")
        if not configured_channels(self.settings):
            return
        try:  # claimed in the ledger: of several workers running this job, one sends
            _log_deliveries(send_digest(self.sessions, self.settings, data, self.id,
                                        datetime.now(UTC)))
        except sa_exc.DBAPIError as error:
            log.error("event=delivery kind=digest week=%s outcome=database_unavailable "
                      "error=%r", week, str(error.orig)[:200])

    def run(self) -> int:
        """Serve until stopped; the exit status (0 stopped cleanly, 1 refused)."""
        lock = sqlite_lock(self.engine)
        try:
            return self._serve()
        finally:
            if lock is not None:
                lock.close()

    def _serve(self) -> int:
        if migrate.current_revision(self.engine) != migrate.head_revision():
            log.error("event=start outcome=refused reason='database schema is not current: "
                      "run `cait init`'")
            return 1
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
        scheduler.add_job(self.pass_once, "interval", id="collect",
                          seconds=self.settings.collect_every_seconds,
                          next_run_time=datetime.now(UTC))
        day, _, clock = self.settings.digest_cron.partition(" ")
        hour, _, minute = clock.partition(":")
        scheduler.add_job(self.weekly_digest, "cron", id="digest", day_of_week=day,
                          hour=int(hour or 6), minute=int(minute or 0))
        scheduler.add_job(lambda: self.beat("idle" if not self.stop.is_set() else "stopping"),
                          "interval", id="heartbeat", seconds=self.settings.heartbeat_seconds)
        # SIGHUP (a closed terminal, an ssh session gone) stops cleanly too, rather than
        # killing the worker with its heartbeat left "idle"
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        log.info("event=start worker=%s database=%s every_s=%d", self.id,
                 describe_url(str(self.engine.url)), self.settings.collect_every_seconds)
        self.beat("starting", strict=True)
        scheduler.start()
        while not self.stop.wait(1.0):
            pass
        scheduler.shutdown(wait=True)  # the running pass sees `stop` and returns quickly
        self.offload.close()
        self.beat("stopped", stopped=True)
        log.info("event=stop worker=%s", self.id)
        return 0

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("event=signal signal=%s: stopping", signal.Signals(signum).name)
        self.stop.set()


def _log_deliveries(results: list[Delivered]) -> None:
    """One line per delivery: an error line for a failure (the next pass retries it)."""
    for r in results:
        (log.info if r.outcome.ok else log.error)(
            "event=delivery kind=%s theme=%s week=%s channel=%s attempt=%d outcome=%s "
            "detail=%r", r.kind, r.theme, r.week, r.outcome.channel, r.attempt,
            "sent" if r.outcome.ok else "failed", r.outcome.detail[:300])


def main(argv: list[str] | None = None) -> int:
    """Run the worker until stopped; the process exit status (0 stopped cleanly, 1 refused)."""
    argparse.ArgumentParser(
        prog="python -m worker",
        description="cait worker: collect due sources every CAIT_COLLECT_EVERY_SECONDS, follow "
                    "gated Related-News links, tag new articles and write the weekly digest, "
                    "until SIGTERM or Ctrl-C. Settings come from CAIT_* variables "
                    "(`cait config`).").parse_args(argv)
    settings = load_settings()
    logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return Worker(settings, get_engine(settings.effective_database_url)).run()
    except CaitError as error:  # the one place the worker turns its errors into a line
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 1
    except sa_exc.OperationalError as error:
        print(f"error: database unavailable: {str(error.orig).strip().splitlines()[0]}",
              file=sys.stderr)
        return 1
    except OSError as error:  # a read-only or full data directory, the lock file
        print(f"error: {error.strerror or error}: {error.filename or ''}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
