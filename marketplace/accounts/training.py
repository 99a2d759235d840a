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
from marketplace.accounts.qualifications import answer_row_check, check_may_manage, room_locked
from marketplace.errors import ApplicationError, NotFound

MAX_EXPLANATION_CHARS = 2000


@transaction.atomic
def training_items_add(
    *, user: User, qualification: Qualification, items: Sequence[Mapping[str, Any]]
) -> list[TrainingItem]:
    """Append practice items, each {"data": {...}, "answer": "<label key>", "explanation": "..."};
    all or none are added."""
    qualification, labels = room_locked(
        user=user, qualification=qualification, batch=items, field="items", noun="practice items",
        held=lambda q: q.training_items.count(), holder="A training set",
        no_labels="Give the qualification its labels before adding practice items.",
    )
    rows: list[TrainingItem] = []
    for position, raw in enumerate(items, start=1):
        data, answer = answer_row_check(
            raw, where=f"items[{position}]", extra=("explanation",), labels=labels, labels_name="the labels",
        )
        explanation = raw.get("explanation") or ""
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
