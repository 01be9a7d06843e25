"""Text renderings of reports: CSV and Markdown (JSON is each report's `to_json`)."""

from __future__ import annotations

import csv
import io

from reports.escape import clean, md_text, safe_url
from reports.search import Hit
from reports.timeline import Timeline


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
    return [{"id": h.id, "title": clean(h.title), "source": h.source,
             "date": h.date.isoformat() if h.date else None, "url": h.url, "themes": h.themes,
             "china_ai": h.china_ai, "snippet": clean(h.snippet) if h.snippet else None}
            for h in hits]


def hits_csv(hits: list[Hit]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "date", "source", "title", "themes", "china_ai", "url", "snippet"])
    for h in hits:
        writer.writerow([h.id, h.date.date().isoformat() if h.date else "", h.source or "",
                         clean(h.title), ";".join(f"{t}:{s}" for t, s in h.themes.items()),
                         h.china_ai, h.url, clean(h.snippet)])
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
