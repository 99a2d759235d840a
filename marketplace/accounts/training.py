"""Writes on a qualification's training set: practice items with the right answer and an explanation.

A worker practises before the exam. Nothing is scored or stored: after each answer the page
shows right or wrong, the right answer and why. Training answers are public by design, which is
why they are separate rows from the exam's questions (whose answers never leave the server).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from marketplace.accounts.models import Qualification, TrainingItem, User
from marketplace.accounts.qualifications import (
    MAX_QUESTIONS_PER_CALL,
    MAX_QUESTIONS_PER_EXAM,
    check_may_manage,
)
from marketplace.errors import ApplicationError, NotFound

MAX_EXPLANATION_CHARS = 2000


@transaction.atomic
def training_items_add(
    *, user: User, qualification: Qualification, items: Sequence[Mapping[str, Any]]
) -> list[TrainingItem]:
    """Append practice items, each {"data": {...}, "answer": "<label key>", "explanation": "..."};
    all or none are added."""
    check_may_manage(user=user, qualification=qualification)
    # Why: two uploads at once would each see room under the cap; the row lock serializes them.
    qualification = Qualification.objects.select_for_update().get(pk=qualification.pk)
    labels = {label["key"] for label in qualification.exam_labels}
    if not labels:
        raise ApplicationError("Give the qualification its labels before adding practice items.")
    if not isinstance(items, list | tuple) or not 1 <= len(items) <= MAX_QUESTIONS_PER_CALL:
        raise ApplicationError(f"items must be a list of 1 to {MAX_QUESTIONS_PER_CALL} practice items.")
    held = qualification.training_items.count()
    if held + len(items) > MAX_QUESTIONS_PER_EXAM:
        raise ApplicationError(
            f"A training set holds at most {MAX_QUESTIONS_PER_EXAM} items; this one has {held}."
        )
    rows: list[TrainingItem] = []
    for position, raw in enumerate(items, start=1):
        if not isinstance(raw, Mapping) or set(raw) - {"data", "answer", "explanation"}:
            raise ApplicationError(f"items[{position}] must be an object with data, answer and explanation.")
        data, answer = raw.get("data"), raw.get("answer")
        explanation = raw.get("explanation") or ""
        if not isinstance(data, dict) or not data:
            raise ApplicationError(f"items[{position}].data must be a non-empty object.")
        if not isinstance(answer, str) or answer not in labels:
            raise ApplicationError(
                f"items[{position}].answer must be one of the labels: {', '.join(sorted(labels))}."
            )
        if not isinstance(explanation, str) or len(explanation) > MAX_EXPLANATION_CHARS:
            raise ApplicationError(
                f"items[{position}].explanation must be text of at most {MAX_EXPLANATION_CHARS} characters."
            )
        rows.append(TrainingItem(qualification=qualification, data=data, answer=answer,
                                 explanation=explanation.strip()))
    return TrainingItem.objects.bulk_create(rows)


@transaction.atomic
def training_item_remove(*, user: User, qualification: Qualification, item_id: int) -> None:
    check_may_manage(user=user, qualification=qualification)
    deleted, _ = TrainingItem.objects.filter(pk=item_id, qualification=qualification).delete()
    if not deleted:
        raise NotFound("No such practice item in this training set.")
