"""The weekly theme chart (matplotlib, no display needed): one line per theme, spikes marked."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # render to files only; the worker and CI have no display
import matplotlib.pyplot as plt

from reports.svg import COLORS
from reports.timeline import Timeline

# The chart formats cait writes; `cait plot` takes the one its --output suffix names.
FORMATS = ("png", "svg", "pdf")


def timeline_chart(timeline: Timeline, format: str = "png",
                   title: str = "China-AI coverage by theme",
                   width: float = 8.0, height: float = 3.6) -> bytes:
    """The chart as PNG, SVG or PDF bytes (one of `FORMATS`)."""
    if format not in FORMATS:
        raise ValueError(f"chart format must be one of {', '.join(FORMATS)}, not {format!r}")
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    x = list(range(len(timeline.periods)))
    for theme in timeline.themes:
        rows = [r for r in timeline.rows if r.theme == theme]
        ax.plot(x, [r.articles for r in rows], label=theme, color=COLORS.get(theme),
                linewidth=2)
        spikes = [(i, r.articles) for i, r in enumerate(rows) if r.spike]
        if spikes:
            ax.scatter([i for i, _ in spikes], [n for _, n in spikes], s=70, marker="^",
                       color=COLORS.get(theme), edgecolor="black", zorder=3)
    for i, period in enumerate(timeline.periods):
        if period in timeline.gaps:
            ax.axvspan(i - 0.5, i + 0.5, color="#999999", alpha=0.15, linewidth=0)
    step = max(1, len(x) // 10)
    ax.set_xticks(x[::step], timeline.periods[::step], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("China-AI articles")
    ax.set_title(title + " (▲ spike, grey: sources failing)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=4, loc="upper left")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format=format)
    plt.close(fig)
    return out.getvalue()
