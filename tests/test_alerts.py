"""Spike alerts: sent once per theme, week and channel by two racing passes and a restart,
recorded in the deliveries ledger, failures retried by a later pass and by the worker
(the channels are in `tests/delivery_channels.py`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from cli import app
from db.models import Delivery
from db.session import make_engine, session_scope
from reports.alerts import alert_pass, current_spikes
from tests.delivery_channels import (  # noqa: F401  (fixtures)
    IN_SPIKE_WEEK,
    Hook,
    Smtp,
    _message,
    _rows,
    _settings,
    ca,
    free_port,
    hook,
    plain_smtp,
    quick_retries,
    runner,
    starttls_smtp,
    tls_smtp,
    trusted,
)
from tests.test_reports import corpus  # noqa: F401  (the fixture: a chips spike in 2026-W19)

# --- spike alerts ------------------------------------------------------------------------


def test_alerts_once_per_theme_and_week_across_racing_workers_and_a_restart(
        corpus: Engine, db_url: str, hook: Hook, plain_smtp: Smtp,  # noqa: F811
        tmp_path: Path) -> None:
    settings = _settings(tmp_path, webhook_url=hook.url, webhook_secret="k",
                         smtp_url=f"smtp://127.0.0.1:{plain_smtp.port}",
                         digest_to="desk@news.example")
    with session_scope(corpus) as s:
        spikes = sorted(a.row.theme for a in current_spikes(s, IN_SPIKE_WEEK))
    assert "chips" in spikes

    engines = [make_engine(db_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[list[Any]] = [[], []]

    def worker(i: int) -> None:
        sessions = sessionmaker(bind=engines[i], expire_on_commit=False)
        barrier.wait()
        results[i] = alert_pass(sessions, settings, f"worker-{i}", IN_SPIKE_WEEK)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # a restart: a new engine, the same week, later
    restarted = make_engine(db_url)
    again = alert_pass(sessionmaker(bind=restarted, expire_on_commit=False), settings,
                       "worker-restarted", IN_SPIKE_WEEK + timedelta(hours=2))
    for eng in (*engines, restarted):
        eng.dispose()

    assert again == []
    sent = [(r.theme, r.outcome.channel) for rs in results for r in rs]
    assert sorted(sent) == sorted((t, c) for t in spikes for c in ("email", "webhook"))
    assert sorted(b["cait"]["theme"] for b in hook.bodies("alert")) == spikes
    assert sorted(m["Subject"] for m in plain_smtp.inbox.messages) == sorted(
        f"cait alert: {t} coverage spike in 2026-W19" for t in spikes)
    chips = next(b for b in hook.bodies("alert") if b["cait"]["theme"] == "chips")
    assert chips["cait"]["articles"] == 8 and chips["cait"]["week"] == "2026-W19"
    assert "Huawei Ascend export controls story" in chips["text"]
    assert {(r.theme, r.channel, r.status) for r in _rows(corpus)} == {
        (t, c, "sent") for t in spikes for c in ("email", "webhook")}


def test_an_alert_title_cannot_make_slack_markup(corpus: Engine, hook: Hook,  # noqa: F811
                                                 tmp_path: Path) -> None:
    from db.models import Article

    with session_scope(corpus) as s:
        article = s.scalars(select(Article).where(
            Article.title == "Huawei Ascend export controls story 7")).one()
        article.title = "<!channel> <https://evil.example|click> & co"
    sessions = sessionmaker(bind=corpus, expire_on_commit=False)
    alert_pass(sessions, _settings(tmp_path, webhook_url=hook.url), "w", IN_SPIKE_WEEK)
    chips = next(b for b in hook.bodies("alert") if b["cait"]["theme"] == "chips")
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co" in chips["text"]
    assert "<!channel>" not in chips["text"]


def test_a_failed_delivery_is_retried_by_a_later_pass(corpus: Engine, hook: Hook,  # noqa: F811
                                                      tmp_path: Path) -> None:
    sessions: sessionmaker[Session] = sessionmaker(bind=corpus, expire_on_commit=False)
    settings = _settings(tmp_path, webhook_url=hook.url)
    hook.statuses = [500] * 40  # down for the whole first pass
    first = alert_pass(sessions, settings, "w", IN_SPIKE_WEEK)
    assert first and not any(r.outcome.ok for r in first)
    assert {r.status for r in _rows(corpus)} == {"failed"}
    assert all("HTTP 500 after 4 attempts" == r.error for r in _rows(corpus))

    hook.statuses = []
    assert alert_pass(sessions, settings, "w", IN_SPIKE_WEEK + timedelta(seconds=30)) == []
    later = alert_pass(sessions, settings, "w", IN_SPIKE_WEEK + timedelta(seconds=61))
    assert later and all(r.outcome.ok and r.attempt == 2 for r in later)
    assert {(r.status, r.attempts, r.error) for r in _rows(corpus)} == {("sent", 2, None)}
    assert alert_pass(sessions, settings, "w", IN_SPIKE_WEEK + timedelta(hours=5)) == []


def test_the_worker_retries_a_failed_digest_and_survives_a_dead_channel(
        corpus: Engine, db_url: str, hook: Hook, tmp_path: Path) -> None:  # noqa: F811
    from worker import Worker

    with session_scope(corpus) as s:
        s.add(Delivery(kind="digest", theme="*", week="2026-W19", channel="webhook",
                       status="failed", attempts=1, error="HTTP 500",
                       updated_at=datetime.now(UTC) - timedelta(hours=1)))
    worker = Worker(_settings(tmp_path, webhook_url=hook.url, parse_processes=0), corpus)
    worker.deliver()
    assert [b["cait"]["week"] for b in hook.bodies("digest")] == ["2026-W19"]
    [row] = _rows(corpus)
    assert (row.status, row.attempts) == ("sent", 2)

    with session_scope(corpus) as s:
        s.add(Delivery(kind="digest", theme="*", week="2026-W18", channel="webhook",
                       status="failed", attempts=1, updated_at=datetime.now(UTC)
                       - timedelta(hours=1)))
    dead = Worker(_settings(tmp_path, webhook_url=f"http://127.0.0.1:{free_port()}/h",
                            parse_processes=0), corpus)
    dead.deliver()  # logged, never raised
    failed = [r for r in _rows(corpus) if r.week == "2026-W18"][0]
    assert (failed.status, failed.attempts) == ("failed", 2) and "ConnectError" in (
        failed.error or "")


def test_cait_digest_send_says_what_failed_and_exits_1(
        corpus: Engine, db_url: str, hook: Hook, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CAIT_DATA_DIR", str(tmp_path))
    nothing = runner.invoke(app, ["digest", "--week", "2026-W19", "--send"])
    assert nothing.exit_code == 1 and "nothing to send to" in nothing.output
    monkeypatch.setenv("CAIT_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CAIT_DIGEST_TO", "desk@news.example")
    monkeypatch.setenv("CAIT_WEBHOOK_URL", hook.url)
    hook.statuses = [500] * 10
    failed = runner.invoke(app, ["digest", "--week", "2026-W19", "--send"])
    assert failed.exit_code == 1
    lines = failed.stdout.splitlines()
    assert lines[0].startswith("email: failed: ConnectionRefusedError")
    assert lines[1] == "webhook: failed: HTTP 500 after 4 attempts"
    hook.statuses = []
    half = runner.invoke(app, ["digest", "--week", "2026-W19", "--send"])
    assert half.exit_code == 0  # one channel worked
    assert half.stdout.splitlines()[-1] == "webhook: sent: HTTP 200"


def test_cait_config_hides_delivery_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIT_SMTP_URL", "smtp+starttls://ana:pw-do-not-show@mail.example:587")
    monkeypatch.setenv("CAIT_WEBHOOK_URL", "https://hooks.example/T000/B000/tok-do-not-show")
    monkeypatch.setenv("CAIT_WEBHOOK_SECRET", "key-do-not-show")
    result = runner.invoke(app, ["config"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert "do-not-show" not in result.output
    assert "mail.example" in result.output

