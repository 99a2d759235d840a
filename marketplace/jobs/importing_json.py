"""The importer's JSON readers: a JSON array read element by element, and JSONL line by line.

Values are decoded by marketplace.parsing, which refuses what PostgreSQL or Python cannot take
(NaN, Infinity, 1e999, lone surrogates, NUL characters, over-long numbers, deep nesting,
over-long strings): in JSONL the line is a problem of its own; in an array the file stops there
(the reader cannot know where the refused value ends). A problem in an array names its element
as well as its line, "item 7 (line 1)": an array json.dumps wrote is all on line 1. Every JSON
import, a request body or an uploaded file, from the API or the portal, is read here, never by
the API's JSON parser: these decoders are the NUL check, and no record needs another.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any

from marketplace.jobs import label_studio as label_studio_task
from marketplace.jobs.importing_rows import (
    Fatal,
    Lines,
    Parsed,
    Problem,
    RowError,
    reserved_fields,
    row_check,
)
from marketplace.jobs.services import ItemRow
from marketplace.parsing import JsonRefused, json_decode, json_loads

_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _object_row(
    obj: Any, line: int, *, gold: bool, label_keys: Sequence[str], label_studio: bool | None = None,
) -> ItemRow | Problem:
    """`label_studio`: True, every record must be a Label Studio task; None, a record shaped like
    one (data beside predictions or annotations) is read as one; False, never."""
    try:
        if label_studio or (label_studio is None and label_studio_task.is_task(obj)):
            return label_studio_task.task_row(obj, line, gold=gold, label_keys=label_keys)
        if not isinstance(obj, dict):
            kind = {list: "an array", str: "a string"}.get(type(obj), "a number or literal")
            raise RowError("not_an_object", f"expected an object, found {kind}.")
        inner, reserved = obj.get("data"), reserved_fields(gold)
        if not isinstance(inner, dict):
            inner = {k: v for k, v in obj.items() if k not in reserved}
        return row_check(line, inner, obj, gold=gold, label_keys=label_keys)
    except RowError as exc:
        return Problem(line, exc.reason, exc.message)


def jsonl_rows(lines: Lines, *, gold: bool, label_keys: Sequence[str]) -> Parsed:
    for number, text in lines:
        if not text.strip():
            continue
        try:
            obj = json_loads(text)
        except json.JSONDecodeError as exc:
            message = f"not valid JSON ({exc.msg}, column {exc.colno})."
            yield Problem(number, "malformed_json", message)
            continue
        except JsonRefused as exc:
            yield Problem(number, exc.reason, exc.message)
            continue
        yield _object_row(obj, number, gold=gold, label_keys=label_keys)


class _JsonWindow:
    """A sliding window of text over numbered lines, so a JSON array decodes element by element."""

    def __init__(self, lines: Lines, chunk: int) -> None:
        self._lines = lines
        self._chunk = chunk
        self.text = ""
        self.pos = 0
        self.last_line = 1  # the last line read, for problems found at the end of the file
        self.eof = False
        # text[self._mark] is on line self._line: line_at counts on from the last index it was
        # asked about, never from text[0]. A one-line array (what json.dumps writes) is one window
        # that never slides, and recounting its newlines for each element was quadratic: 10,000
        # records of 290 characters took 22 s to parse, 20,000 took over 90 s.
        self._mark = 0
        self._line = 1

    def fill(self, at_least: int = 0) -> bool:
        """Drop the consumed text and append about a megabyte more, or `at_least` characters;
        False when nothing is left."""
        if self.eof:
            return False
        self.line_at(self.pos)  # moves the mark to pos, which becomes text[0]
        self.text, self.pos, self._mark = self.text[self.pos :], 0, 0
        parts: list[str] = []
        size, wanted = 0, max(self._chunk, at_least)
        for self.last_line, line in self._lines:
            parts.append(line)
            size += len(line)
            if size >= wanted:
                break
        else:
            self.eof = True
        self.text += "".join(parts)
        return bool(parts)

    def line_at(self, index: int) -> int:
        """The line of text[index]; costs the distance from the index asked about before."""
        if index >= self._mark:
            self._line += self.text.count("\n", self._mark, index)
        else:  # an error's position, then the element's start again
            self._line -= self.text.count("\n", index, self._mark)
        self._mark = index
        return min(self._line, self.last_line)

    def peek(self) -> str:
        """The next non-blank character ("" at the end), consuming the blanks before it."""
        while True:
            self.pos = _JSON_SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return ""

    def _grow(self) -> bool:
        """fill() for a value cut off at the window's edge, reading at least as much again as the
        part already read: a value over many lines is decoded afresh a few times (the window
        doubles), not once per megabyte, which took 24 s for one 20 MB value."""
        return self.fill(at_least=len(self.text) - self.pos)

    def value(self) -> Any:
        """The next JSON value."""
        while True:
            try:
                value, end = json_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                line = self.line_at(exc.pos)  # before fill() slides the window
                if self._grow():  # maybe only cut off at the window's edge: retry with more text
                    continue
                raise Fatal(line, "malformed_json", f"malformed JSON ({exc.msg}).") from None
            except JsonRefused as exc:
                raise Fatal(self.line_at(self.pos), exc.reason, exc.message) from None
            if end == len(self.text) and not isinstance(value, dict | list | str) and self._grow():
                continue  # a number at the edge may go on in the next chunk
            self.pos = end
            return value


def json_rows(
    lines: Lines, *, gold: bool, label_keys: Sequence[str], chunk: int, label_studio: bool | None = None
) -> Parsed:
    """The rows of a JSON array; `chunk`: about how many characters the window reads at a time;
    `label_studio` as in _object_row (format=label_studio passes True)."""
    window = _JsonWindow(lines, chunk)

    def fail(reason: str, what: str, item: int | None = None) -> Fatal:
        return Fatal(window.line_at(window.pos), reason, what, item)

    char = window.peek()
    if char == "":
        return
    if char != "[":
        what = "Label Studio tasks come as one JSON array" if label_studio else (
            "a .json file holds one array of objects (JSONL: one per line)")
        raise fail("not_an_array", f"{what}.")
    window.pos += 1
    if window.peek() == "]":
        window.pos += 1
    else:
        item = 0  # the element being read, from 1: the one problems after it name too
        while True:
            item += 1
            line = window.line_at(window.pos)
            try:
                value = window.value()
            except Fatal as fatal:
                if fatal.problem.reason == "too_large":
                    raise  # the whole file's fault, not this element's
                raise Fatal.of(fatal.problem.of_item(item)) from None
            parsed = _object_row(value, line, gold=gold, label_keys=label_keys, label_studio=label_studio)
            yield parsed.of_item(item) if isinstance(parsed, Problem) else dataclasses.replace(parsed, item=item)
            char = window.peek()
            if char == "":
                raise fail("malformed_json", "malformed JSON (the array is never closed with ']').", item)
            if char not in ",]":
                raise fail("malformed_json", f"malformed JSON (',' or ']' expected after it, not {char!r}).", item)
            window.pos += 1
            if char == "]":
                break
            if window.peek() == "]":
                raise fail("malformed_json", "malformed JSON (a comma after it, before ']').", item)
    if window.peek() != "":
        raise fail("malformed_json", "malformed JSON (extra text after the array).")
