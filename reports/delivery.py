"""Delivery channels: a digest or a spike alert sent as email (SMTP) and as a webhook (JSON).

The last step of the flow, after `reports` has built the data: a `Message` is rendered once
(plain text, HTML, the chart, a structured summary) and each configured channel sends it.
Every failure becomes an `Outcome` with a one-line reason, never an exception: a mail server
that is down must not stop collection (the worker logs it and retries the next pass, see
`reports.alerts` and `db.deliveries`).

- **Email** (`CAIT_SMTP_URL`, `CAIT_DIGEST_TO`): `multipart/alternative` of text/plain and a
  `multipart/related` HTML part whose chart is an attached PNG named by a Content-ID (mail
  clients block data: images), built with the stdlib `email` package, sent by `smtplib` over
  plain SMTP, TLS (`smtps://`) or STARTTLS (`smtp+starttls://`, required once asked for).
  Credentials are refused over plain SMTP. TLS checks the server's certificate against the
  system's CAs (`SSL_CERT_FILE` names another bundle).
- **Webhook** (`CAIT_WEBHOOK_URL`): a Slack-compatible JSON body (`text`, plus `attachments`
  fields and the data under `cait`), signed `X-Cait-Signature: sha256=<hex>` (HMAC-SHA256 of
  the raw body) when `CAIT_WEBHOOK_SECRET` is set, retried with backoff on 5xx, 429 and
  connection errors within a bounded time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from common.errors import one_line
from config import Settings
from reports.escape import clean

CHANNELS = ("email", "webhook")
# Webhook retries: waits between attempts, and the most the retries may add up to.
WEBHOOK_DELAYS = (1.0, 2.0, 4.0)
WEBHOOK_DEADLINE_SECONDS = 30.0
SIGNATURE_HEADER = "X-Cait-Signature"
_SMTP_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}


@dataclass(frozen=True)
class Message:
    """One digest or alert, rendered for every channel."""

    event: str                  # "digest" | "alert"
    subject: str                # email subject; trusted text only (no article strings)
    text: str                   # the plain-text body
    html: str                   # the HTML body; the chart, if any, is `cid:{chart_cid}`
    summary: dict[str, Any]     # the webhook body (Slack-compatible: has `text`)
    chart_png: bytes = b""
    chart_cid: str = field(default_factory=lambda: make_msgid(domain="cait.invalid"))


@dataclass(frozen=True)
class Outcome:
    """What one channel did with one message: sent (with to whom) or failed (with why)."""

    channel: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.channel}: {'sent' if self.ok else 'failed'}: {self.detail}"


def configured_channels(settings: Settings) -> list[str]:
    """The channels the operator set up (half a setting counts: its send says what is
    missing)."""
    chosen = []
    if settings.smtp_url or settings.digest_to:
        chosen.append("email")
    if settings.webhook_url:
        chosen.append("webhook")
    return chosen


def recipients(settings: Settings) -> list[str]:
    return [a.strip() for a in settings.digest_to.split(",") if a.strip()]


def send(settings: Settings, message: Message, channel: str) -> Outcome:
    """Send `message` on one channel; never raises for a delivery failure."""
    if channel == "email":
        return send_email(settings, message)
    if channel == "webhook":
        return post_webhook(settings, message)
    return Outcome(channel, False, f"unknown channel {channel!r}")


# --- email -------------------------------------------------------------------------------


def email_message(settings: Settings, message: Message) -> EmailMessage:
    """The MIME message: text/plain, then HTML with the chart as a related inline part."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(recipients(settings))
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2]
                                    or "cait.invalid")
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    if message.chart_png:
        html_part = mail.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)  # the part added just above
        html_part.add_related(message.chart_png, maintype="image", subtype="png",
                              cid=message.chart_cid, filename="chart.png",
                              disposition="inline")
    return mail


def _smtp_target(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, user, password) of CAIT_SMTP_URL; ValueError says what is wrong."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SMTP_PORTS or not parts.hostname:
        raise ValueError("CAIT_SMTP_URL must look like smtp://host:port, smtps://host:port or "
                         "smtp+starttls://user:pass@host:port")
    try:
        port = parts.port or _SMTP_PORTS[scheme]
    except ValueError:
        raise ValueError("CAIT_SMTP_URL has a bad port") from None
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if user and scheme == "smtp":
        # a password sent in the clear; the operator asked for a login, so ask for TLS too
        raise ValueError("CAIT_SMTP_URL has credentials but no TLS: use smtps:// or "
                         "smtp+starttls://")
    return scheme, parts.hostname, port, user, password


def send_email(settings: Settings, message: Message) -> Outcome:
    """Send `message` to CAIT_DIGEST_TO through CAIT_SMTP_URL."""
    to = recipients(settings)
    if not settings.smtp_url:
        return Outcome("email", False, "CAIT_SMTP_URL is not set")
    if not to:
        return Outcome("email", False, "CAIT_DIGEST_TO is empty")
    try:
        scheme, host, port, user, password = _smtp_target(settings.smtp_url)
        mail = email_message(settings, message)
    except ValueError as error:
        return Outcome("email", False, one_line(error))
    timeout = settings.connect_timeout + settings.read_timeout
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP = (smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
                              if scheme == "smtps" else smtplib.SMTP(host, port, timeout=timeout))
        with smtp:
            if scheme == "smtp+starttls":
                smtp.starttls(context=context)  # raises when the server does not offer it
            if user:
                smtp.login(user, password)
            refused = smtp.send_message(mail, to_addrs=to)
    except (smtplib.SMTPException, OSError) as error:  # ssl.SSLError is an OSError
        return Outcome("email", False, _smtp_reason(error))
    if refused:
        return Outcome("email", True, f"to {', '.join(a for a in to if a not in refused)}; "
                       f"refused {', '.join(sorted(refused))}")
    return Outcome("email", True, f"to {', '.join(to)}")


def _smtp_reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error.decode("utf-8", "replace") if isinstance(
            error.smtp_error, bytes) else str(error.smtp_error)
        return clean(f"SMTP {error.smtp_code} {text}")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "every recipient was refused: " + ", ".join(sorted(error.recipients))
    return clean(f"{type(error).__name__}: {error}")


# --- webhook -----------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """The `X-Cait-Signature` value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(settings: Settings, message: Message, *,
                 delays: tuple[float, ...] | None = None,
                 deadline: float | None = None) -> Outcome:
    """POST the message's summary to CAIT_WEBHOOK_URL; retried on 5xx, 429 and connection
    errors after each of `delays` (default `WEBHOOK_DELAYS`) while the retries stay within
    `deadline` seconds (default `WEBHOOK_DEADLINE_SECONDS`)."""
    delays = WEBHOOK_DELAYS if delays is None else delays
    deadline = WEBHOOK_DEADLINE_SECONDS if deadline is None else deadline
    url = settings.webhook_url
    if not url.lower().startswith(("http://", "https://")):
        return Outcome("webhook", False, "CAIT_WEBHOOK_URL must be an http(s) URL")
    body = json.dumps(message.summary, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": settings.user_agent, "X-Cait-Event": message.event}
    if settings.webhook_secret:
        headers[SIGNATURE_HEADER] = signature(settings.webhook_secret, body)
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    started = time.monotonic()
    reason, tries = "", 0
    # the operator's own URL, but redirects are not followed: a signed body goes where
    # it was configured to go, or nowhere
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for attempt in range(len(delays) + 1):
            if attempt:
                wait = delays[attempt - 1]
                if time.monotonic() - started + wait > deadline:
                    break
                time.sleep(wait)
            tries += 1
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as error:
                reason = clean(f"{type(error).__name__}: {error}")
                continue
            if response.is_success:
                return Outcome("webhook", True, f"HTTP {response.status_code}"
                               + (f" after {tries} attempts" if tries > 1 else ""))
            reason = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                return Outcome("webhook", False, reason)  # the receiver refused: no retry
    return Outcome("webhook", False, f"{reason} after {tries} attempts")


def slack_text(value: str) -> str:
    """Text for a Slack `text` field: `&`, `<` and `>` escaped (Slack's rule), so a title
    cannot make a link or an `<!channel>` mention."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
