"""Flows: one user action that touches several apps, told top to bottom in one transaction.

Apps depend one way (accounts ← jobs ← labeling ← quality ← billing); a flow sits above them all
and calls each app's services in order, so no app imports a later one and no signal hides a step.
Views call a flow where an action crosses apps, and a service where it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from marketplace.accounts.models import User
from marketplace.labeling.models import Judgment
from marketplace.labeling.services import LeaseLost, judgment_submit_outcome, lease_mark_lost


@dataclass(frozen=True)
class WorkSubmitted:
    """What a worker's submit did, for the response."""

    judgment: Judgment
    created: bool  # False for a retried submit that returned the first answer
    feedback: dict[str, Any] | None  # a missed gold item's right answer, where the job shows it


def work_submit(*, worker: User, lease_id: int, label: str, seconds_spent: Any = None) -> WorkSubmitted:
    """A worker submits a label: count it, score it, act on quality rules, settle the item."""
    # Imported here: quality sits above labeling, and this module is imported by labeling's API.
    from marketplace.quality import overlap, services as quality, tasks

    try:
        with transaction.atomic():
            judge = overlap.OverlapJudge()
            submission = judgment_submit_outcome(
                worker=worker, lease_id=lease_id, label=label, seconds_spent=seconds_spent,
                more_wanted=judge.more_wanted,
            )
            if submission.created:
                # Gold score, quality rules (blocks drop judgments and reopen items), answer speed.
                assessment = quality.judgment_assess(judgment=submission.judgment)
                # Items that hit maximum overlap still uncertain go to expert review.
                judge.queue_uncertain()
                tasks.consensus_after_submit(submission=submission)
                feedback = assessment.feedback
            else:
                feedback = quality.gold_feedback_for(judgment=submission.judgment)
    except LeaseLost:
        # The refusal rolled the transaction back; record the lost lease on its own.
        lease_mark_lost(worker=worker, lease_id=lease_id)
        raise
    return WorkSubmitted(judgment=submission.judgment, created=submission.created, feedback=feedback)
