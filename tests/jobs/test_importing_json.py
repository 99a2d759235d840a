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
    # And which element: on one line, "line 1" alone would not find it among 2,000.
    assert caught.value.details["item"] == 1_501
    assert caught.value.message.startswith(f"item 1501 (line {line}): ")


def test_every_problem_of_a_one_line_array_names_its_element() -> None:
    elements = [json.dumps(r) for r in _records(10)]
    elements[2] = '{"text": "x", "priority": "high"}'
    elements[6] = json.dumps({"external_id": "item-1", "text": "again"})  # item-1 is element 2's
    with pytest.raises(InvalidImport) as caught:
        rows_parse(payload=("[" + ", ".join(elements) + "]").encode(), fmt="json", gold=False, label_keys=KEYS)
    errors = caught.value.details["errors"]
    assert [(e["item"], e["line"], e["reason"]) for e in errors] == [
        (3, 1, "invalid_priority"), (7, 1, "duplicate_external_id")]
    assert errors[0]["message"].startswith("item 3 (line 1): priority 'high'")
    assert errors[1]["message"] == "item 7 (line 1): external_id 'item-1' appears twice (items 2 and 7, line 1)."


def test_an_array_broken_between_elements_names_the_element_before() -> None:
    elements = [json.dumps(r) for r in _records(5)]
    with pytest.raises(InvalidImport) as caught:
        rows_parse(payload=("[" + ", ".join(elements[:3]) + " x " + elements[3] + "]").encode(),
                   fmt="json", gold=False, label_keys=KEYS)
    assert caught.value.details["item"] == 3 and caught.value.message.startswith("item 3 (line 1): malformed JSON")


def test_problems_in_csv_and_jsonl_name_lines_only() -> None:
    with pytest.raises(InvalidImport) as caught:
        rows_parse(payload=b'{"text": "a"}\n{"text": "b", "priority": "high"}\n', fmt="jsonl", gold=False, label_keys=KEYS)
    assert (caught.value.details["line"], caught.value.details["item"]) == (2, None)
    assert caught.value.message.startswith("line 2: priority")
