"""The JSON array reader does work in proportion to the file, whatever its layout.

json.dumps, JSON.stringify and pandas write a whole array on one line. Finding each element's line
(for the error messages) once recounted the window from its start for every element, so 10,000
records of 290 characters took 22 s to parse and 20,000 took 92 s; a value spread over many lines
was decoded afresh for every megabyte read. These tests count the characters the reader goes
over, not the seconds, so they hold on a fast machine and a loaded one alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, SupportsIndex

import pytest

from marketplace.jobs import importing, importing_json
from marketplace.jobs.importing import InvalidImport, rows_parse
from marketplace.jobs.importing_json import _JsonWindow

KEYS = ["cat", "dog", "bird"]


class _Tally:
    def __init__(self) -> None:
        self.newlines_scanned = 0  # characters the window's text.count calls went over
        self.decoded = 0  # characters json_decode read, to each value's end or its error


@pytest.fixture
def tally(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Tally]:
    """Counts what the reader reads: the window's text is a str that tallies its `count` calls,
    and json_decode is wrapped to tally the characters each call went through."""
    seen = _Tally()

    class TallyingText(str):
        def count(self, sub: str, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
            first, last, _ = slice(start, end).indices(len(self))
            seen.newlines_scanned += max(0, last - first)
            return super().count(sub, start, end)

    def text_get(window: _JsonWindow) -> str:
        return window.__dict__["text"]  # type: ignore[no-any-return]

    def text_set(window: _JsonWindow, text: str) -> None:
        window.__dict__["text"] = TallyingText(text)

    decode = importing_json.json_decode

    def decoding(text: str, pos: int = 0) -> tuple[Any, int]:
        try:
            value, end = decode(text, pos)
        except json.JSONDecodeError as exc:
            seen.decoded += exc.pos - pos
            raise
        seen.decoded += end - pos
        return value, end

    monkeypatch.setattr(_JsonWindow, "text", property(text_get, text_set), raising=False)
    monkeypatch.setattr(importing_json, "json_decode", decoding)
    yield seen


def _records(count: int) -> list[dict[str, Any]]:
    return [{"external_id": f"item-{n}", "data": {"text": f"Picture {n} " + "x" * 80}} for n in range(count)]


def test_a_one_line_array_is_scanned_for_line_numbers_about_once(tally: _Tally) -> None:
    payload = json.dumps(_records(2_000)).encode()
    rows = rows_parse(payload=payload, fmt="json", gold=False, label_keys=KEYS)
    assert len(rows) == 2_000 and {r.line for r in rows} == {1}
    assert tally.newlines_scanned <= 2 * len(payload), f"{tally.newlines_scanned:,} for {len(payload):,}"


def test_an_array_with_an_element_per_line_is_scanned_about_once_however_the_window_slides(
    tally: _Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "_CHUNK", 4_096)
    payload = ("[\n" + ",\n".join(json.dumps(r) for r in _records(2_000)) + "\n]\n").encode()
    rows = rows_parse(payload=payload, fmt="json", gold=False, label_keys=KEYS)
    assert [r.line for r in rows] == list(range(2, 2_002))
    # The rest: an element cut off at the window's edge is decoded again, once per window.
    assert tally.newlines_scanned <= 2 * len(payload), f"{tally.newlines_scanned:,} for {len(payload):,}"
    assert tally.decoded <= 2 * len(payload), f"{tally.decoded:,} for {len(payload):,}"


def test_one_value_over_many_lines_is_decoded_a_few_times_not_once_per_window(
    tally: _Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "_CHUNK", 1_024)
    numbers = list(range(20_000))
    payload = json.dumps([{"text": "long", "numbers": numbers}], indent=1).encode()
    (row,) = rows_parse(payload=payload, fmt="json", gold=False, label_keys=KEYS)
    assert row.data["numbers"] == numbers
    assert tally.decoded <= 4 * len(payload), f"{tally.decoded:,} for {len(payload):,}"


@pytest.mark.parametrize(
    ("one_line", "element", "reason", "line"),
    [
        pytest.param(True, '{"text": "x", "priority": "high"}', "invalid_priority", 1, id="one-line"),
        pytest.param(False, '{"text": "x", "priority": "high"}', "invalid_priority", 1_502, id="per-line"),
        pytest.param(True, '{"text": "x",}', "malformed_json", 1, id="one-line-malformed"),
        pytest.param(False, '{"text": "x",}', "malformed_json", 1_502, id="per-line-malformed"),
    ],
)
def test_a_problem_deep_in_a_long_array_still_names_its_line(
    monkeypatch: pytest.MonkeyPatch, one_line: bool, element: str, reason: str, line: int
) -> None:
    monkeypatch.setattr(importing, "_CHUNK", 4_096)
    elements = [json.dumps(r) for r in _records(2_000)]
    elements[1_500] = element  # line 1,502 when "[" has a line and each element one of its own
    payload = ("[" + ", ".join(elements) + "]" if one_line else "[\n" + ",\n".join(elements) + "\n]\n").encode()
    with pytest.raises(InvalidImport) as caught:
        rows_parse(payload=payload, fmt="json", gold=False, label_keys=KEYS)
    assert (caught.value.details["line"], caught.value.details["reason"]) == (line, reason), caught.value.message
