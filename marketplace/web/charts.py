"""Small inline-SVG charts for the portal: a confusion heat map, horizontal bars, a histogram and
a line. Pure functions of plain numbers and labels returning SafeString. Every label passes
through format_html, so a label a client typed (say `<script>`) is drawn as text, never run.
Each chart carries role="img" and a <title> so screen readers announce what it shows."""

from __future__ import annotations

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


def heatmap_svg(matrix: Sequence[Sequence[float]], rows: Sequence[str], cols: Sequence[str], *,
                title: str, row_axis: str = "true", col_axis: str = "answered") -> SafeString:
    """A square heat map of probabilities (each row of a confusion matrix sums to 1)."""
    cell, left, top = 44, 96, 40
    width, height = left + cell * len(cols) + 8, top + cell * len(rows) + 8
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
    col_heads = format_html_join("", '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                                 ((left + j * cell + cell / 2, top - 8, _clip(c, 7)) for j, c in enumerate(cols)))
    row_heads = format_html_join("", '<text x="{}" y="{}" text-anchor="end">{}</text>',
                                 ((left - 8, top + i * cell + cell / 2 + 3, _clip(r)) for i, r in enumerate(rows)))
    return format_html(
        '<svg class="chart heatmap" role="img" viewBox="0 0 {} {}" width="{}" height="{}"><title>{}</title>'
        '<text x="{}" y="12">{} ↓ · {} →</text>{}{}{}</svg>',
        width, height, width, height, title, 4, row_axis, col_axis, col_heads, row_heads, mark_safe("".join(cells)))


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
                  hi: float = 1.0) -> SafeString:
    """Counts of values in equal bins over [lo, hi] (values outside are clamped to the end bins)."""
    counts = [0] * bins
    for value in values:
        index = int((min(max(value, lo), hi) - lo) / (hi - lo) * bins)
        counts[min(index, bins - 1)] += 1
    width, height, base, col = 320, 140, 118, 300 / bins
    top = max(counts) or 1
    rects = format_html_join(
        "", '<rect x="{}" y="{}" width="{}" height="{}" fill="rgb(47,84,209)"><title>{}–{}: {}</title></rect>',
        ((10 + i * col, base - c / top * 100, col - 2, c / top * 100, f"{lo + i * (hi - lo) / bins:.2f}",
          f"{lo + (i + 1) * (hi - lo) / bins:.2f}", c) for i, c in enumerate(counts)))
    return format_html(
        '<svg class="chart histogram" role="img" viewBox="0 0 {} {}" width="{}" height="{}"><title>{}</title>{}'
        '<line x1="10" y1="{}" x2="310" y2="{}" stroke="#e1e5ee"></line>'
        '<text x="10" y="{}">{}</text><text x="310" y="{}" text-anchor="end">{}</text></svg>',
        width, height, width, height, title, rects, base, base, base + 16, f"{lo:g}", base + 16, f"{hi:g}")


def line_svg(points: Sequence[float], *, title: str, unit: str = "") -> SafeString:
    """A line over equally spaced points (throughput per hour, accuracy per run, …)."""
    width, height = 320, 100
    if not points:
        return format_html('<svg class="chart line" role="img" viewBox="0 0 {} {}" width="{}" height="{}">'
                           '<title>{}</title><text x="8" y="50">No data yet</text></svg>',
                           width, height, width, height, title)
    top = max(points) or 1
    step = (width - 20) / max(len(points) - 1, 1)
    path = " ".join(f"{10 + i * step:.1f},{90 - p / top * 80:.1f}" for i, p in enumerate(points))
    return format_html('<svg class="chart line" role="img" viewBox="0 0 {} {}" width="{}" height="{}"><title>{}'
                       '</title><polyline points="{}" fill="none" stroke="rgb(47,84,209)" stroke-width="2">'
                       '</polyline><text x="{}" y="12" text-anchor="end">{} {}</text></svg>',
                       width, height, width, height, title, path, width - 4, f"{top:g}", unit)
