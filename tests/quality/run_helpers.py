"""Helpers for the consensus-run tests: a job judged through the real claim and submit services."""

from __future__ import annotations

from django.test import TestCase

from marketplace.accounts.models import User
from marketplace.errors import NothingLeft
from marketplace.flows import work_submit
from marketplace.jobs.models import Job
from marketplace.labeling.services import lease_claim
from tests.factories import WorkerFactory, open_job_with_items


def submit(worker: User, job: Job, label: str) -> None:
    """One next-item + submit cycle through the submit flow (quality steps included)."""
    lease = lease_claim(worker=worker, job=job)
    # Run what the submit schedules on commit (tests run inline, inside one transaction).
    with TestCase.captureOnCommitCallbacks(execute=True):
        work_submit(worker=worker, lease_id=lease.pk, label=label)


def judged_job(
    *,
    items: int = 4,
    gold: int = 0,
    answers: tuple[str, ...] = ("cat", "cat", "dog"),
    **fields: object,
) -> Job:
    """A job whose items (and gold items) each got one judgment from every worker in `answers`:
    worker k answers `answers[k]` everywhere. Gold items' answer is "cat"."""
    job = open_job_with_items(items=items, gold=gold, overlap=len(answers), **fields)
    for k, label in enumerate(answers):
        worker = WorkerFactory()
        for _ in range(10 * (items + gold)):
            try:
                submit(worker, job, label)
            except NothingLeft:
                break
    job.refresh_from_db()
    return job
