"""Small inline-SVG charts for the portal: a confusion heat map, horizontal bars, a histogram and
a line. Pure functions of plain numbers and labels returning SafeString. Every label passes
through format_html, so a label a client typed (say `<script>`) is drawn as text, never run.
Each chart carries role="img" and a <title> so screen readers announce what it shows."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

_FONT = 11
_ACCENT = (47, 84, 209)  # --accent in quorum.css


def _shade(value: float) -> str:
    """White → accent, by value in [0, 1]."""
    v = min(max(value, 0.0), 1.0)
    r, g, b = (round(255 - (255 - c) * v) for c in _ACCENT)
    return f"rgb({r},{g},{b})"


def _clip(text: str, width: int = 14) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


_CHAR = 6.5  # width of one 11 px character, roughly: room for a name before it is clipped
_NAME = 24  # longest name drawn in full on an axis


def heatmap_svg(matrix: Sequence[Sequence[float]], rows: Sequence[str], cols: Sequence[str], *,
                title: str, row_axis: str = "true", col_axis: str = "answered") -> SafeString:
    """A square heat map of probabilities (each row of a confusion matrix sums to 1).

    Cells shrink as labels are added (from 56 px for two labels to 34 px, then the chart grows
    and the page scrolls it); column names that do not fit a cell are drawn at 45°, and the
    margins grow with the longest names, so no name is cut short of _NAME characters."""
    n = max(len(cols), len(rows), 1)
    cell = min(56, max(34, 360 // n))
    row_names = [_clip(r, _NAME) for r in rows]
    col_names = [_clip(c, _NAME) for c in cols]
    longest_col = max((len(c) for c in col_names), default=1) * _CHAR
    rotate = longest_col > cell - 4
    rise = longest_col * 0.71 if rotate else 0.0  # sin 45°: how far a slanted name reaches up and right
    left = round(max(60.0, max((len(r) for r in row_names), default=1) * _CHAR + 16))
    top = round(28 + (rise if rotate else 14))
    width, height = round(left + cell * len(cols) + 8 + rise), top + cell * len(rows) + 8
    cells = []
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            x, y = left + j * cell, top + i * cell
            ink = "#fff" if value > 0.55 else "#1b2130"
            cells.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {} → {} {}: {}</title></rect>'
                '<text x="{}" y="{}" text-anchor="middle" style="fill:{}">{}</text>',
                x, y, cell - 2, cell - 2, _shade(value), row_axis, rows[i], col_axis, cols[j], f"{value:.2f}",
                x + (cell - 2) / 2, y + cell / 2 + 3, ink, f"{value:.2f}"))
    if rotate:
        col_heads = format_html_join(
            "", '<text x="{}" y="{}" transform="rotate(-45 {} {})">{}</text>',
            ((x, top - 6, x, top - 6, c) for x, c in ((left + j * cell + cell / 2, c) for j, c in enumerate(col_names))))
    else:
        col_heads = format_html_join("", '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                                     ((left + j * cell + cell / 2, top - 8, c) for j, c in enumerate(col_names)))
    row_heads = format_html_join("", '<text x="{}" y="{}" text-anchor="end">{}</text>',
                                 ((left - 8, top + i * cell + cell / 2 + 3, r) for i, r in enumerate(row_names)))
    return format_html(
        '<svg class="chart heatmap" role="img" viewBox="0 0 {} {}" width="{}" height="{}" data-cell="{}"><title>{}</title>'
        '<text x="{}" y="12">{} ↓ · {} →</text>{}{}{}</svg>',
        width, height, width, height, cell, title, 4, row_axis, col_axis, col_heads, row_heads,
        mark_safe("".join(cells)))


def bars_svg(items: Sequence[tuple[str, float]], *, title: str, fmt: str = "{:.0f}") -> SafeString:
    """Horizontal bars, one per (label, value), scaled to the largest value."""
    row, left, bar_width = 24, 110, 260
    top = max((v for _, v in items), default=0) or 1
    bars = format_html_join(
        "", '<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{}" y="{}" width="{}" height="16" rx="3" '
        'fill="rgb(47,84,209)"></rect><text x="{}" y="{}">{}</text>',
        ((left - 8, i * row + 14, _clip(label), left, i * row + 2, max(value / top * bar_width, 1),
          left + max(value / top * bar_width, 1) + 6, i * row + 14, fmt.format(value))
         for i, (label, value) in enumerate(items)))
    height = max(len(items), 1) * row + 4
    return format_html('<svg class="chart bars" role="img" viewBox="0 0 {} {}" width="{}" height="{}">'
                       '<title>{}</title>{}</svg>', left + bar_width + 60, height, left + bar_width + 60, height,
                       title, bars)


def histogram_svg(values: Sequence[float], *, title: str, bins: int = 10, lo: float = 0.0,
                  hi: float = 1.0, x_title: str = "", y_title: str = "count") -> SafeString:
    """Counts of values in equal bins over [lo, hi] (values outside are clamped to the end bins),
    with a count axis (ticks) and a value axis (the bin edges, every other one labelled)."""
    counts = [0] * bins
    for value in values:
        index = int((min(max(value, lo), hi) - lo) / (hi - lo) * bins)
        counts[min(index, bins - 1)] += 1
    width, height, left, right, top_pad, base = 360, 170, 40, 10, 18, 138
    col = (width - left - right) / bins
    ticks = nice_ticks(max(counts), count=3)
    top = ticks[-1]

    def y(count: float) -> float:
        return round(base - count / top * (base - top_pad), 1)

    rects = format_html_join(
        "", '<rect x="{}" y="{}" width="{}" height="{}" fill="rgb(47,84,209)"><title>{}–{}: {}</title></rect>',
        ((left + i * col, y(c), col - 2, base - y(c), f"{lo + i * (hi - lo) / bins:.2f}",
          f"{lo + (i + 1) * (hi - lo) / bins:.2f}", c) for i, c in enumerate(counts)))
    y_axis = format_html_join("", '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e1e5ee"></line>'
                              '<text x="{}" y="{}" text-anchor="end">{}</text>',
                              ((left, y(t), width - right, y(t), left - 6, y(t) + 4, _number(t)) for t in ticks))
    x_axis = format_html_join("", '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#8a93a6"></line>'
                              '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                              ((left + i * col, base, left + i * col, base + 4, left + i * col, base + 16,
                                f"{lo + i * (hi - lo) / bins:g}") for i in range(0, bins + 1, 2 if bins > 6 else 1)))
    return format_html(
        '<svg class="chart histogram" role="img" viewBox="0 0 {} {}" width="{}" height="{}"><title>{}</title>'
        '<g class="axis y-axis">{}<text x="4" y="10">{}</text></g>{}'
        '<g class="axis x-axis"><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#8a93a6"></line>{}'
        '<text x="{}" y="{}" text-anchor="end">{}</text></g></svg>',
        width, height, width, height, title, y_axis, y_title, rects, left, base, width - right, base, x_axis,
        width - right, height - 2, x_title)


def nice_ticks(top: float, *, count: int = 4) -> list[float]:
    """0 and round steps (1, 2 or 5 × 10^k) up to at least `top`: the value axis's ticks."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [step * k for k in range(math.ceil(top / step - 1e-9) + 1)]


def _number(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


def line_svg(points: Sequence[float], *, title: str, unit: str = "",
             x_labels: Sequence[str] | None = None, x_title: str = "") -> SafeString:
    """A line over equally spaced points (throughput per hour, accuracy per run, …), with a value
    axis (ticks in `unit`) and a time axis (a few of `x_labels`, one per point, as ticks)."""
    width, height, left, right, top_pad, bottom = 480, 200, 44, 24, 20, 160  # right: room for the last tick
    if not points:
        return format_html('<svg class="chart line" role="img" viewBox="0 0 {} {}" width="{}" height="{}">'
                           '<title>{}</title><text x="8" y="50">No data yet</text></svg>',
                           width, height, width, height, title)
    ticks = nice_ticks(max(points))
    top = ticks[-1]
    span = bottom - top_pad
    step = (width - left - right) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return round(bottom - value / top * span, 1)

    path = " ".join(f"{left + i * step:.1f},{y(p)}" for i, p in enumerate(points))
    y_axis = format_html_join("", '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e1e5ee"></line>'
                              '<text x="{}" y="{}" text-anchor="end">{}</text>',
                              ((left, y(t), width - right, y(t), left - 6, y(t) + 4, _number(t)) for t in ticks))
    x_ticks: list[tuple[float, str]] = []
    if x_labels:
        every = max(1, math.ceil(len(points) / 6))  # at most ~6 tick labels, always the last
        picks = sorted({*range(0, len(points), every), len(points) - 1})
        if len(picks) > 1 and picks[-1] - picks[-2] < every / 2:
            picks.pop(-2)  # the last label would overlap the one before
        x_ticks = [(left + i * step, x_labels[i]) for i in picks]
    x_axis = format_html_join("", '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#8a93a6"></line>'
                              '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                              ((x, bottom, x, bottom + 4, x, bottom + 16, label) for x, label in x_ticks))
    return format_html(
        '<svg class="chart line" role="img" viewBox="0 0 {} {}" width="{}" height="{}"><title>{}</title>'
        '<g class="axis y-axis">{}<text x="4" y="10">{}</text></g>'
        '<g class="axis x-axis"><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#8a93a6"></line>{}'
        '<text x="{}" y="{}" text-anchor="end">{}</text></g>'
        '<polyline points="{}" fill="none" stroke="rgb(47,84,209)" stroke-width="2"></polyline></svg>',
        width, height, width, height, title, y_axis, unit, left, bottom, width - right, bottom, x_axis,
        width - right, height - 2, x_title, path)
