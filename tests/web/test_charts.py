"""The portal's inline-SVG charts (marketplace/web/charts.py): pure functions, so no database.
A person must be able to read them (axes, ticks, units, names not cut off) and a name a client
typed must stay text."""

from __future__ import annotations

import re

from marketplace.web import charts

XSS = '<script>alert("x")</script>'


def _size(svg: str) -> tuple[int, int]:
    match = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert match, svg[:200]
    return int(match[1]), int(match[2])


def test_value_ticks_are_round_numbers_from_zero_past_the_top() -> None:
    assert charts.nice_ticks(7) == [0, 2, 4, 6, 8]
    assert charts.nice_ticks(130) == [0, 50, 100, 150]
    assert charts.nice_ticks(0) == [0.0, 1.0]


def test_the_line_chart_has_a_value_axis_with_its_unit_and_a_time_axis_with_ticks() -> None:
    hours = [f"{h:02d}:00" for h in range(24)]
    svg = charts.line_svg([0, 3, 7, 2] * 6, title="Judgments per hour", unit="judgments/hour",
                          x_labels=hours, x_title="time (UTC)")
    assert 'class="axis y-axis"' in svg and 'class="axis x-axis"' in svg
    assert ">judgments/hour</text>" in svg and ">time (UTC)</text>" in svg
    for tick in (">0</text>", ">4</text>", ">8</text>"):
        assert tick in svg, tick
    shown = [label for label in hours if f">{label}</text>" in svg]
    assert shown[0] == "00:00" and shown[-1] == "23:00" and 3 <= len(shown) <= 7  # a few, never all 24


def test_an_empty_line_chart_says_so() -> None:
    assert "No data yet" in charts.line_svg([], title="Judgments per hour")


def test_the_heat_map_grows_with_the_label_set_and_keeps_long_names_whole() -> None:
    def heat(n: int, name: str = "label") -> str:
        names = [f"{name} {k}" for k in range(n)]
        return charts.heatmap_svg([[1 / n] * n for _ in range(n)], names, names, title="Confusion")

    small, large = heat(2), heat(20)
    assert _size(large)[0] > _size(small)[0] and _size(large)[1] > _size(small)[1]
    cell = lambda svg: int(re.search(r'data-cell="(\d+)"', svg)[1])  # noqa: E731
    assert cell(large) < cell(small)  # cells shrink before the chart grows (the page scrolls it)
    long_names = heat(6, "Golden retriever")
    assert ">Golden retriever 5</text>" in long_names  # not clipped to "Golden…"
    assert "rotate(-45" in long_names  # column names that do not fit a cell are slanted


def test_the_histogram_has_a_count_axis_and_value_ticks() -> None:
    svg = charts.histogram_svg([0.1, 0.15, 0.8, 0.95, 0.97], title="Gold accuracy", x_title="gold accuracy",
                               y_title="workers")
    assert 'class="axis y-axis"' in svg and ">workers</text>" in svg and ">gold accuracy</text>" in svg
    for tick in (">0</text>", ">0.2</text>", ">0.8</text>", ">1</text>"):
        assert tick in svg, tick


def test_names_a_client_typed_are_drawn_as_text_in_every_chart() -> None:
    drawn = [
        charts.heatmap_svg([[1.0]], [XSS], [XSS], title=XSS),
        charts.bars_svg([(XSS, 3.0)], title=XSS),
        charts.line_svg([1.0, 2.0], title=XSS, unit=XSS, x_labels=[XSS, XSS], x_title=XSS),
        charts.histogram_svg([0.5], title=XSS, x_title=XSS, y_title=XSS),
    ]
    for svg in drawn:
        assert "<script>" not in svg and "&lt;script&gt;" in svg
