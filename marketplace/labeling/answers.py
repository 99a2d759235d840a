"""What a worker sends as an answer, checked against the job's label set: one label on a
single-label job, a set (any subset, the empty one included) on a multi-label job. Pure checks;
the submit (labeling/submitting.py) saves what they return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.errors import ApplicationError
from marketplace.labeling.models import Judgment


@dataclass(frozen=True)
class Sent:
    """What the worker sent: `label` (single-label jobs) or `labels` (multi-label ones)."""

    label: str | None
    labels: list[str] | None


@dataclass(frozen=True)
class Answer:
    """A checked answer: the label of a single-label job, or the set (in the job's label order)
    of a multi-label one, whose `label` is "" (Judgment.label is not null)."""

    label: str
    labels: list[str] | None = None


def answer_check(sent: Sent, *, choices: list[dict[str, Any]], multi: bool) -> Answer:
    """The answer, or ApplicationError (400, the caller's transaction saves nothing)."""
    keys = [choice["key"] for choice in choices]
    if not multi:
        if sent.labels is not None:
            raise ApplicationError(
                "This job takes one label per item: send `label`, not `labels`.",
                details={"field": "labels"},
            )
        _label_check(label=sent.label or "", keys=keys)
        return Answer(label=sent.label or "")
    if sent.label is not None:
        raise ApplicationError(
            "This job is multi-label: send `labels`, a list of the labels that apply (may be empty).",
            details={"field": "label"},
        )
    if not isinstance(sent.labels, list) or not all(isinstance(key, str) for key in sent.labels):
        raise ApplicationError("labels must be a list of label keys.", details={"field": "labels"})
    for key in sent.labels:
        _label_check(label=key, keys=keys)
    if len(set(sent.labels)) != len(sent.labels):
        raise ApplicationError("A label is sent twice; send each label once.", details={"labels": sent.labels})
    chosen = set(sent.labels)
    return Answer(label="", labels=[key for key in keys if key in chosen])


def _label_check(*, label: str, keys: list[str]) -> None:
    if label not in keys:
        raise ApplicationError(
            f"Unknown label {label!r}; choose one of {', '.join(keys)}.",
            details={"label": label, "choices": keys},
        )


def labels_save(judgment: Judgment, answer: Answer) -> None:
    """A multi-label judgment's set: one more statement, on multi-label jobs only (the insert
    statements, shared with single-label jobs, stay as they are)."""
    judgment.labels = answer.labels
    if answer.labels is not None:
        Judgment.objects.filter(pk=judgment.pk).update(labels=answer.labels)
