"""Delivery: the digest by email (a real SMTP server on loopback, STARTTLS and TLS with a
certificate made here) and by webhook (a loopback receiver checks the signature and answers
500 first); the channels are in `tests/delivery_channels.py`."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
import trustme
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from cli import app
from db.session import session_scope
from reports.alerts import send_digest
from reports.delivery import post_webhook, send_email
from reports.digest import build_digest
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
        tls_smtp: Smtp, plain_smtp: Smtp, ca: trustme.CA, tmp_path: Path,  # noqa: F811
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


def test_webhook_is_signed_and_retried_after_a_500(hook: Hook, tmp_path: Path) -> None:  # noqa: F811
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
        hook: Hook, tmp_path: Path) -> None:  # noqa: F811
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


