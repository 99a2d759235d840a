"""The importer's row primitives, shared by every format: problems, errors and the check that
turns one record (data + reserved fields) into an ItemRow. See jobs.importing for the story."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.errors import ApplicationError
from marketplace.jobs.predictions import PREDICTION_FIELDS
from marketplace.jobs.services import ItemRow, MultiLabelKeys, row_place
from marketplace.limits import MAX_DATA_FIELD_CHARS, MAX_ITEM_DATA_CHARS

MAX_EXTERNAL_ID = 200  # Item.external_id max_length
PRIORITY_RANGE = (-32768, 32767)  # Item.priority is a SmallIntegerField
NUL = "\x00"
NUL_MESSAGE = "the record contains a NUL character (\\u0000), which cannot be stored."
FIELD_TOO_LONG = f"a data field is over {MAX_DATA_FIELD_CHARS:,} characters."
ITEM_TOO_LARGE = f"the item's data is over {MAX_ITEM_DATA_CHARS:,} characters as JSON; split it or link to it."

RESERVED = frozenset({"external_id", "priority"}) | PREDICTION_FIELDS
GOLDRESERVED = RESERVED | {"label", "explanation"}

Lines = Iterator[tuple[int, str]]


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None
    reason: str  # a stable code for programs: unknown_label, malformed_json, ...
    message: str  # for people, without the "line N: " prefix
    item: int | None = None  # in a JSON array: the element, from 1 (a one-line array is all line 1)

    @property
    def text(self) -> str:
        if self.line is None and self.item is None:
            return self.message
        return f"{row_place(self.line, self.item)}: {self.message}"

    def of_item(self, item: int) -> Problem:
        return Problem(self.line, self.reason, self.message, item)


class InvalidImport(ApplicationError):
    """The file cannot be imported as it is; details name the first bad line and why."""

    code = "invalid_import"

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> InvalidImport:
        first = problems[0]
        errors = [{"line": p.line, "item": p.item, "reason": p.reason, "message": p.text} for p in problems]
        details = {"line": first.line, "item": first.item, "reason": first.reason, "errors": errors}
        return cls(first.text, details=details)


Parsed = Iterator[ItemRow | Problem]


class Fatal(Exception):
    """Parsing cannot go on past this problem (broken structure, bad encoding, too large)."""

    def __init__(self, line: int | None, reason: str, message: str, item: int | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(line, reason, message, item)

    @classmethod
    def of(cls, problem: Problem) -> Fatal:
        return cls(problem.line, problem.reason, problem.message, problem.item)


class RowError(Exception):
    """One record is wrong; the parser reports it with its line and carries on."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def text_field(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise RowError(f"invalid_{name}", f"{name} must be a string, not {type(value).__name__}.")


def row_check(line: int, data: dict[str, Any], fields: dict[str, Any], *, gold: bool,
         label_keys: Sequence[str]) -> ItemRow:
    """Check one record (data + reserved fields, the same for every format); build its ItemRow."""
    if not data:
        raise RowError("empty_data", "the item has no data: give it at least one field.")
    # Measured as stored (JSON text, C speed): about 1 µs per 300 characters, so every format pays
    # it; what it holds back is an item every worker given it would have to download whole.
    if len(json.dumps(data, ensure_ascii=False)) > MAX_ITEM_DATA_CHARS:
        raise RowError("item_too_large", ITEM_TOO_LARGE)
    raw_id, raw_priority = fields.get("external_id"), fields.get("priority")
    external_id = None if raw_id is None else text_field(raw_id, "external_id").strip() or None
    if external_id is not None and len(external_id) > MAX_EXTERNAL_ID:
        raise RowError("invalid_external_id", f"external_id is over {MAX_EXTERNAL_ID} characters.")
    priority = 0
    if raw_priority not in (None, ""):
        low, high = PRIORITY_RANGE
        text = text_field(raw_priority, "priority").strip()
        if not re.fullmatch(r"-?\d{1,6}", text) or not low <= int(text) <= high:
            message = f"priority {raw_priority!r} is not a whole number from {low} to {high}."
            raise RowError("invalid_priority", message)
        priority = int(text)
    label, explanation, labels = None, "", None
    if gold and isinstance(label_keys, MultiLabelKeys):
        label, labels = "", gold_set_check(fields.get("label"), label_keys)
        raw_explanation = fields.get("explanation")
        explanation = "" if raw_explanation is None else text_field(raw_explanation, "explanation")
    elif gold:
        raw_label, raw_explanation = fields.get("label"), fields.get("explanation")
        label = None if raw_label is None else text_field(raw_label, "label").strip()
        if not label:
            raise RowError("missing_label", "a gold item needs its known label.")
        if label not in label_keys:
            message = f"unknown label {label!r} (expected one of {', '.join(label_keys)})"
            raise RowError("unknown_label", message)
        explanation = "" if raw_explanation is None else text_field(raw_explanation, "explanation")
    raw_prediction = fields.get("prediction"), fields.get("prediction_probabilities")
    given = any(value not in (None, "") for value in raw_prediction)
    return ItemRow(data=data, external_id=external_id, priority=priority, gold_label=label,
                   gold_labels=labels, explanation=explanation, line=line,
                   prediction_raw=raw_prediction if given else None)


def reserved_fields(gold: bool) -> frozenset[str]:
    return GOLDRESERVED if gold else RESERVED




def gold_set_check(raw: Any, label_keys: Sequence[str]) -> list[str]:
    """A multi-label gold item's set: a JSON list, or text with the keys split by "|" (CSV);
    empty means no label applies. Returned in the job's label order."""
    if raw is None:
        raise RowError("missing_label", "a gold item needs its known labels (empty: none applies).")
    if isinstance(raw, list):
        if not all(isinstance(key, str) for key in raw):
            raise RowError("unknown_label", "a gold item's labels must be label keys.")
        keys = [key.strip() for key in raw]
    else:
        text = text_field(raw, "label").strip()
        keys = [key.strip() for key in text.split("|")] if text else []
    unknown = [key for key in keys if key not in label_keys]
    if unknown:
        message = f"unknown label {unknown[0][:64]!r} (expected some of {', '.join(label_keys)})"
        raise RowError("unknown_label", message)
    if len(set(keys)) != len(keys):
        raise RowError("unknown_label", "a gold item names a label twice.")
    return [key for key in label_keys if key in keys]
