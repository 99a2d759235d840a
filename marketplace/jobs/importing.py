"""Bulk item import: CSV, a JSON array or JSONL in; validated rows out; all rows or none.

Parsing runs before any write and outside the transaction: the file is read line by line (a JSON
array element by element), each record becomes an ItemRow or a Problem naming its line, and only
a clean file reaches `item_bulk_create`, which inserts it in one transaction under the job lock.

Record shapes. CSV: a header row; the reserved columns are `external_id`, `priority` and, for gold,
`label` and `explanation`; every other column is a data field. JSON/JSONL: an object whose `data`
key, if it holds an object, is the data; otherwise its non-reserved keys are the data.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings

from marketplace.errors import ApplicationError
from marketplace.jobs.models import Job
from marketplace.jobs.services import ItemRow, item_bulk_create

FORMATS = ("csv", "json", "jsonl")
MAX_IMPORT_ROWS = 1_000_000
MAX_REPORTED_PROBLEMS = 20
MAX_EXTERNAL_ID = 200  # Item.external_id max_length
PRIORITY_RANGE = (-32768, 32767)  # Item.priority is a SmallIntegerField
_CHUNK = 1 << 20  # bytes read at a time
_BOM = b"\xef\xbb\xbf"
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_NUL = "\x00"
_NUL_ESCAPE = "\\u0000"  # the only way a NUL gets into valid JSON text
_NUL_MESSAGE = "the record contains a NUL character (\\u0000), which cannot be stored."

_RESERVED = frozenset({"external_id", "priority"})
_GOLD_RESERVED = _RESERVED | {"label", "explanation"}

Payload = bytes | BinaryIO
Lines = Iterator[tuple[int, str]]


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None
    reason: str  # a stable code for programs: unknown_label, malformed_json, ...
    message: str  # for people, without the "line N: " prefix

    @property
    def text(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


Parsed = Iterator[ItemRow | Problem]


class InvalidImport(ApplicationError):
    """The file cannot be imported as it is; details name the first bad line and why."""

    code = "invalid_import"

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> InvalidImport:
        first = problems[0]
        errors = [{"line": p.line, "reason": p.reason, "message": p.text} for p in problems]
        details = {"line": first.line, "reason": first.reason, "errors": errors}
        return cls(first.text, details=details)


class _Fatal(Exception):
    """Parsing cannot go on past this problem (broken structure, bad encoding, too large)."""

    def __init__(self, line: int | None, reason: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(line, reason, message)


class _RowError(Exception):
    """One record is wrong; the parser reports it with its line and carries on."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _lines(payload: Payload) -> Lines:
    """(number, text) for each line, ends kept; refuses non-UTF-8 text and oversized files."""
    stream: BinaryIO = io.BytesIO(payload) if isinstance(payload, bytes) else payload
    limit: int = settings.QUORUM_MAX_IMPORT_BYTES
    size = number = 0
    pending: list[bytes] = []  # the start of a line whose end is in a later chunk

    def decode(raw: bytes) -> str:
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
            message = f"not UTF-8 text ({where}); save the file as UTF-8."
            raise _Fatal(number, "bad_encoding", message) from None

    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _Fatal(number + 1, "too_large", f"the file is over the {limit:,} bytes allowed.")
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            pending.append(chunk)
            continue
        pending.append(parts[0])
        head = b"".join(pending)
        pending = [parts[-1]] if parts[-1] else []
        for raw in (head, *parts[1:-1]):
            number += 1
            yield number, decode(raw) + "\n"
    if pending:
        number += 1
        yield number, decode(b"".join(pending))


def _text(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _RowError(f"invalid_{name}", f"{name} must be a string, not {type(value).__name__}.")


def _has_nul(value: Any) -> bool:
    """PostgreSQL stores no NUL character in text or jsonb; find one before the database does."""
    if isinstance(value, str):
        return _NUL in value
    if isinstance(value, dict):
        return any(_NUL in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _row(line: int, data: dict[str, Any], fields: dict[str, Any], *, gold: bool,
         label_keys: Sequence[str]) -> ItemRow:
    """Check one record (data + reserved fields, the same for every format); build its ItemRow."""
    if not data:
        raise _RowError("empty_data", "the item has no data: give it at least one field.")
    raw_id, raw_priority = fields.get("external_id"), fields.get("priority")
    external_id = None if raw_id is None else _text(raw_id, "external_id").strip() or None
    if external_id is not None and len(external_id) > MAX_EXTERNAL_ID:
        raise _RowError("invalid_external_id", f"external_id is over {MAX_EXTERNAL_ID} characters.")
    priority = 0
    if raw_priority not in (None, ""):
        low, high = PRIORITY_RANGE
        text = _text(raw_priority, "priority").strip()
        if not re.fullmatch(r"-?\d{1,6}", text) or not low <= int(text) <= high:
            message = f"priority {raw_priority!r} is not a whole number from {low} to {high}."
            raise _RowError("invalid_priority", message)
        priority = int(text)
    label, explanation = None, ""
    if gold:
        raw_label, raw_explanation = fields.get("label"), fields.get("explanation")
        label = None if raw_label is None else _text(raw_label, "label").strip()
        if not label:
            raise _RowError("missing_label", "a gold item needs its known label.")
        if label not in label_keys:
            message = f"unknown label {label!r} (expected one of {', '.join(label_keys)})"
            raise _RowError("unknown_label", message)
        explanation = "" if raw_explanation is None else _text(raw_explanation, "explanation")
    return ItemRow(data=data, external_id=external_id, priority=priority, gold_label=label,
                   explanation=explanation, line=line)


def _reserved(gold: bool) -> frozenset[str]:
    return _GOLD_RESERVED if gold else _RESERVED


def _csv_rows(lines: Lines, *, gold: bool, label_keys: Sequence[str]) -> Parsed:
    last = [0]  # the number of the last line csv.reader has taken

    def feed() -> Iterator[str]:
        for last[0], text in lines:
            yield text

    reader = csv.reader(feed(), strict=True)
    header: list[str] | None = None
    reserved: list[tuple[int, str]] = []
    data_columns: list[tuple[int, str]] = []
    while True:
        start = last[0] + 1  # a quoted field may span lines: report where the record began
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _Fatal(start, "malformed_csv", f"malformed CSV ({exc}).") from None
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line
        if header is None:
            header = [name.strip() for name in record]
            reserved, data_columns = _csv_header(header, gold=gold, line=start)
            continue
        if len(record) != len(header):
            yield Problem(start, "wrong_field_count",
                          f"expected {len(header)} fields, found {len(record)}.")
            continue
        if _NUL in "".join(record):
            yield Problem(start, "nul_character", _NUL_MESSAGE)
            continue
        data = {name: record[i] for i, name in data_columns}
        try:
            if not any(data.values()):
                raise _RowError("empty_data", "every data column is empty.")
            fields = {name: record[i] for i, name in reserved}
            yield _row(start, data, fields, gold=gold, label_keys=label_keys)
        except _RowError as exc:
            yield Problem(start, exc.reason, exc.message)


def _csv_header(
    header: list[str], *, gold: bool, line: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(position, name) of the reserved columns present, and of the data columns."""
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise _Fatal(line, "missing_column", f"column {position} of the header has no name.")
        if name in seen:
            raise _Fatal(line, "duplicate_column", f"column {name!r} appears twice in the header.")
        seen.add(name)
    reserved = _reserved(gold)
    if gold and "label" not in seen:
        raise _Fatal(line, "missing_column", "missing column 'label': gold items need their label.")
    data_columns = [(i, name) for i, name in enumerate(header) if name not in reserved]
    if not data_columns:
        besides = ", ".join(sorted(reserved))
        raise _Fatal(line, "missing_column", f"no data columns: add one besides {besides}.")
    return [(i, name) for i, name in enumerate(header) if name in reserved], data_columns


def _object_row(
    obj: Any, line: int, *, maybe_nul: bool, gold: bool, label_keys: Sequence[str]
) -> ItemRow | Problem:
    """`maybe_nul`: the record's JSON text holds a \\u0000 escape (scanning every value is slow)."""
    try:
        if maybe_nul and _has_nul(obj):
            raise _RowError("nul_character", _NUL_MESSAGE)
        if not isinstance(obj, dict):
            kind = {list: "an array", str: "a string"}.get(type(obj), "a number or literal")
            raise _RowError("not_an_object", f"expected an object, found {kind}.")
        inner, reserved = obj.get("data"), _reserved(gold)
        if not isinstance(inner, dict):
            inner = {k: v for k, v in obj.items() if k not in reserved}
        return _row(line, inner, obj, gold=gold, label_keys=label_keys)
    except _RowError as exc:
        return Problem(line, exc.reason, exc.message)


def _jsonl_rows(lines: Lines, *, gold: bool, label_keys: Sequence[str]) -> Parsed:
    for number, text in lines:
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"not valid JSON ({exc.msg}, column {exc.colno})."
            yield Problem(number, "malformed_json", message)
            continue
        maybe_nul = _NUL_ESCAPE in text
        yield _object_row(obj, number, maybe_nul=maybe_nul, gold=gold, label_keys=label_keys)


class _JsonWindow:
    """A sliding window of text over numbered lines, so a JSON array decodes element by element."""

    def __init__(self, lines: Lines) -> None:
        self._lines = lines
        self.text = ""
        self.pos = 0
        self.first_line = 1  # the line number of text[0]
        self.last_line = 1  # the last line read, for problems found at the end of the file
        self.eof = False

    def fill(self) -> bool:
        """Drop the consumed text and append about a megabyte more; False when nothing is left."""
        if self.eof:
            return False
        self.first_line += self.text.count("\n", 0, self.pos)
        self.text, self.pos = self.text[self.pos :], 0
        parts: list[str] = []
        size = 0
        for self.last_line, line in self._lines:
            parts.append(line)
            size += len(line)
            if size >= _CHUNK:
                break
        else:
            self.eof = True
        self.text += "".join(parts)
        return bool(parts)

    def line_at(self, index: int) -> int:
        return min(self.first_line + self.text.count("\n", 0, index), self.last_line)

    def peek(self) -> str:
        """The next non-blank character ("" at the end), consuming the blanks before it."""
        while True:
            self.pos = _JSON_SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return ""

    def value(self, decoder: json.JSONDecoder) -> tuple[Any, bool]:
        """The next JSON value, and whether its text holds a \\u0000 escape."""
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                line = self.line_at(exc.pos)  # before fill() slides the window
                if self.fill():  # maybe only cut off at the window's edge: retry with more text
                    continue
                raise _Fatal(line, "malformed_json", f"malformed JSON ({exc.msg}).") from None
            if end == len(self.text) and not isinstance(value, dict | list | str) and self.fill():
                continue  # a number at the edge may go on in the next chunk
            maybe_nul = self.text.find(_NUL_ESCAPE, self.pos, end) != -1
            self.pos = end
            return value, maybe_nul


def _json_rows(lines: Lines, *, gold: bool, label_keys: Sequence[str]) -> Parsed:
    window = _JsonWindow(lines)
    decoder = json.JSONDecoder()

    def fail(reason: str, what: str) -> _Fatal:
        return _Fatal(window.line_at(window.pos), reason, what)

    char = window.peek()
    if char == "":
        return
    if char != "[":
        raise fail("not_an_array", "a .json file holds one array of objects (JSONL: one per line).")
    window.pos += 1
    if window.peek() == "]":
        window.pos += 1
    else:
        while True:
            line = window.line_at(window.pos)
            value, maybe_nul = window.value(decoder)
            yield _object_row(value, line, maybe_nul=maybe_nul, gold=gold, label_keys=label_keys)
            char = window.peek()
            if char == "":
                raise fail("malformed_json", "malformed JSON (the array is never closed with ']').")
            if char not in ",]":
                raise fail("malformed_json", f"malformed JSON (',' or ']' expected, not {char!r}).")
            window.pos += 1
            if char == "]":
                break
            if window.peek() == "]":
                raise fail("malformed_json", "malformed JSON (a comma before ']').")
    if window.peek() != "":
        raise fail("malformed_json", "malformed JSON (extra text after the array).")


_PARSERS: dict[str, Callable[..., Parsed]] = {
    "csv": _csv_rows, "json": _json_rows, "jsonl": _jsonl_rows,
}


def rows_parse(
    *, payload: Payload, fmt: str, gold: bool, label_keys: Sequence[str]
) -> list[ItemRow]:
    """Every row of the file, validated; raises InvalidImport naming the first bad line.

    Up to MAX_REPORTED_PROBLEMS problems are collected (details.errors) so a client can fix a
    file in one pass; rows stop being kept after the first problem, since none will be saved.
    """
    if fmt not in _PARSERS:
        message = f"unknown import format {fmt!r}; use csv, json or jsonl."
        raise InvalidImport.of([Problem(None, "unknown_format", message)])
    problems: list[Problem] = []
    rows: list[ItemRow] = []
    first_seen: dict[str, int] = {}  # external_id -> the line it first appeared on
    count = 0
    try:
        for parsed in _PARSERS[fmt](_lines(payload), gold=gold, label_keys=label_keys):
            if isinstance(parsed, Problem):
                problems.append(parsed)
            else:
                count += 1
                if count > MAX_IMPORT_ROWS:
                    raise _Fatal(parsed.line, "too_many_rows", f"over {MAX_IMPORT_ROWS:,} items.")
                ext = parsed.external_id
                if ext is not None and ext in first_seen:
                    lines = f"lines {first_seen[ext]} and {parsed.line}"
                    problems.append(Problem(parsed.line, "duplicate_external_id",
                                            f"external_id {ext!r} appears twice ({lines})."))
                elif ext is not None:
                    first_seen[ext] = parsed.line
                if not problems:
                    rows.append(parsed)
            if len(problems) >= MAX_REPORTED_PROBLEMS:
                break
    except _Fatal as fatal:
        problems.append(fatal.problem)
    if problems:
        raise InvalidImport.of(problems)
    if not rows:
        raise InvalidImport.of([Problem(1, "empty_file", "the file holds no items.")])
    return rows


def items_import(*, job: Job, payload: Payload, fmt: str, gold: bool) -> int:
    """Import a whole file into `job`: every row or, on any problem, none (400 naming the line).

    Not atomic itself on purpose: parsing a large file must not hold the job lock. The insert
    (`item_bulk_create`) is one transaction that re-checks status, labels and external ids.
    """
    rows = rows_parse(payload=payload, fmt=fmt, gold=gold, label_keys=job.label_keys)
    try:
        return item_bulk_create(job=job, rows=rows, gold=gold)
    except ApplicationError as exc:
        # A line-level clash found under the lock (an external id already in the job) is still
        # a problem with the file; a Conflict (job closed) is not and keeps its own code.
        if type(exc) is not ApplicationError or "reason" not in exc.details:
            raise
        what = exc.message.split(": ", 1)[-1]  # without its "line N: " prefix
        problem = Problem(exc.details.get("line"), exc.details["reason"], what)
        raise InvalidImport.of([problem]) from exc
