"""A job for the data browser tests: eight items, four workers, a consensus run.

Items i0..i5 are judged by three workers each; answers are chosen per item so the run gives a
range of confidence and agreement: i0, i1 all "cat"; i2 two "cat" one "dog"; i3 "dog" twice and
"cat" once; i4 three different labels; i5 all "bird". i6 and i7 are untouched, so the job stays
open. One gold item (g0, answer cat) is never served (the job's gold rate is 0).
"""

from __future__ import annotations

from collections.abc import Callable

from django.test import TestCase

from marketplace.accounts.models import User
from marketplace.flows import work_submit
from marketplace.jobs.models import Item, Job
from marketplace.labeling.services import lease_claim
from marketplace.quality.runs import consensus_run
from tests.factories import WorkerFactory, open_job_with_items

ANSWERS = {  # external id -> the three workers' labels
    "i0": ("cat", "cat", "cat"),
    "i1": ("cat", "cat", "cat"),
    "i2": ("cat", "cat", "dog"),
    "i3": ("dog", "dog", "cat"),
    "i4": ("cat", "dog", "bird"),
    "i5": ("bird", "bird", "bird"),
}


def judge(worker: User, job: Job, pick: Callable[[Item], str]) -> Item:
    """One claim and submit through the submit flow; `pick` chooses the label from the item."""
    lease = lease_claim(worker=worker, job=job)
    with TestCase.captureOnCommitCallbacks(execute=True):
        work_submit(worker=worker, lease_id=lease.pk, label=pick(lease.item))
    return lease.item


def browsed_job(**fields: object) -> Job:
    """The job of the module docstring, published and funded, with one succeeded consensus run."""
    job = open_job_with_items(items=8, gold=1, overlap=3, **fields)
    for k in range(3):
        worker = WorkerFactory(username=f"crowd{k}")
        for _ in ANSWERS:  # items are served in id order, started ones first: i0..i5
            item = judge(worker, job, lambda item, k=k: ANSWERS[item.external_id][k])
            assert item.external_id in ANSWERS, f"{item.external_id} was served before the judged ones"
    consensus_run(job=job)
    job.refresh_from_db()
    return job
