"""Renderings of reports: CSV and Markdown for timelines, search hits and any command's flat
rows, Markdown and HTML for the digest (JSON is each report's `to_json`). Every article
string goes through `reports.escape`.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from reports.escape import clean, csv_text, html_text, md_text, safe_url
from reports.search import Hit
from reports.svg import timeline_svg
from reports.timeline import Timeline, TimelineRow

if TYPE_CHECKING:  # the digest module renders through this one; types only, no cycle
    from reports.digest import DigestData


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ";".join(f"{k}:{_cell(v)}" for k, v in value.items())
    return clean(str(value), 2000)


def rows_csv(rows: list[dict[str, object]]) -> str:
    """Flat records (a command's rows) as CSV: lists joined by `;`, text cleaned."""
    out = io.StringIO()
    writer = csv.writer(out)
    if rows:
        writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow([_cell(v) for v in row.values()])
    return out.getvalue()


def rows_markdown(rows: list[dict[str, object]]) -> str:
    """Flat records as a Markdown table; every cell escaped (`reports.escape.md_text`)."""
    if not rows:
        return ""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(md_text(_cell(v), 2000) for v in row.values()) + " |"
              for row in rows]
    return "\n".join(lines) + "\n"


def timeline_csv(timeline: Timeline) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([timeline.by, "theme", "articles", "share", "change", "trailing_mean",
                     "p_value", "spike", "coverage_gap", "failing_sources"])
    for row in timeline.to_json():
        writer.writerow([row[timeline.by], row["theme"], row["articles"], row["share"],
                         row["change"], row["trailing_mean"], row["p_value"], row["spike"],
                         row["coverage_gap"], ";".join(row["failing_sources"])])  # type: ignore[arg-type]
    return out.getvalue()


def timeline_markdown(timeline: Timeline) -> str:
    lines = [f"| {timeline.by} | theme | articles | share | change | spike | coverage |",
             "|---|---|---:|---:|---:|---|---|"]
    for r in timeline.rows:
        gap = timeline.gaps.get(r.period)
        lines.append(f"| {r.period} | {r.theme} | {r.articles} | {r.share:.0%} | "
                     f"{'' if r.change is None else f'{r.change:+d}'} | "
                     f"{'**spike**' if r.spike else ''} | "
                     f"{f'{len(gap.failing_sources)} sources failing' if gap else ''} |")
    return "\n".join(lines) + "\n"


def hits_json(hits: list[Hit]) -> list[dict[str, object]]:
    """Every field of every hit (dates as UTC ISO 8601)."""
    return [{"id": h.id, "title": clean(h.title), "source": h.source,
             "date": h.date.isoformat() if h.date else None, "url": h.url, "themes": h.themes,
             "china_ai": h.china_ai, "snippet": clean(h.snippet) if h.snippet else None}
            for h in hits]


HIT_COLUMNS = ("id", "title", "source", "date", "url", "themes", "china_ai", "snippet")


def hits_csv(hits: list[Hit]) -> str:
    """The fields of `hits_json`, themes as `chips:0.91;data:0.62`; text cells never formulas."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HIT_COLUMNS)
    for h in hits:
        writer.writerow([h.id, csv_text(clean(h.title)), csv_text(h.source),
                         h.date.isoformat() if h.date else "", csv_text(h.url),
                         ";".join(f"{t}:{s}" for t, s in h.themes.items()),
                         "" if h.china_ai is None else h.china_ai,
                         csv_text(clean(h.snippet))])
    return out.getvalue()


def hits_markdown(hits: list[Hit]) -> str:
    lines = []
    for h in hits:
        themes = ", ".join(f"{t} {s:.2f}" for t, s in h.themes.items())
        lines.append(f"- {h.date.date().isoformat() if h.date else ''} "
                     f"[{md_text(h.title or h.url, 200)}]({safe_url(h.url)}) — "
                     f"{md_text(h.source or '', 80)}" + (f" · {themes}" if themes else ""))
        if h.snippet:
            lines.append(f"  > {md_text(h.snippet, 300)}")
    return "\n".join(lines) + "\n"


def _change(row: TimelineRow) -> str:
    if row.change is None:
        return "–"
    return f"{row.change:+d}"


def digest_markdown(data: DigestData) -> str:
    """The digest as Markdown; every article string escaped."""
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
            why = md_text(a.evidence[0], 300) if a.evidence else ""
            lines.append(f"- [{md_text(a.title, 200)}]({safe_url(a.url)}) — "
                         f"{md_text(a.source, 80)} · score {a.score:.2f}"
                         + (f" · why: {why}" if why else ""))
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
img{max-width:100%;height:auto}svg.chart{width:100%;height:auto;display:block}
figure{margin:12px 0}.spike{color:#b00020;font-weight:bold}.gap{background:#fff4e5;
padding:8px 10px;border-left:4px solid #f0a000}li{margin:6px 0}.meta{color:#666;font-size:14px}
a{color:#1a5fb4;word-break:break-word}"""


CHART_TITLE = "Weekly China-AI articles per theme"


def digest_chart(data: DigestData, chart_src: str | None = None) -> str:
    """The digest's chart: the dashboard's inline SVG (`reports.svg`, the timeline page's
    code), or, given `chart_src`, an `<img>` of the PNG at that address.

    Email passes `chart_src="cid:…"` (the PNG attached as an inline part): mail clients do
    not render inline SVG reliably (Gmail and Outlook drop it) nor `data:` images, while a
    `cid:` PNG shows in all of them. A file, the stored digest and the dashboard draw SVG:
    text stays sharp at any width and nothing is fetched."""
    if chart_src is None:
        return f"<figure>{timeline_svg(data.timeline, title=CHART_TITLE)}</figure>"
    return f'<p><img alt="{CHART_TITLE}" src="{html_text(chart_src, 2000)}"></p>'


def digest_html(data: DigestData, chart_src: str | None = None) -> str:
    """The digest as one self-contained HTML file: inline CSS, the chart as inline SVG, one
    narrow column for phones and e-mail clients, no scripts, every article string escaped.

    `chart_src` draws the chart as that image instead (an email's `cid:` PNG, see
    `digest_chart`)."""
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
    parts.append("</table>" + digest_chart(data, chart_src))
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
            why = html_text(a.evidence[0], 300) if a.evidence else ""
            parts.append(f'<li><a href="{html_text(safe_url(a.url), 2000)}">'
                         f"{html_text(a.title, 200)}</a><br><span class='meta'>"
                         f"{html_text(a.source, 80)} · score {a.score:.2f}"
                         f"{' · why: ' + why if why else ''}</span></li>")
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
