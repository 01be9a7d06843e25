"""The timeline chart as inline SVG: one line per theme, spikes as triangles, coverage gaps
grey, every point a link to the articles behind it (the dashboard's chart).

Plain SVG elements with presentation attributes only: no `style` attributes, no `<style>`,
no scripts, so it renders under the dashboard's Content-Security-Policy (`default-src
'self'`) and scales to the width of a phone (a `viewBox`, no fixed size). matplotlib's
charts (`reports.plot`) share its colours.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from reports.timeline import Timeline

COLORS = {"chips": "#d1495b", "data": "#00798c", "talent": "#edae49", "open_source": "#30638e"}
WIDTH, HEIGHT = 800, 320
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 56


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def timeline_svg(timeline: Timeline, link: Callable[[str, str], str] | None = None,
                 title: str = "China-AI articles per theme") -> str:
    """The chart as an `<svg>` element; `link(period, theme)` gives each point's address."""
    periods = timeline.periods
    top = max([r.articles for r in timeline.rows] + [1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(periods) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + (i * step if len(periods) > 1 else plot_w / 2), 1)

    def y(n: int) -> float:
        return round(TOP + plot_h - n / top * plot_h, 1)

    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'xmlns="http://www.w3.org/2000/svg" aria-label="{_attr(title)}">',
           f"<title>{_attr(title)} (triangle: spike; grey: sources failing)</title>"]
    for i, period in enumerate(periods):
        if period in timeline.gaps:
            out.append(f'<rect x="{x(i) - step / 2:.1f}" y="{TOP}" width="{step:.1f}" '
                       f'height="{plot_h}" fill="#999999" fill-opacity="0.18"><title>'
                       f'{_attr(period)}: {len(timeline.gaps[period].failing_sources)} sources '
                       f"failing</title></rect>")
    for tick in sorted({0, top // 2, top}):
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick)}" y2="{y(tick)}" '
                   f'stroke="#dddddd"/><text x="{LEFT - 6}" y="{y(tick) + 4}" '
                   f'text-anchor="end" font-size="12" fill="#555555">{tick}</text>')
    every = max(1, len(periods) // 8)
    for i, period in enumerate(periods):
        if i % every == 0 or i == len(periods) - 1:
            out.append(f'<text x="{x(i)}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" '
                       f'font-size="11" fill="#555555">{_attr(period)}</text>')
    for n, theme in enumerate(timeline.themes):
        color = COLORS.get(theme, "#333333")
        rows = [r for r in timeline.rows if r.theme == theme]
        points = " ".join(f"{x(i)},{y(r.articles)}" for i, r in enumerate(rows))
        if len(rows) > 1:
            out.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                       f'stroke-width="2.5"/>')
        for i, r in enumerate(rows):
            label = (f"{theme} {r.period}: {r.articles} articles ({r.share:.0%})"
                     + (" — spike" if r.spike else ""))
            if r.spike:
                cx, cy = x(i), y(r.articles)
                mark = (f'<polygon class="spike" points="{cx},{cy - 9} {cx - 8},{cy + 6} '
                        f'{cx + 8},{cy + 6}" fill="{color}" stroke="#000000"/>')
            else:
                mark = f'<circle cx="{x(i)}" cy="{y(r.articles)}" r="4" fill="{color}"/>'
            mark = f"<title>{_attr(label)}</title>" + mark
            if link is not None:
                mark = f'<a href="{_attr(link(r.period, theme))}">{mark}</a>'
            out.append(f"<g>{mark}</g>")
        lx = LEFT + n * 150
        out.append(f'<rect x="{lx}" y="{HEIGHT - 22}" width="12" height="12" fill="{color}"/>'
                   f'<text x="{lx + 16}" y="{HEIGHT - 12}" font-size="12" fill="#222222">'
                   f"{_attr(theme)}</text>")
    out.append("</svg>")
    return "\n".join(out)
