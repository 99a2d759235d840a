"""Flows of qualifications that reach into jobs: a client's job gold copied into a qualification's
exam or training set (beside marketplace/flows.py, in the same layer: accounts sits below jobs,
so only a flow may read one and write the other)."""

from __future__ import annotations

from django.db import transaction

from marketplace.accounts import training
from marketplace.accounts.acting import client_action_check
from marketplace.accounts.models import Qualification, User
from marketplace.accounts.qualifications import exam_questions_add
from marketplace.errors import ApplicationError
from marketplace.jobs.requirements import job_gold_as_questions


def qualification_gold_copy(*, user: User, qualification: Qualification, job_id: int, training_set: bool) -> int:
    """Copy a job's gold items into a qualification's exam (the gold label becomes the answer) or
    its training set (with the gold explanation); the user must own both. All or none; returns
    how many were added."""
    client_action_check(user=user)
    job, rows = job_gold_as_questions(user=user, job_id=job_id)
    missing = {row["answer"] for row in rows} - {label["key"] for label in qualification.exam_labels}
    if missing:
        raise ApplicationError(
            f"The gold of “{job.title}” answers with labels this qualification lacks: "
            f"{', '.join(sorted(missing))}. Give the qualification those labels first."
        )
    with transaction.atomic():
        if training_set:
            return len(training.training_items_add(user=user, qualification=qualification, items=rows))
        questions = [{"data": row["data"], "answer": row["answer"]} for row in rows]
        return len(exam_questions_add(user=user, qualification=qualification, questions=questions))
