"""Spike alerts and sent digests: what to deliver, claimed once in the ledger, then sent.

After each collection pass the worker calls `alert_pass`: every theme whose current ISO week
passes the timeline's spike test (`reports.timeline`) gets one alert per channel, claimed in
`deliveries` before it is sent (`db.deliveries`), so several workers and restarts send it
once; failed deliveries (alerts and digests) whose retry time has come are sent again. The
weekly digest job and `cait digest --send` call `send_digest`. Sessions are opened here from
the caller's factory because a claim must be committed before the mail goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from db.deliveries import claim_new, claim_retries, finish, take
from db.models import Delivery
from reports.delivery import Message, Outcome, configured_channels, send, slack_text
from reports.digest import DigestData, build_digest, week_bounds
from reports.escape import clean, html_text, safe_url
from reports.render import digest_html, digest_markdown
from reports.search import Hit, search
from reports.timeline import BASELINE_PERIODS, TimelineRow, build_timeline, period_of

ALERT_ARTICLES = 5
DIGEST_THEME = "*"  # a digest's theme in the ledger


@dataclass(frozen=True)
class Alert:
    """A theme's week that passes the spike test, with its newest articles."""

    row: TimelineRow
    articles: list[Hit]


@dataclass(frozen=True)
class Delivered:
    """One ledger row's send: which digest or alert, which try, and the channel's outcome."""

    kind: str
    theme: str
    week: str
    attempt: int
    outcome: Outcome


def week_alerts(session: Session, week: str) -> dict[str, Alert]:
    """Each theme's row of `week` (spike or not) with its articles, by theme."""
    start, end = week_bounds(week)
    timeline = build_timeline(session, since=start - timedelta(weeks=BASELINE_PERIODS),
                              until=end)
    return {row.theme: Alert(row, search(session, None, themes=[row.theme], since=start,
                                         until=end, china_ai=True, limit=ALERT_ARTICLES))
            for row in timeline.rows if row.period == week}


def current_spikes(session: Session, now: datetime) -> list[Alert]:
    """The themes whose current ISO week (so far) passes the spike test."""
    return [a for a in week_alerts(session, period_of(now.date(), "week")).values()
            if a.row.spike]


# --- messages ----------------------------------------------------------------------------


def digest_message(data: DigestData) -> Message:
    """The digest for every channel: its Markdown as the text, its HTML with the chart as an
    attached inline part, and a summary of the theme rows for the webhook."""
    # The email keeps the PNG, attached and named by cid:, where the file and the dashboard
    # draw inline SVG: mail clients do not render inline SVG reliably (`render.digest_chart`).
    cid = make_msgid(domain="cait.invalid")
    counts = ", ".join(f"{s.theme} {s.row.articles}"
                       + ("" if s.row.change is None else f" ({s.row.change:+d})")
                       + (" SPIKE" if s.row.spike else "") for s in data.themes)
    fields = [{"title": s.theme, "short": True,
               "value": f"{s.row.articles} articles, {s.row.share:.0%} of China-AI"
                        + (", spike" if s.row.spike else "")} for s in data.themes]
    return Message(
        event="digest", subject=f"China-AI coverage, week {data.week}",
        text=digest_markdown(data), html=digest_html(data, chart_src=f"cid:{cid[1:-1]}"),
        chart_png=data.chart_png, chart_cid=cid,
        summary={"text": f"China-AI coverage, week {data.week}: {counts}",
                 "attachments": [{"fields": fields}],
                 "cait": {"event": "digest", "week": data.week,
                          "failing_sources": len(data.failing_sources),
                          "themes": [{"theme": s.theme, "articles": s.row.articles,
                                      "change": s.row.change, "share": round(s.row.share, 4),
                                      "spike": s.row.spike} for s in data.themes]}})


def _slack_link(hit: Hit) -> str:
    url = safe_url(hit.url).replace("|", "%7C").replace(">", "%3E")
    return f"<{slack_text(url)}|{slack_text(clean(hit.title or hit.url, 200))}>"


def alert_message(alert: Alert) -> Message:
    """A spike alert: the theme, the week's count against its trailing mean, its articles."""
    row = alert.row
    mean = row.trailing_mean or 0.0
    headline = (f"{row.theme} coverage spike in {row.period}: "
                f"{row.articles} China-AI articles so far, against a trailing mean of "
                f"{mean:.1f} a week (p = {row.p_value or 0:.2g})")
    text = [headline, ""] + [f"- {clean(h.title or h.url, 200)} ({clean(h.source or '', 80)})"
                             f"\n  {safe_url(h.url)}" for h in alert.articles]
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>'
            f"<p><b>{html_text(headline)}</b></p><ul>"
            + "".join(f'<li><a href="{html_text(safe_url(h.url), 2000)}">'
                      f"{html_text(h.title or h.url, 200)}</a> "
                      f"<small>{html_text(h.source or '', 80)}</small></li>"
                      for h in alert.articles) + "</ul></body></html>")
    return Message(
        event="alert", subject=f"cait alert: {row.theme} coverage spike in {row.period}",
        text="\n".join(text) + "\n", html=html,
        summary={"text": slack_text(headline) + "".join(
                     f"\n• {_slack_link(h)}" for h in alert.articles),
                 "attachments": [{"fields": [
                     {"title": "theme", "value": row.theme, "short": True},
                     {"title": "week", "value": row.period, "short": True},
                     {"title": "articles", "value": str(row.articles), "short": True},
                     {"title": "trailing mean", "value": f"{mean:.1f}", "short": True}]}],
                 "cait": {"event": "alert", "theme": row.theme, "week": row.period,
                          "articles": row.articles, "trailing_mean": round(mean, 2),
                          "p_value": row.p_value,
                          "top": [{"id": h.id, "title": clean(h.title), "url": h.url,
                                   "source": h.source} for h in alert.articles]}})


# --- sending through the ledger ----------------------------------------------------------


def _send_claimed(sessions: sessionmaker[Session], settings: Settings, message: Message,
                  claimed: list[Delivery], now: datetime) -> list[Delivered]:
    results = []
    for row in claimed:
        outcome = send(settings, message, row.channel)
        with sessions.begin() as session:
            finish(session, row.id, None if outcome.ok else outcome.detail, now)
        results.append(Delivered(row.kind, row.theme, row.week, row.attempts, outcome))
    return results


def send_digest(sessions: sessionmaker[Session], settings: Settings, data: DigestData,
                owner: str, now: datetime, by_hand: bool = False) -> list[Delivered]:
    """Send a digest on every configured channel not yet claimed for its week (the weekly
    job on several workers sends it once); `by_hand` sends it again whatever was sent."""
    claim = take if by_hand else claim_new
    with sessions.begin() as session:
        claimed = [row for channel in configured_channels(settings)
                   if (row := claim(session, "digest", DIGEST_THEME, data.week, channel,
                                    owner, now)) is not None]
    return _send_claimed(sessions, settings, digest_message(data), claimed, now)


def alert_pass(sessions: sessionmaker[Session], settings: Settings, owner: str,
               now: datetime) -> list[Delivered]:
    """Alert each spike of the current week once per channel, then retry what failed."""
    channels = configured_channels(settings)
    if not channels:
        return []
    with sessions() as session:
        alerts = current_spikes(session, now)
    results = []
    for alert in alerts:
        with sessions.begin() as session:
            claimed = [row for channel in channels
                       if (row := claim_new(session, "alert", alert.row.theme,
                                            alert.row.period, channel, owner, now))]
        if claimed:
            results += _send_claimed(sessions, settings, alert_message(alert), claimed, now)
    return results + retry_pass(sessions, settings, owner, now)


def retry_pass(sessions: sessionmaker[Session], settings: Settings, owner: str,
               now: datetime) -> list[Delivered]:
    """Send again the failed deliveries whose retry time has come (and those a killed
    worker left half-done for longer than CAIT_LEASE_SECONDS)."""
    with sessions.begin() as session:
        claimed = claim_retries(session, owner, now,
                                timedelta(seconds=settings.lease_seconds))
    groups: dict[tuple[str, str, str], list[Delivery]] = {}
    for row in claimed:
        groups.setdefault((row.kind, row.theme, row.week), []).append(row)
    results = []
    for (kind, theme, week), rows in groups.items():
        with sessions() as session:
            message = _rebuild(session, kind, theme, week)
        results += _send_claimed(sessions, settings, message, rows, now)
    return results


def _rebuild(session: Session, kind: str, theme: str, week: str) -> Message:
    if kind == "digest":
        return digest_message(build_digest(session, week))
    return alert_message(week_alerts(session, week)[theme])
