"""Charts as inline SVG strings: the report is one file that needs no script, library or network.

Every chart is an ``<svg class="chart">`` with a fixed ``viewBox`` (it scales with the page) and a
``<title>`` on each mark, so hovering a bar tells its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

COLORS = {"send": "#2e7d32", "revise": "#f2a900", "block": "#c62828"}
ORDER = ("send", "revise", "block")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(chart_id: str, width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" {FONT}>' + "".join(body) + "</svg>"
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" fill="{fill}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(text)}</text>'


def legend(x: float, y: float) -> list[str]:
    body = []
    for i, verdict in enumerate(ORDER):
        body.append(_rect(x + i * 80, y - 10, 12, 12, COLORS[verdict], verdict))
        body.append(_text(x + i * 80 + 16, y, verdict))
    return body


def verdicts_over_time(chart_id: str, periods: Mapping[str, Mapping[str, int]], unit: str) -> str:
    """Stacked columns: replies per period, split by verdict."""
    labels = list(periods)
    width, height, left, top, bottom = 900.0, 300.0, 50.0, 30.0, 60.0
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max((sum(periods[p].values()) for p in labels), default=0) or 1
    step = plot_w / max(len(labels), 1)
    bar = max(step * 0.8, 1.0)
    body = legend(left, 16)
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>')
    body.append(_text(left - 6, top + 4, f"{peak:,}", "end"))
    body.append(_text(left - 6, top + plot_h, "0", "end"))
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        x = left + i * step + (step - bar) / 2
        y = top + plot_h
        counts = periods[label]
        for verdict in ORDER:
            h = plot_h * counts.get(verdict, 0) / peak
            if h > 0:
                y -= h
                tip = f"{unit} {label}: {counts.get(verdict, 0):,} {verdict} of {sum(counts.values()):,}"
                body.append(_rect(x, y, bar, h, COLORS[verdict], tip))
        if i % every == 0:
            body.append(_text(x + bar / 2, top + plot_h + 14, label, "middle", 'font-size="10"'))
    return _svg(chart_id, width, height, body, f"verdicts per {unit}")


def verdict_shares(chart_id: str, rows: Sequence[tuple[str, Mapping[str, int]]]) -> str:
    """One 100% bar per agent or team: the share of its replies sent, to revise, blocked."""
    width, left, row_h, top = 900.0, 190.0, 22.0, 30.0
    plot_w = width - left - 70
    height = top + row_h * len(rows) + 10
    body = legend(left, 16)
    for i, (name, counts) in enumerate(rows):
        y = top + i * row_h
        total = sum(counts.values()) or 1
        body.append(_text(left - 8, y + 14, _short(name, 28), "end"))
        x = left
        for verdict in ORDER:
            w = plot_w * counts.get(verdict, 0) / total
            if w > 0:
                share = counts.get(verdict, 0) / total
                body.append(_rect(x, y + 2, w, row_h - 5, COLORS[verdict], f"{name}: {share:.0%} {verdict}"))
                x += w
        body.append(_text(width - 62, y + 14, f"{sum(counts.values()):,}"))
    return _svg(chart_id, width, height, body, "verdict share per group")


def failure_heatmap(
    chart_id: str, names: Sequence[str], criteria: Sequence[str], rates: Sequence[Sequence[float]]
) -> str:
    """Agents x criteria: the darker the cell, the more of that agent's replies fail the criterion."""
    left, top, cell_w, cell_h = 190.0, 110.0, 64.0, 22.0
    width = left + cell_w * len(criteria) + 80  # room for the last rotated label
    height = top + cell_h * len(names) + 10
    body = []
    for j, criterion in enumerate(criteria):
        x = left + j * cell_w + cell_w / 2
        body.append(
            f'<text x="{x:.1f}" y="{top - 6:.1f}" transform="rotate(-40 {x:.1f} {top - 6:.1f})" '
            f'font-size="11">{escape(criterion)}</text>'
        )
    for i, name in enumerate(names):
        y = top + i * cell_h
        body.append(_text(left - 8, y + 15, _short(name, 28), "end"))
        for j, rate in enumerate(rates[i]):
            shade = f"rgba(198, 40, 40, {0.06 + 0.94 * rate:.3f})"
            body.append(
                _rect(left + j * cell_w, y, cell_w - 2, cell_h - 2, shade, f"{name}, {criteria[j]}: {rate:.0%} fail")
            )
            color = "#fff" if rate > 0.5 else "#222"
            body.append(_text(left + j * cell_w + cell_w / 2, y + 15, f"{rate:.0%}", "middle", f'fill="{color}"'))
    return _svg(chart_id, width, height, body, "criteria failed per agent")


def count_bars(chart_id: str, rows: Sequence[tuple[str, int, str]]) -> str:
    """Horizontal bars: how often each finding occurs (colored by severity)."""
    width, left, row_h, top = 900.0, 300.0, 22.0, 8.0
    plot_w = width - left - 80
    height = top + row_h * len(rows) + 8
    peak = max((count for _, count, _ in rows), default=0) or 1
    body = []
    for i, (label, count, severity) in enumerate(rows):
        y = top + i * row_h
        color = COLORS["block"] if severity == "error" else COLORS["revise"]
        body.append(_text(left - 8, y + 14, _short(label, 45), "end"))
        body.append(_rect(left, y + 2, plot_w * count / peak, row_h - 5, color, f"{label}: {count:,} ({severity})"))
        body.append(_text(left + plot_w * count / peak + 6, y + 14, f"{count:,}"))
    return _svg(chart_id, width, height, body, "most frequent findings")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
