"""What a client may set on a job, checked and normalized: the fields of job_create and
job_update (jobs.services), the label set, and the quality-rule overrides with their bounds."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from marketplace.errors import ApplicationError
from marketplace.jobs.markdown import instructions_check, instructions_render
from marketplace.jobs.models import DEFAULT_TIER
from marketplace.jobs.predictions import ModelName, model_name_check
from marketplace.labelsets import label_set_validate
from marketplace.limits import MAX_OVERLAP, MAX_PAY_PER_JUDGMENT, MIN_PAY_PER_JUDGMENT, MAX_TITLE_CHARS
from marketplace.money import RATE_PLACES
from marketplace.names import name_clean
from marketplace.parsing import decimal_plain

# Fields a client may set when creating a job or editing a draft.
EDITABLE_FIELDS = (
    "title", "instructions", "labels", "overlap", "reward_per_judgment",
    "tier", "gold_rate", "lease_seconds", "priority",
    "max_overlap", "target_confidence", "quality_rules", "worker_fields", "show_prelabels", "multi_label",
)
# The item data fields a job shows workers (Job.worker_fields): how many, and how long a name.
MAX_WORKER_FIELDS = 100
MAX_FIELD_NAME_CHARS = 100
# Quality-rule overrides a job may carry: name -> (kind, low, high). Defaults come from the
# job's tier (quality.rules); these only bound what a client may ask for.
QUALITY_RULE_BOUNDS: dict[str, tuple[str, Any, Any]] = {
    "min_gold_answers": ("int", 1, 1000),  # gold answers seen before the accuracy floor applies
    "gold_accuracy_floor": ("decimal", Decimal("0"), Decimal("1")),  # smoothed accuracy to stay
    "fast_window": ("int", 3, 200),  # judgments whose median answer time is checked
    "fast_seconds": ("decimal", Decimal("0"), Decimal("3600")),  # median under this is flagged
    "gold_feedback": ("bool", None, None),  # show the right answer after a missed gold item
}


def prelabels_validate(value: Any) -> ModelName | None:
    """`show_prelabels`: null (off, the default) or {"model", "model_version"}, the model version
    whose label workers see as a suggestion."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"model", "model_version"}:
        raise ApplicationError(
            'show_prelabels must be null (off) or {"model": ..., "model_version": ...}.',
            details={"reason": "invalid_show_prelabels"},
        )
    return model_name_check(value.get("model"), value.get("model_version"))


def labels_validate(labels: Any) -> list[dict[str, str]]:
    """A job's label set, normalized (see marketplace.labelsets)."""
    return label_set_validate(labels, field="labels")


def decimal_clean(value: Any, name: str, *, places: int, low: Decimal, high: Decimal) -> Decimal:
    """A decimal within [low, high] with at most `places` places, or ApplicationError naming it."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApplicationError(f"{name} must be a decimal number.") from None
    if not number.is_finite() or not (low <= number <= high):
        raise ApplicationError(f"{name} must be between {low} and {high}.")
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise ApplicationError(f"{name} has at most {places} decimal places.")
    return number


def _pay_clean(value: Any) -> Decimal:
    """reward_per_judgment: a Decimal with at most 4 places, from MIN_PAY_PER_JUDGMENT up. Money:
    text a person sent is read in plain digits only (parsing.decimal_plain: "1E2" is not 100)."""
    if isinstance(value, str):
        pay = decimal_plain(value, "reward_per_judgment", places=RATE_PLACES, most=MAX_PAY_PER_JUDGMENT,
                            example="0.02")
    else:  # a Decimal or an int from code (the wizard passes the tier's pay)
        pay = decimal_clean(value, "reward_per_judgment", places=RATE_PLACES, low=Decimal("0"),
                            high=MAX_PAY_PER_JUDGMENT)
    if pay < MIN_PAY_PER_JUDGMENT:
        raise ApplicationError(
            f"reward_per_judgment must be at least {MIN_PAY_PER_JUDGMENT}: workers earn it per accepted "
            f"judgment, and this job would pay {pay}.",
            details={"reward_per_judgment": [f"at least {MIN_PAY_PER_JUDGMENT}"]},
        )
    return pay


def _int(value: Any, name: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ApplicationError(f"{name} must be a whole number.")
    try:
        number = int(value)
    except ValueError:
        raise ApplicationError(f"{name} must be a whole number.") from None
    if not (low <= number <= high):
        raise ApplicationError(f"{name} must be between {low} and {high}.")
    return number


def fields_clean(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields a job is created or edited with, each checked and normalized (ApplicationError
    names the first one that is not)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(
            f"Unknown job fields: {', '.join(sorted(unknown))}.",
            details={name: "unknown" for name in sorted(unknown)[:50]},
        )
    clean: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "title":
            clean[name] = name_clean(value, field="title", max_chars=MAX_TITLE_CHARS)
        elif name == "instructions":
            if not isinstance(value, str | None):
                raise ApplicationError("instructions must be text (Markdown).")
            clean[name] = instructions_check(value or "")
            clean["instructions_html"] = instructions_render(clean[name])
        elif name == "labels":
            clean[name] = labels_validate(value)
        elif name == "overlap":
            clean[name] = _int(value, name, low=1, high=MAX_OVERLAP)
        elif name == "lease_seconds":
            clean[name] = _int(value, name, low=10, high=24 * 3600)
        elif name == "priority":
            clean[name] = _int(value, name, low=-100, high=100)
        elif name == "reward_per_judgment":
            clean[name] = _pay_clean(value)
        elif name == "gold_rate":
            clean[name] = decimal_clean(value, name, places=4, low=Decimal("0"), high=Decimal("0.5"))
        elif name == "max_overlap":
            clean[name] = None if value is None else _int(value, name, low=1, high=MAX_OVERLAP)
        elif name == "target_confidence":
            clean[name] = (
                None if value is None
                else decimal_clean(value, name, places=4, low=Decimal("0.5001"), high=Decimal("0.9999"))
            )
        elif name == "multi_label":
            if not isinstance(value, bool):
                raise ApplicationError("multi_label must be true or false.")
            clean[name] = value
        elif name == "quality_rules":
            clean[name] = quality_rules_validate(value)
        elif name == "worker_fields":
            clean[name] = worker_fields_validate(value)
        elif name == "show_prelabels":
            clean[name] = prelabels_validate(value)
        elif name == "tier":
            tier = (value or DEFAULT_TIER).strip() if isinstance(value, str | None) else ""
            if not re.fullmatch(r"[a-z0-9-]{1,40}", tier):
                raise ApplicationError("tier must be a tier slug such as 'standard'.")
            clean[name] = tier
    return clean


def quality_rules_validate(rules: Any) -> dict[str, Any]:
    """A job's quality-rule overrides, checked against QUALITY_RULE_BOUNDS (JSON-safe values)."""
    if not isinstance(rules, dict):
        raise ApplicationError("quality_rules must be an object.")
    unknown = set(rules) - set(QUALITY_RULE_BOUNDS)
    if unknown:
        raise ApplicationError(
            f"Unknown quality rules: {', '.join(sorted(unknown))}; "
            f"use {', '.join(QUALITY_RULE_BOUNDS)}."
        )
    clean: dict[str, Any] = {}
    for name, value in rules.items():
        kind, low, high = QUALITY_RULE_BOUNDS[name]
        if kind == "bool":
            if not isinstance(value, bool):
                raise ApplicationError(f"quality_rules.{name} must be true or false.")
            clean[name] = value
        elif kind == "int":
            clean[name] = _int(value, f"quality_rules.{name}", low=low, high=high)
        else:
            clean[name] = str(decimal_clean(value, f"quality_rules.{name}", places=4, low=low, high=high))
    return clean


def worker_fields_validate(fields: Any) -> list[str]:
    """The item data fields workers see: a list of distinct field names (empty: every field)."""
    if fields is None:
        return []
    if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
        raise ApplicationError("worker_fields must be a list of item data field names.")
    if len(fields) > MAX_WORKER_FIELDS:
        raise ApplicationError(f"worker_fields names at most {MAX_WORKER_FIELDS} fields.")
    clean: list[str] = []
    for name in fields:
        name = name.strip()
        if not name or len(name) > MAX_FIELD_NAME_CHARS:
            raise ApplicationError(f"Each of worker_fields is a field name of 1 to {MAX_FIELD_NAME_CHARS} characters.")
        if name not in clean:
            clean.append(name)
    return clean


def item_data_for_workers(data: Any, fields: list[str] | None) -> Any:
    """What a worker is shown of an item's data: only the job's worker_fields, in the item's own
    order (every field when the job names none, or when the data is not an object)."""
    if not fields or not isinstance(data, dict):
        return data
    shown = set(fields)
    return {key: value for key, value in data.items() if key in shown}
