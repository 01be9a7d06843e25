"""Real delivery channels on loopback for the delivery and alert tests: an SMTP server
(aiosmtpd, plain, STARTTLS and TLS with a certificate made here by trustme) and a webhook
receiver that checks nothing itself and answers what a test tells it; plus the settings,
message and ledger rows those tests share. Fixtures are imported by the test modules."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from typer.testing import CliRunner

import reports.delivery
from config import Settings, load_settings
from db.models import Delivery
from db.session import session_scope
from reports.delivery import Message
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


