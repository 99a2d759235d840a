"""Exam questions and practice items from a file a person uploads: CSV or JSONL.

CSV: a header row; the `answer` column (or `label`) holds the right label's key, an optional
`explanation` column says why, and every other column is item data (`text`, `image_url`, ...).
JSONL: one object a line, either {"data": {...}, "answer": "...", "explanation": "..."} or flat
({"text": "...", "answer": "..."}: every key but answer/label/explanation is data).

Parsing is all or nothing: the first problem is raised as one ApplicationError naming its line,
and the caller has saved nothing yet. Pure apart from the error type: no database.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from marketplace.errors import ApplicationError
from marketplace.parsing import JsonRefused, json_loads

MAX_FILE_BYTES = 1024 * 1024  # 1 MB: hundreds of questions with long texts
MAX_ROWS = 500  # = qualifications.MAX_QUESTIONS_PER_CALL: one file is one all-or-nothing call
MAX_CELL_CHARS = 10_000
ANSWER_KEYS = ("answer", "label")
FORMATS = ("csv", "jsonl")


def format_from_name(name: str) -> str | None:
    extension = (name or "").lower().rsplit(".", 1)[-1] if "." in (name or "") else ""
    return {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}.get(extension)


def _row(fields: dict[str, Any], line: int, labels: frozenset[str]) -> dict[str, Any]:
    """A flat record -> {"data", "answer", "explanation"}."""
    answer = next((fields[k] for k in ANSWER_KEYS if k in fields), None)
    if not isinstance(answer, str) or not answer.strip():
        raise ApplicationError(f"line {line}: no answer (an `answer` column or key with a label key).")
    if labels and answer.strip() not in labels:
        raise ApplicationError(
            f"line {line}: the answer {answer.strip()[:64]!r} is not one of the labels: {', '.join(sorted(labels))}."
        )
    explanation = fields.get("explanation") or ""
    if not isinstance(explanation, str):
        raise ApplicationError(f"line {line}: explanation must be text.")
    data = {k: v for k, v in fields.items() if k not in (*ANSWER_KEYS, "explanation")}
    if not data:
        raise ApplicationError(f"line {line}: no item data besides the answer (add a `text` column).")
    for key, value in data.items():
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            raise ApplicationError(f"line {line}: {key} is over {MAX_CELL_CHARS:,} characters.")
    return {"data": data, "answer": answer.strip(), "explanation": explanation.strip()}


def _csv_rows(text: str, labels: frozenset[str]) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ApplicationError("The file is empty: a CSV needs a header row and one row per question.")
    names = [h.strip() for h in header]
    if len(set(names)) != len(names) or "" in names:
        raise ApplicationError("line 1: every column needs a name of its own.")
    rows = []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(names):
            raise ApplicationError(f"line {line}: {len(record)} cells under {len(names)} columns.")
        rows.append(_row(dict(zip(names, record, strict=True)), line, labels))
        if len(rows) > MAX_ROWS:
            raise ApplicationError(f"The file holds over {MAX_ROWS} questions; split it.")
    return rows


def _jsonl_rows(text: str, labels: frozenset[str]) -> list[dict[str, Any]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json_loads(raw)
        except JsonRefused as exc:
            raise ApplicationError(f"line {line}: {exc.message}") from None
        except json.JSONDecodeError as exc:
            raise ApplicationError(f"line {line}: not JSON ({exc.msg}).") from None
        if not isinstance(record, dict):
            raise ApplicationError(f"line {line}: each line must be a JSON object.")
        if isinstance(record.get("data"), dict):
            extra = set(record) - {"data", *ANSWER_KEYS, "explanation"}
            if extra:
                raise ApplicationError(f"line {line}: unknown keys beside data: {', '.join(sorted(extra))[:200]}.")
            record = {**record["data"], **{k: v for k, v in record.items() if k != "data"}}
        rows.append(_row(record, line, labels))
        if len(rows) > MAX_ROWS:
            raise ApplicationError(f"The file holds over {MAX_ROWS} questions; split it.")
    return rows


def exam_file_parse(
    *, payload: bytes, fmt: str | None, labels: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The rows of an uploaded file as [{"data", "answer", "explanation"}], or one ApplicationError.
    With `labels`, an answer outside them is refused naming its line (the services check again)."""
    if fmt not in FORMATS:
        raise ApplicationError("Upload a .csv or .jsonl file (or choose the format).")
    if len(payload) > MAX_FILE_BYTES:
        raise ApplicationError(f"The file is over {MAX_FILE_BYTES // 1024} KB; split it.")
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApplicationError("The file is not UTF-8 text.") from None
    if "\x00" in text:
        raise ApplicationError("The file holds NUL characters; it is not a text file.")
    try:
        rows = _csv_rows(text, labels) if fmt == "csv" else _jsonl_rows(text, labels)
    except csv.Error as exc:
        raise ApplicationError(f"The CSV cannot be read: {exc}.") from None
    if not rows:
        raise ApplicationError("The file holds no questions.")
    return rows
