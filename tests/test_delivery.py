"""Delivery: the digest by email (a real SMTP server on loopback, STARTTLS and TLS with a
certificate made here), the webhook (a loopback receiver checks the signature and answers 500
first), spike alerts sent once by two racing passes and a restart, failures retried."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import reports.delivery
from cli import app
from config import Settings, load_settings
from db.models import Delivery
from db.session import make_engine, session_scope
from reports.alerts import alert_pass, current_spikes, send_digest
from reports.delivery import Message, post_webhook, send_email
from reports.digest import build_digest
from tests.test_reports import corpus  # noqa: F401  (the fixture: a chips spike in 2026-W19)

runner = CliRunner()
IN_SPIKE_WEEK = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)  # a Wednesday of 2026-W19


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a real SMTP server ------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message it accepts, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def _accept_ana(server: Any, session: Any, envelope: Any, mechanism: str,
                auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"ana", b"s3cret")
    return AuthResult(success=ok)


@dataclass
class Smtp:
    inbox: Inbox
    port: int


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test CA as the system's CA bundle (SSL_CERT_FILE, read by OpenSSL's defaults)."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


def _server_context(ca: trustme.CA) -> Any:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def starttls_smtp(ca: trustme.CA) -> Iterator[Smtp]:
    """SMTP on loopback that requires STARTTLS before anything, then AUTH (ana / s3cret)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            tls_context=_server_context(ca), require_starttls=True,
                            authenticator=_accept_ana, auth_required=True,
                            auth_require_tls=True)
    controller.start()
    yield Smtp(inbox, port)
    controller.stop()


@pytest.fixture
def tls_smtp(ca: trustme.CA) -> Iterator[Smtp]:
    """SMTP over TLS from the first byte (smtps)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            ssl_context=_server_context(ca))
    controller.start()
    yield Smtp(inbox, port)
    controller.stop()


@pytest.fixture
def plain_smtp() -> Iterator[Smtp]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield Smtp(inbox, port)
    controller.stop()


# --- a real webhook receiver -------------------------------------------------------------


@dataclass
class Hook:
    statuses: list[int] = field(default_factory=list)   # answers in turn, then 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def bodies(self, event: str | None = None) -> list[dict[str, Any]]:
        return [json.loads(body) for headers, body in self.received
                if event is None or headers.get("x-cait-event") == event]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/cait"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook retries wait 1, 2, 4 s in service; a few milliseconds here."""
    monkeypatch.setattr(reports.delivery, "WEBHOOK_DELAYS", (0.01, 0.02, 0.04))


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return load_settings(environ={}, data_dir=tmp_path, connect_timeout=2.0,
                         read_timeout=3.0, **values)


def _message() -> Message:
    return Message(event="digest", subject="s", text="plain", html="<p>html</p>",
                   summary={"text": "hello"})


def _rows(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


# --- email -------------------------------------------------------------------------------


def test_cait_digest_send_emails_the_digest_over_starttls(
        corpus: Engine, db_url: str, starttls_smtp: Smtp, trusted: None,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CAIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAIT_SMTP_URL", f"smtp+starttls://ana:s3cret@127.0.0.1:"
                                        f"{starttls_smtp.port}")
    monkeypatch.setenv("CAIT_DIGEST_TO", "desk@news.example, ana@news.example")
    monkeypatch.setenv("CAIT_SMTP_FROM", "cait@news.example")
    result = runner.invoke(app, ["digest", "--week", "2026-W19", "--send"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == \
        "email: sent: to desk@news.example, ana@news.example"

    [mail] = starttls_smtp.inbox.messages
    assert starttls_smtp.inbox.recipients == [["desk@news.example", "ana@news.example"]]
    assert mail["Subject"] == "China-AI coverage, week 2026-W19"
    assert mail["From"] == "cait@news.example"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "China-AI coverage, week 2026-W19" in plain.get_content()
    assert "Huawei Ascend export controls story" in plain.get_content()
    related = [p for p in mail.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    [chart] = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    png = chart.get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    cid = chart["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()
    assert "data:image/png" not in html.get_content()  # mail clients block data: images
    assert "<svg" not in html.get_content()  # nor do they render inline SVG reliably
    [row] = _rows(corpus)
    assert (row.kind, row.theme, row.week, row.channel, row.status) == (
        "digest", "*", "2026-W19", "email", "sent")

    # by hand it goes out again, whatever went before
    again = runner.invoke(app, ["digest", "--week", "2026-W19", "--send"])
    assert again.exit_code == 0, again.output
    assert len(starttls_smtp.inbox.messages) == 2
    assert _rows(corpus)[0].attempts == 2


def test_email_over_tls_and_the_failures_that_are_one_line(
        tls_smtp: Smtp, plain_smtp: Smtp, ca: trustme.CA, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    to = {"digest_to": "desk@news.example"}
    # a certificate no CA we trust signed: refused, with the reason
    untrusted = send_email(_settings(tmp_path, smtp_url=f"smtps://127.0.0.1:{tls_smtp.port}",
                                     **to), _message())
    assert not untrusted.ok and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail
    assert tls_smtp.inbox.messages == []

    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    sent = send_email(_settings(tmp_path, smtp_url=f"smtps://127.0.0.1:{tls_smtp.port}",
                                **to), _message())
    assert sent.ok, sent.detail
    assert len(tls_smtp.inbox.messages) == 1

    # STARTTLS asked for, the server offers none: not sent in the clear
    no_tls = send_email(_settings(tmp_path, smtp_url=f"smtp+starttls://127.0.0.1:"
                                  f"{plain_smtp.port}", **to), _message())
    assert not no_tls.ok and "STARTTLS" in no_tls.detail
    # a password over plain SMTP is refused before connecting
    clear = send_email(_settings(tmp_path, smtp_url=f"smtp://u:p@127.0.0.1:{plain_smtp.port}",
                                 **to), _message())
    assert not clear.ok and "no TLS" in clear.detail
    assert plain_smtp.inbox.messages == []
    plain = send_email(_settings(tmp_path, smtp_url=f"smtp://127.0.0.1:{plain_smtp.port}",
                                 **to), _message())
    assert plain.ok and len(plain_smtp.inbox.messages) == 1
    for bad, reason in (("", "CAIT_SMTP_URL is not set"), ("http://x", "must look like"),
                        (f"smtp://127.0.0.1:{free_port()}", "ConnectionRefusedError")):
        outcome = send_email(_settings(tmp_path, smtp_url=bad, **to), _message())
        assert not outcome.ok and reason in outcome.detail and "\n" not in outcome.detail
    assert "CAIT_DIGEST_TO is empty" in send_email(_settings(
        tmp_path, smtp_url=f"smtp://127.0.0.1:{plain_smtp.port}"), _message()).detail


# --- webhook -----------------------------------------------------------------------------


def test_webhook_is_signed_and_retried_after_a_500(hook: Hook, tmp_path: Path) -> None:
    hook.statuses = [500, 503]
    settings = _settings(tmp_path, webhook_url=hook.url, webhook_secret="k3y")
    outcome = post_webhook(settings, _message())
    assert outcome.ok and outcome.detail == "HTTP 200 after 3 attempts"
    assert len(hook.received) == 3
    for headers, body in hook.received:
        expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
        assert headers["x-cait-signature"] == expected
        assert headers["content-type"].startswith("application/json")
        assert json.loads(body) == {"text": "hello"}
    assert len({body for _, body in hook.received}) == 1  # the same body each time

    hook.received.clear()
    hook.statuses = [500] * 10
    failed = post_webhook(settings, _message())
    assert not failed.ok and failed.detail == "HTTP 500 after 4 attempts"
    hook.statuses = [404]
    refused = post_webhook(settings, _message())
    assert not refused.ok and refused.detail == "HTTP 404"  # a refusal is not retried
    assert len(hook.received) == 5
    # bounded in time: a retry that would pass the deadline is not made
    hook.received.clear()
    hook.statuses = [500] * 10
    assert not post_webhook(settings, _message(), delays=(0.01, 5.0), deadline=1.0).ok
    assert len(hook.received) == 2


def test_webhook_unsigned_without_a_secret_and_connection_errors_retried(
        hook: Hook, tmp_path: Path) -> None:
    assert post_webhook(_settings(tmp_path, webhook_url=hook.url), _message()).ok
    assert "x-cait-signature" not in hook.received[0][0]
    gone = post_webhook(_settings(tmp_path, webhook_url=f"http://127.0.0.1:{free_port()}/h"),
                        _message())
    assert not gone.ok and gone.detail.startswith("ConnectError") and \
        gone.detail.endswith("after 4 attempts")


def test_digest_webhook_summary_is_slack_compatible(corpus: Engine, hook: Hook,  # noqa: F811
                                                    tmp_path: Path) -> None:
    sessions = sessionmaker(bind=corpus, expire_on_commit=False)
    with session_scope(corpus) as s:
        data = build_digest(s, "2026-W19")
    [result] = send_digest(sessions, _settings(tmp_path, webhook_url=hook.url), data, "t",
                           IN_SPIKE_WEEK)
    assert result.outcome.ok
    [body] = hook.bodies("digest")
    assert body["text"].startswith("China-AI coverage, week 2026-W19: chips 8 (+7) SPIKE")
    assert {f["title"] for f in body["attachments"][0]["fields"]} == {
        "chips", "data", "talent", "open_source"}
    chips = next(t for t in body["cait"]["themes"] if t["theme"] == "chips")
    assert chips == {"theme": "chips", "articles": 8, "change": 7, "share": 1.0, "spike": True}


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
