"""The weekly theme-trend digest: `build_digest` gathers the data; Markdown and HTML render it.

The HTML is one self-contained file (inline CSS, the chart as a data: URI) that reads on a
phone and in e-mail clients: a single narrow column, no scripts. Every piece of article
text goes through `reports.escape`.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, Digest, Source
from db.queries import dated_between
from reports.escape import html_text, md_text, safe_url
from reports.narratives import words
from reports.plot import timeline_png
from reports.timeline import Timeline, TimelineRow, build_timeline, period_of

WEEKS_SHOWN = 12
TOP_ARTICLES = 5
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")



def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Monday 00:00 UTC of an ISO week (`2026-W19`) and of the week after."""
    match = _WEEK.match(week)
    if not match:
        raise ValueError(f"week must look like 2026-W19, not {week!r}")
    monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return start, start + timedelta(days=7)


def last_complete_week(now: datetime) -> str:
    return period_of((now - timedelta(days=7)).date(), "week")


@dataclass
class DigestArticle:
    id: int
    title: str
    source: str
    url: str
    score: float
    evidence: list[str]


@dataclass
class ThemeSummary:
    theme: str
    row: TimelineRow
    top: list[DigestArticle]
    new_terms: list[str]


@dataclass
class DigestData:
    week: str
    themes: list[ThemeSummary]
    timeline: Timeline
    new_sources: list[str]
    related_chains: list[tuple[str, str, str]] = field(default_factory=list)  # parent, child, url
    failing_sources: list[str] = field(default_factory=list)
    chart_png: bytes = b""


def _terms(texts: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for value in texts:
        counts.update(set(words(value)))  # document frequency: one count per article
    return counts


def _week_articles(session: Session, theme: str, start: datetime, end: datetime
                   ) -> list[tuple[Article, ArticleTheme]]:
    relevance = aliased(ArticleTheme)
    tag = aliased(ArticleTheme)
    return [(a, t) for a, t in session.execute(
        select(Article, tag)
        .join(tag, and_(tag.article_id == Article.id, tag.theme == theme, tag.assigned))
        .join(relevance, and_(relevance.article_id == Article.id, relevance.theme == RELEVANCE,
                              relevance.assigned))
        .where(Article.duplicate_of.is_(None), dated_between(start, end))
        .order_by(tag.score.desc(), Article.id)).all()]


def build_digest(session: Session, week: str) -> DigestData:
    start, end = week_bounds(week)
    history_start = start - timedelta(weeks=WEEKS_SHOWN - 1)
    timeline = build_timeline(session, since=history_start, until=end)
    names = dict(session.execute(select(Source.id, Source.name)).all())
    summaries = []
    for theme in THEMES:
        row = next((r for r in timeline.rows if r.theme == theme and r.period == week), None)
        if row is None:
            row = TimelineRow(week, theme, 0, 0, 0.0, None, None, None, False)
        this_week = _week_articles(session, theme, start, end)
        before = _week_articles(session, theme, start - timedelta(weeks=4), start)
        now_terms = _terms([f"{a.title} {a.text or a.summary or ''}" for a, _ in this_week])
        old_terms = _terms([f"{a.title} {a.text or a.summary or ''}" for a, _ in before])
        new_terms = [t for t, n in now_terms.most_common(200) if n >= 2 and old_terms[t] == 0][:8]
        top = [DigestArticle(a.id, a.title or a.canonical_url,
                             names.get(a.source_id, "") if a.source_id else "",
                             a.canonical_url, t.score, list(t.evidence or [])[:5])
               for a, t in this_week[:TOP_ARTICLES]]
        summaries.append(ThemeSummary(theme, row, top, new_terms))
    new_sources = sorted(str(n) for n in session.scalars(
        select(Source.name).where(Source.created_at >= start, Source.created_at < end)))
    parent = aliased(Article)
    chains = [(p.title or p.canonical_url, c.title or c.canonical_url, c.canonical_url)
              for c, p in session.execute(
                  select(Article, parent).join(parent, parent.id == Article.parent_article_id)
                  .where(Article.discovered_via == "related", dated_between(start, end))
                  .order_by(Article.id).limit(10)).all()]
    gap = timeline.gaps.get(week)
    return DigestData(week, summaries, timeline, new_sources, chains,
                      gap.failing_sources if gap else [], timeline_png(timeline))


def _change(row: TimelineRow) -> str:
    if row.change is None:
        return "–"
    return f"{row.change:+d}"


def to_markdown(data: DigestData) -> str:
    lines = [f"# China-AI coverage, week {data.week}", ""]
    if data.failing_sources:
        lines += [f"> Collection gap: {len(data.failing_sources)} sources failed all week "
                  f"({', '.join(md_text(s, 60) for s in data.failing_sources[:10])}); counts "
                  f"may be low for that reason.", ""]
    lines += ["| theme | articles | change | share | spike |", "|---|---:|---:|---:|---|"]
    for s in data.themes:
        lines.append(f"| {s.theme} | {s.row.articles} | {_change(s.row)} | "
                     f"{s.row.share:.0%} | {'**spike**' if s.row.spike else ''} |")
    for s in data.themes:
        lines += ["", f"## {s.theme}" + (" — spike" if s.row.spike else ""), ""]
        if s.new_terms:
            lines.append("New this week: " + ", ".join(md_text(t, 40) for t in s.new_terms))
            lines.append("")
        if not s.top:
            lines.append("No China-AI articles on this theme this week.")
        for a in s.top:
            why = ", ".join(md_text(e, 40) for e in a.evidence)
            lines.append(f"- [{md_text(a.title, 200)}]({safe_url(a.url)}) — "
                         f"{md_text(a.source, 80)} · score {a.score:.2f}"
                         + (f" · tagged for: {why}" if why else ""))
    if data.new_sources:
        lines += ["", "## New sources", ""] + [f"- {md_text(n, 120)}" for n in data.new_sources]
    if data.related_chains:
        lines += ["", "## Related-news chains worth reading", ""]
        lines += [f"- {md_text(p, 120)} → [{md_text(c, 160)}]({safe_url(u)})"
                  for p, c, u in data.related_chains]
    return "\n".join(lines) + "\n"


_CSS = """body{margin:0;background:#f4f4f1;font:16px/1.5 -apple-system,Segoe UI,Roboto,sans-serif;
color:#222}main{max-width:680px;margin:0 auto;background:#fff;padding:16px 20px}
h1{font-size:22px;margin:8px 0 12px}h2{font-size:18px;margin:24px 0 8px;border-top:1px solid
#ddd;padding-top:12px}table{border-collapse:collapse;width:100%;font-size:15px}
td,th{padding:6px 4px;border-bottom:1px solid #eee;text-align:left}td.n{text-align:right}
img{max-width:100%;height:auto}.spike{color:#b00020;font-weight:bold}.gap{background:#fff4e5;
padding:8px 10px;border-left:4px solid #f0a000}li{margin:6px 0}.meta{color:#666;font-size:14px}
a{color:#1a5fb4;word-break:break-word}"""


def to_html(data: DigestData) -> str:
    chart = base64.b64encode(data.chart_png).decode("ascii")
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width,initial-scale=1">'
             f"<title>China-AI coverage, week {html_text(data.week)}</title>"
             f"<style>{_CSS}</style></head><body><main>",
             f"<h1>China-AI coverage, week {html_text(data.week)}</h1>"]
    if data.failing_sources:
        parts.append(f'<p class="gap">Collection gap: {len(data.failing_sources)} sources '
                     f"failed all week ({html_text(', '.join(data.failing_sources[:10]))}); "
                     f"counts may be low for that reason.</p>")
    parts.append("<table><tr><th>theme</th><th>articles</th><th>change</th><th>share</th>"
                 "<th></th></tr>")
    for s in data.themes:
        spike = '<span class="spike">spike</span>' if s.row.spike else ""
        parts.append(f"<tr><td>{s.theme}</td><td class='n'>{s.row.articles}</td>"
                     f"<td class='n'>{_change(s.row)}</td><td class='n'>{s.row.share:.0%}</td>"
                     f"<td>{spike}</td></tr>")
    parts.append(f'</table><p><img alt="Weekly China-AI articles per theme" '
                 f'src="data:image/png;base64,{chart}"></p>')
    for s in data.themes:
        spike = ' <span class="spike">spike</span>' if s.row.spike else ""
        parts.append(f"<h2>{s.theme}{spike}</h2>")
        if s.new_terms:
            parts.append(f"<p class='meta'>New this week: "
                         f"{html_text(', '.join(s.new_terms))}</p>")
        if not s.top:
            parts.append("<p class='meta'>No China-AI articles on this theme this week.</p>")
        parts.append("<ul>")
        for a in s.top:
            why = html_text(", ".join(a.evidence))
            parts.append(f'<li><a href="{html_text(safe_url(a.url), 2000)}">'
                         f"{html_text(a.title, 200)}</a><br><span class='meta'>"
                         f"{html_text(a.source, 80)} · score {a.score:.2f}"
                         f"{' · tagged for: ' + why if why else ''}</span></li>")
        parts.append("</ul>")
    if data.new_sources:
        parts.append("<h2>New sources</h2><ul>" + "".join(
            f"<li>{html_text(n, 120)}</li>" for n in data.new_sources) + "</ul>")
    if data.related_chains:
        parts.append("<h2>Related-news chains worth reading</h2><ul>" + "".join(
            f'<li>{html_text(p, 120)} → <a href="{html_text(safe_url(u), 2000)}">'
            f"{html_text(c, 160)}</a></li>" for p, c, u in data.related_chains) + "</ul>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def store_digest(session: Session, data: DigestData) -> Digest:
    """Save (or replace) the digest of `data.week`."""
    row = session.scalars(select(Digest).where(Digest.week == data.week)).one_or_none()
    if row is None:
        row = Digest(week=data.week, markdown="", html="")
        session.add(row)
    row.markdown, row.html, row.created_at = to_markdown(data), to_html(data), datetime.now(UTC)
    session.flush()
    return row
