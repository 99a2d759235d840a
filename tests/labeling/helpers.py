"""Helpers for the labeling tests. The cast (wendy, walter...) comes from tests/conftest.py."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import judgment_submit, lease_claim


def expire(lease: Lease) -> None:
    """Let the lease's time run out, as if the worker walked away for longer than lease_seconds."""
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def judge(worker: User, job: Job, label: str = "cat") -> Judgment:
    """One next-item + submit cycle."""
    lease = lease_claim(worker=worker, job=job)
    return judgment_submit(worker=worker, lease_id=lease.pk, label=label)


def judge_all(worker: User, job: Job, label: str = "cat") -> list[Judgment]:
    """Keep taking and submitting items until the job has nothing left for this worker."""
    judgments = []
    for _ in range(10_000):
        try:
            judgments.append(judge(worker, job, label))
        except NothingLeft:
            return judgments
    raise AssertionError("the worker never ran out of work")
