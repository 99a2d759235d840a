"""Bulk item import: CSV, a JSON array or JSONL in; validated rows out; all rows or none.

Parsing runs before any write and outside the transaction: the file is read line by line (a JSON
array element by element), each record becomes an ItemRow or a Problem naming its line, and only
a clean file reaches `item_bulk_create`, which inserts it in one transaction under the job lock.

Record shapes. CSV: a header row; the reserved columns are `external_id`, `priority` (a whole
number in importing_rows.PRIORITY_RANGE, the item's serving priority, highest first) and, for gold,
`label` and `explanation`; every other column is a data field. JSON/JSONL: an object whose `data`
key, if it holds an object, is the data; otherwise its non-reserved keys are the data. Label
Studio tasks (format label_studio, or a JSON record with `data` beside `predictions` or
`annotations`): see jobs.label_studio for what is kept and what is dropped.

Predictions: `prediction` (a label key) and `prediction_probabilities` (a JSON object of label ->
probability; in CSV its JSON text) are reserved in every format; a file that has them must name
their model (`model`, `model_version`), and every prediction is checked (jobs.predictions) before
anything is written. A Label Studio task's first single-choice prediction is kept the same way
when a model is named, and dropped otherwise.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from marketplace.errors import ApplicationError
from marketplace.jobs.importing_json import json_rows, jsonl_rows
from marketplace.jobs.importing_rows import (
    FIELD_TOO_LONG,
    NUL,
    NUL_MESSAGE,
    Fatal,
    InvalidImport,
    Lines,
    Parsed,
    Problem,
    RowError,
    reserved_fields,
    row_check,
)
from marketplace.jobs.models import Item, Job
from marketplace.jobs.predicting import predictions_import
from marketplace.jobs.predictions import ModelName, PredictionError, PredictionRow, prediction_check
from marketplace.jobs.services import ItemRow, import_label_keys, item_bulk_create
from marketplace.limits import MAX_DATA_FIELD_CHARS

__all__ = ["FORMATS", "InvalidImport", "Payload", "Problem", "items_import", "rows_parse"]

FORMATS = ("csv", "json", "jsonl", "label_studio")
MAX_IMPORT_ROWS = 1_000_000
MAX_REPORTED_PROBLEMS = 20
_CHUNK = 1 << 20  # bytes read at a time
_BOM = b"\xef\xbb\xbf"


Payload = bytes | BinaryIO


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
            raise Fatal(number, "bad_encoding", message) from None

    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            # The whole file's fault, not a line's: a one-line JSON array said "line 1:".
            raise Fatal(None, "too_large", f"the file is over the {limit:,} bytes allowed.")
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
            raise Fatal(start, "malformed_csv", f"malformed CSV ({exc}).") from None
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
        if NUL in "".join(record):
            yield Problem(start, "nul_character", NUL_MESSAGE)
            continue
        if any(len(value) > MAX_DATA_FIELD_CHARS for value in record):
            yield Problem(start, "field_too_long", FIELD_TOO_LONG)
            continue
        data = {name: record[i] for i, name in data_columns}
        try:
            if not any(data.values()):
                raise RowError("empty_data", "every data column is empty.")
            fields = {name: record[i] for i, name in reserved}
            yield row_check(start, data, fields, gold=gold, label_keys=label_keys)
        except RowError as exc:
            yield Problem(start, exc.reason, exc.message)


def _csv_header(
    header: list[str], *, gold: bool, line: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(position, name) of the reserved columns present, and of the data columns."""
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        # Excel in many European locales saves "CSV" with ';'; read with ',' it is one column
        # named "external_id;text" and would import "s1;hello" as each item's only field.
        separator = "semicolons" if ";" in header[0] else "tabs"
        raise Fatal(line, "wrong_separator",
                    f"the header is a single column, {header[0][:80]!r}: the file seems separated by "
                    f"{separator}, not commas. Save it as comma-separated CSV (UTF-8).")
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise Fatal(line, "missing_column", f"column {position} of the header has no name.")
        if name in seen:
            raise Fatal(line, "duplicate_column", f"column {name!r} appears twice in the header.")
        seen.add(name)
    reserved = reserved_fields(gold)
    if gold and "label" not in seen:
        raise Fatal(line, "missing_column", "missing column 'label': gold items need their label.")
    data_columns = [(i, name) for i, name in enumerate(header) if name not in reserved]
    if not data_columns:
        besides = ", ".join(sorted(reserved))
        raise Fatal(line, "missing_column", f"no data columns: add one besides {besides}.")
    return [(i, name) for i, name in enumerate(header) if name in reserved], data_columns


def _json_rows(lines: Lines, *, gold: bool, label_keys: Sequence[str]) -> Parsed:
    return json_rows(lines, gold=gold, label_keys=label_keys, chunk=_CHUNK)  # read now: tests patch it


def _label_studio_rows(lines: Lines, *, gold: bool, label_keys: Sequence[str]) -> Parsed:
    """A JSON array of Label Studio tasks, every element checked as one (jobs.label_studio)."""
    return json_rows(lines, gold=gold, label_keys=label_keys, chunk=_CHUNK, label_studio=True)


_PARSERS: dict[str, Callable[..., Parsed]] = {
    "csv": _csv_rows, "json": _json_rows, "jsonl": jsonl_rows, "label_studio": _label_studio_rows,
}


def rows_parse(
    *, payload: Payload, fmt: str, gold: bool, label_keys: Sequence[str]
) -> list[ItemRow]:
    """Every row of the file, validated; raises InvalidImport naming the first bad line.

    Up to MAX_REPORTED_PROBLEMS problems are collected (details.errors) so a client can fix a
    file in one pass; rows stop being kept after the first problem, since none will be saved.
    """
    if fmt not in _PARSERS:
        message = f"unknown import format {fmt!r}; use csv, json, jsonl or label_studio."
        raise InvalidImport.of([Problem(None, "unknown_format", message)])
    problems: list[Problem] = []
    rows: list[ItemRow] = []
    first_seen: dict[str, ItemRow] = {}  # external_id -> the row it first appeared in
    count = 0
    try:
        for parsed in _PARSERS[fmt](_lines(payload), gold=gold, label_keys=label_keys):
            if isinstance(parsed, Problem):
                problems.append(parsed)
            else:
                count += 1
                if count > MAX_IMPORT_ROWS:
                    raise Fatal(parsed.line, "too_many_rows", f"over {MAX_IMPORT_ROWS:,} items.", parsed.item)
                ext = parsed.external_id
                if ext is not None and ext in first_seen:
                    problems.append(Problem(parsed.line, "duplicate_external_id",
                                            f"external_id {ext!r} appears twice ({_both(first_seen[ext], parsed)}).",
                                            parsed.item))
                elif ext is not None:
                    first_seen[ext] = parsed
                if not problems:
                    rows.append(parsed)
            if len(problems) >= MAX_REPORTED_PROBLEMS:
                break
    except Fatal as fatal:
        problems.append(fatal.problem)
    if problems:
        raise InvalidImport.of(problems)
    if not rows:
        raise InvalidImport.of([Problem(1, "empty_file", "the file holds no items.")])
    return rows


def _both(first: ItemRow, again: ItemRow) -> str:
    """Where a repeated external_id is: "lines 2 and 4", or in a JSON array "items 3 and 7, line 1"."""
    if first.item is None or again.item is None:
        return f"lines {first.line} and {again.line}"
    lines = f"line {first.line}" if first.line == again.line else f"lines {first.line} and {again.line}"
    return f"items {first.item} and {again.item}, {lines}"


def predictions_parse(
    rows: Sequence[ItemRow], *, model: ModelName | None, label_keys: Sequence[str]
) -> list[PredictionRow | None]:
    """Each row's prediction, checked (None where it has none); InvalidImport naming the lines.

    Without a model named, a record's `prediction` is a problem (its votes would belong to no
    model) while a Label Studio task's prediction is dropped, as it always was."""
    problems: list[Problem] = []
    checked: list[PredictionRow | None] = []
    for row in rows:
        prediction = None
        if row.prediction_raw is not None and model is None:
            if not row.predicted_by_label_studio:
                message = ("the file has predictions: name the model that made them (model "
                           "and model_version, e.g. ?model=spam-bert&model_version=3).")
                raise InvalidImport.of([Problem(row.line, "missing_model", message, row.item)])
        elif row.prediction_raw is not None:
            try:
                prediction = prediction_check(*row.prediction_raw, label_keys=label_keys)
            except PredictionError as exc:
                problems.append(Problem(row.line, exc.reason, exc.message, row.item))
                if len(problems) >= MAX_REPORTED_PROBLEMS:
                    break
        checked.append(prediction)
    if problems:
        raise InvalidImport.of(problems)
    return checked


def items_import(
    *, job: Job, payload: Payload, fmt: str, gold: bool, model: ModelName | None = None
) -> int:
    """Import a whole file into `job`: every row or, on any problem, none (400 naming the line).

    Not atomic itself on purpose: parsing a large file must not hold the job lock. The insert
    (`item_bulk_create`) is one transaction that re-checks status, labels and external ids; the
    rows' predictions (by `model`) go in within it.
    """
    rows = rows_parse(payload=payload, fmt=fmt, gold=gold, label_keys=import_label_keys(job))
    predictions = predictions_parse(rows, model=model, label_keys=job.label_keys)
    try:
        with transaction.atomic():
            imported = item_bulk_create(job=job, rows=rows, gold=gold)
            if model is not None and any(p is not None for p in predictions):
                _predictions_save(job=job, model=model, gold=gold, predictions=predictions)
            return imported
    except ApplicationError as exc:
        # A line-level clash found under the lock (an external id already in the job) is still
        # a problem with the file; a Conflict (job closed) is not and keeps its own code.
        if type(exc) is not ApplicationError or "reason" not in exc.details:
            raise
        what = exc.message.split(": ", 1)[-1]  # without its "line N: " (or "item N (line N): ") prefix
        problem = Problem(exc.details.get("line"), exc.details["reason"], what, exc.details.get("item"))
        raise InvalidImport.of([problem]) from exc


def _predictions_save(
    *, job: Job, model: ModelName, gold: bool, predictions: list[PredictionRow | None]
) -> None:
    """Pair the items just made with their rows' predictions. The job lock item_bulk_create took
    is held until this transaction ends, so the job's newest items are this file's, and one
    session draws their ids in file order."""
    newest = Item.objects.filter(job=job, is_gold=gold).order_by("-id")[: len(predictions)]
    ids = sorted(newest.values_list("id", flat=True))
    kept = [(item_id, p) for item_id, p in zip(ids, predictions, strict=True) if p is not None]
    predictions_import(
        job=job, model=model, item_ids=[i for i, _ in kept], predictions=[p for _, p in kept]
    )
