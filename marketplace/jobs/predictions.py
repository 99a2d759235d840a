"""A model's prediction for an item, checked: the same rules for imports and the API.

A prediction is a label of the job (`prediction`) and, optionally, every label's probability
(`prediction_probabilities`: a JSON object {"label key": number}; labels left out count as 0).
The probabilities must be finite, at least 0, and sum to 1 within PROBABILITY_TOLERANCE (a
model's rounded softmax output passes; a vector of scores does not). Given probabilities without
a label, the label is the most probable one (the first in the job's order on a tie).

A model is named by its client: `model` (name) and `model_version`, each short and plain.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.errors import ApplicationError
from marketplace.parsing import JsonRefused, json_loads

PROBABILITY_TOLERANCE = 0.01  # |sum - 1| allowed: four-decimal rounding of 50 labels passes
MAX_PREDICTIONS_PER_REQUEST = 10_000  # the API's batch; imports are bounded by their file size
MAX_MODEL_NAME = 100  # PredictionModel.name max_length
MAX_MODEL_VERSION = 50  # PredictionModel.version max_length
MAX_PROBABILITIES_CHARS = 10_000  # the JSON text of one CSV cell
_MODEL_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+\-]*")
PREDICTION_FIELDS = frozenset({"prediction", "prediction_probabilities"})


class PredictionError(Exception):
    """One prediction is wrong; importers report it with its line, the API with its index."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class PredictionRow:
    label: str
    probabilities: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class ModelName:
    name: str
    version: str


def model_name_check(name: Any, version: Any) -> ModelName:
    """The model named by an import option or an API body; ApplicationError (400) otherwise."""
    for value, what, most in ((name, "model", MAX_MODEL_NAME), (version, "model_version",
                                                                 MAX_MODEL_VERSION)):
        if not isinstance(value, str) or not value.strip():
            raise ApplicationError(
                f"{what} is required: name the model whose predictions these are.",
                details={"reason": f"missing_{what}"},
            )
        text = value.strip()
        if len(text) > most or not _MODEL_TEXT.fullmatch(text):
            raise ApplicationError(
                f"{what} must be 1 to {most} letters, digits, '_', '.', ':', '+' or '-', "
                "starting with a letter or digit.",
                details={"reason": f"invalid_{what}"},
            )
    return ModelName(name.strip(), version.strip())


def prediction_check(
    label: Any, probabilities: Any, *, label_keys: Sequence[str]
) -> PredictionRow | None:
    """One prediction from its raw `prediction` and `prediction_probabilities` values (None or
    "" when absent); None when neither is given. PredictionError names what is wrong.

    `probabilities` may be an object or, from a CSV cell, its JSON text.
    """
    label = None if label is None or (isinstance(label, str) and not label.strip()) else label
    if isinstance(probabilities, str):
        probabilities = _probabilities_text(probabilities)
    if label is None and probabilities is None:
        return None
    if label is not None:
        if not isinstance(label, str):
            raise PredictionError("invalid_prediction", "prediction must be a label key (a string).")
        label = label.strip()
        if label not in label_keys:
            raise PredictionError(
                "unknown_label",
                f"prediction {label!r} is not a label of the job "
                f"(expected one of {', '.join(label_keys)}).",
            )
    if probabilities is None:
        return PredictionRow(label=label)
    checked = _probabilities_check(probabilities, label_keys)
    if label is None:
        label = max(label_keys, key=lambda key: checked.get(key, 0.0))  # first of the ties
    return PredictionRow(label=label, probabilities=checked)


def _probabilities_text(text: str) -> Any:
    if not text.strip():
        return None
    if len(text) > MAX_PROBABILITIES_CHARS:
        message = f"prediction_probabilities is over {MAX_PROBABILITIES_CHARS:,} characters."
        raise PredictionError("invalid_probabilities", message)
    try:
        return json_loads(text)
    except JsonRefused as exc:
        raise PredictionError("invalid_probabilities", f"prediction_probabilities: {exc.message}")
    except ValueError:
        message = 'prediction_probabilities must be a JSON object, e.g. {"cat": 0.9, "dog": 0.1}.'
        raise PredictionError("invalid_probabilities", message) from None


def _probabilities_check(raw: Any, label_keys: Sequence[str]) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        message = 'prediction_probabilities must be a JSON object, e.g. {"cat": 0.9, "dog": 0.1}.'
        raise PredictionError("invalid_probabilities", message)
    if len(raw) > len(label_keys):
        message = f"prediction_probabilities has {len(raw)} labels; the job has {len(label_keys)}."
        raise PredictionError("too_many_probabilities", message)
    checked: dict[str, float] = {}
    for key, value in raw.items():
        if key not in label_keys:
            message = f"prediction_probabilities names {key!r}, not a label of the job."
            raise PredictionError("unknown_label", message)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            message = f"the probability of {key!r} must be a finite number, not {value!r}."
            raise PredictionError("invalid_probabilities", message)
        if value < 0 or value > 1:
            message = f"the probability of {key!r} is {value}, outside 0..1."
            raise PredictionError("invalid_probabilities", message)
        checked[key] = float(value)
    total = math.fsum(checked.values())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        message = (
            f"prediction_probabilities sum to {total:.4g}, not 1 "
            f"(within {PROBABILITY_TOLERANCE:g}): give probabilities, not scores."
        )
        raise PredictionError("probabilities_not_summing_to_one", message)
    return checked
