"""Label Studio's task JSON, both ways: a task in becomes an ItemRow, a result out becomes a task.

A Label Studio task is `{"data": {...}, "predictions": [...], "annotations": [...], "meta": ...}`;
each prediction or annotation holds a `result` list, and a classification answer is a result of
type "choices" whose `value.choices` lists the chosen values.

What an import keeps, and why:
- `data` becomes the item's data, as it is.
- `meta.external_id` (what Quorum's own export writes) or else the task's `id` becomes the
  external id, so results can be matched back to the Label Studio project. Quorum's own record
  fields (`external_id`, `priority`, and for gold `label`, `explanation`) are read as in JSON.
- Predictions are checked for shape. When the import names a model (`model`, `model_version`),
  the first prediction with a single choice becomes that model's prediction for the item (a
  vote in consensus, never shown to workers: it would anchor their independent judgments);
  Label Studio's one `score` is not a per-label probability and is not kept. Without a model
  named, predictions are dropped as before.
- Annotations are human answers. Imported as gold (the client says so by importing into the gold
  endpoint), the first annotation that was not cancelled and has one choice gives the gold label;
  imported as plain items they are dropped like predictions, because a single annotator's answer
  is not a known label and a worker must not see it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from marketplace.errors import ApplicationError
from marketplace.jobs.importing_rows import RowError, reserved_fields, row_check
from marketplace.jobs.services import ItemRow

# Per task: enough for several models and annotators, bounded so one task cannot hold thousands.
MAX_TASK_ANSWERS = 50  # predictions plus annotations
MAX_RESULTS_PER_ANSWER = 50
DEFAULT_FROM_NAME = "label"
DEFAULT_TO_NAME = "text"
_CONTROL_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_CHOICES = "choices"


def is_task(obj: Any) -> bool:
    """The shape of a Label Studio task: `data` is an object beside predictions or annotations."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("data"), dict)
        and ("predictions" in obj or "annotations" in obj)
    )


def task_row(obj: Any, line: int, *, gold: bool, label_keys: Sequence[str]) -> ItemRow:
    """One Label Studio task as an ItemRow; RowError (a 400 naming the line) for any other shape."""
    if not isinstance(obj, dict):
        raise RowError("not_a_task", "a Label Studio task is an object with a 'data' object.")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise RowError("not_a_task", "a Label Studio task needs 'data' holding an object.")
    predictions = _answers(obj, "predictions")
    annotations = _answers(obj, "annotations")
    if len(predictions) + len(annotations) > MAX_TASK_ANSWERS:
        message = f"over {MAX_TASK_ANSWERS} predictions and annotations in one task."
        raise RowError("too_many_answers", message)
    # Quorum's own fields, when a task has them, win: a JSON import that merely looks like a task
    # (data beside an "annotations" key) keeps its external_id, priority and gold label.
    fields = {key: value for key, value in obj.items() if key in reserved_fields(gold)}
    if fields.get("external_id") is None:
        fields["external_id"] = _external_id(obj)
    if gold and fields.get("label") is None:
        fields["label"] = _annotated_label(annotations, task=fields["external_id"])
    # Plain items' annotations are dropped on purpose: see the module docstring.
    row = row_check(line, data, fields, gold=gold, label_keys=label_keys)
    if row.prediction_raw is not None:
        return row  # Quorum's own `prediction` field wins, as its other fields do
    predicted = _predicted_label(predictions)
    if predicted is None:
        return row
    return replace(row, prediction_raw=(predicted, None), predicted_by_label_studio=True)


def _predicted_label(predictions: list[list[dict[str, Any]]]) -> str | None:
    """The first prediction's single choice (a classification result), if any."""
    for result in predictions:
        for region in result:
            if region.get("type") == _CHOICES and len(region["value"][_CHOICES]) == 1:
                return str(region["value"][_CHOICES][0])
    return None


def _answers(obj: dict[str, Any], key: str) -> list[list[dict[str, Any]]]:
    """The `result` lists of the task's predictions or annotations, each checked for shape."""
    raw = obj.get(key, [])
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RowError("not_a_task", f"'{key}' must be a list of objects with a 'result' list.")
    results = []
    for answer in raw:
        if not isinstance(answer, dict) or not isinstance(answer.get("result", []), list):
            raise RowError("not_a_task", f"'{key}' must be a list of objects with a 'result' list.")
        if answer.get("was_cancelled") is True:
            continue
        result = answer.get("result", [])
        if len(result) > MAX_RESULTS_PER_ANSWER:
            message = f"an entry of '{key}' has over {MAX_RESULTS_PER_ANSWER} results."
            raise RowError("too_many_results", message)
        for region in result:
            _region_check(region, key)
        results.append(result)
    return results


def _region_check(region: Any, key: str) -> None:
    if not isinstance(region, dict) or not isinstance(region.get("value", {}), dict):
        raise RowError("not_a_task", f"each result in '{key}' must be an object with a 'value' object.")
    if region.get("type") == _CHOICES:
        choices = region.get("value", {}).get(_CHOICES)
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            message = f"a choices result in '{key}' needs value.choices, a list of strings."
            raise RowError("not_a_task", message)


def _annotated_label(annotations: list[list[dict[str, Any]]], *, task: Any) -> str | None:
    """The first annotation's single choice, or None (row_check then says the label is missing).
    `task` (its external id, if any) names the task in an error beside the importer's line."""
    for result in annotations:
        for region in result:
            if region.get("type") != _CHOICES:
                continue
            choices = region["value"][_CHOICES]
            named = "" if task is None else f" {str(task)[:100]!r}"
            if not choices:  # submitted in Label Studio without a choice ticked
                message = (f"the gold task{named}'s annotation has no choice selected; choose its "
                           "label in Label Studio, or give the task a 'label'.")
                raise RowError("missing_label", message)
            if len(choices) != 1:
                message = f"the gold task{named}'s annotation chooses several labels; give it exactly one."
                raise RowError("ambiguous_label", message)
            return choices[0]
    return None


def _external_id(obj: dict[str, Any]) -> Any:
    meta = obj.get("meta")
    if isinstance(meta, dict) and meta.get("external_id") is not None:
        return meta["external_id"]
    task_id = obj.get("id")
    return None if isinstance(task_id, bool) else task_id  # row_check refuses other types


def control_name_check(value: str | None, *, name: str, default: str) -> str:
    """A from_name/to_name of the export: the names of the Choices and Text tags in the
    Label Studio project's labeling config. Refused unless short and plain."""
    if value is None or value == "":
        return default
    if not _CONTROL_NAME.fullmatch(value):
        raise ApplicationError(
            f"{name} must be 1 to 100 letters, digits, '_', '-' or '.'.",
            details={"reason": f"invalid_{name}"},
        )
    return value


def result_task(record: dict[str, Any], *, from_name: str, to_name: str) -> dict[str, Any]:
    """A results-export record (see jobs.exporting) as a Label Studio task with its annotation.

    An item without a consensus label yet has no annotation; its confidence, judgment count and
    Quorum ids go in `meta`, which Label Studio keeps and shows beside the task.
    """
    label = record.get("consensus_label")
    annotations = []
    if label is not None:
        region = {"from_name": from_name, "to_name": to_name, "type": _CHOICES,
                  "value": {_CHOICES: [label]}, "origin": "manual"}
        annotations.append({"result": [region], "ground_truth": False, "was_cancelled": False})
    meta = {name: record.get(name) for name in ("external_id", "confidence", "judgment_count")}
    meta["quorum_item_id"] = record["item_id"]
    if "source" in record:
        meta["source"] = record["source"]
    return {"data": record["data"], "annotations": annotations, "meta": meta}


