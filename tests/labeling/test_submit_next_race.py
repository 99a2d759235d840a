"""Real races on PostgreSQL for the submit that carries the worker's next lease: the answer, its pay
and quality, and the claim of the next item commit in one transaction (flows.work_submit with
`then`). SQLite serializes every writer and could not show a race; these tests say so there.

A crowd works a job with gold through that one transaction only; then one worker's submit is held
open just after its claim, every lock it takes still held, while the others submit theirs.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning
from marketplace.errors import Busy, Conflict, NothingLeft
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment, Lease, LeaseStatus
from marketplace.labeling.services import NextClaim, lease_claim
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.threads import (
    Crowd,
    failures,
    hold_thread_in,
    lock_timeout_set,
    row_waits_watched,
    run_together,
    run_while_one_is_held,
)

CROWD = 16
ITEMS, OVERLAP = 120, 3


def _work_until_done(worker: User, job_id: int, crowd: Crowd) -> int:
    """Submit with next until the job completes: one request per judgment, as the simulator does."""
    lease: int | None = None
    submitted = 0
    try:
        while time.monotonic() < crowd.deadline:
            if lease is None:
                since = crowd.seen()
                try:
                    lease = lease_claim(worker=worker, job=job_id).pk
                except NothingLeft:
                    if Job.objects.filter(pk=job_id, status=JobStatus.COMPLETED).exists():
                        return submitted
                    crowd.wait_for_change(since=since)  # the last items are in others' hands
                    continue
                except Busy:  # others' submits hold what is left for it: ask once they commit
                    crowd.wait_for_change(since=since)
                    continue
                crowd.changed()
            try:
                outcome = flows.work_submit(worker=worker, lease_id=lease, label="cat", then=NextClaim())
            except Conflict:  # a gold lease answered after the job completed: nothing to count
                lease = None
                continue
            finally:
                crowd.changed()
            submitted += 1
            following = outcome.next
            lease = following.lease.pk if following and following.lease else None
        raise AssertionError(f"{worker.username} still working at the deadline")
    finally:
        crowd.left()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_crowd_submitting_with_its_next_lease_collects_every_item_exactly_overlap_times_paid_once() -> None:
    # Leases never run out here: a thread the busy machine leaves unscheduled keeps its item.
    job = open_job_with_items(items=ITEMS, overlap=OVERLAP, gold=10, gold_rate="0.1", lease_seconds=3600)
    workers = [WorkerFactory() for _ in range(CROWD)]
    # The crowd stops when the job completes; the deadline only bounds a hang.
    crowd = Crowd(CROWD, deadline=time.monotonic() + 600)
    outcomes = run_together({w.username: lambda w=w: _work_until_done(w, job.pk, crowd) for w in workers},
                            seconds=600)

    failed = failures(outcomes)
    assert not failed, next(iter(failed.values()))
    regular = Judgment.objects.filter(job=job, is_gold=False)
    per_item = Counter(regular.values_list("item_id", flat=True))
    assert len(per_item) == ITEMS and set(per_item.values()) == {OVERLAP}, "over- or under-collected"
    pairs = list(Judgment.objects.filter(job=job).values_list("item_id", "worker_id"))
    assert len(pairs) == len(set(pairs)), "a worker judged an item twice"
    assert sum(outcomes.values()) == len(pairs)  # every submit that answered 201 is stored
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    # Paid once per judgment, and no lease left live once the job is done.
    assert Earning.objects.filter(job=job).count() == len(pairs)
    assert not Lease.objects.filter(job=job, status=LeaseStatus.ACTIVE, item__is_gold=False).exists()
    report = ledger_audit()
    assert report.ok, report.violations


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_submit_held_open_after_its_next_claim_makes_no_other_submit_wait(
    wendy: User, monkeypatch: Any
) -> None:
    # Overlap 1: every submit completes its item, and each claim takes a new one.
    job = open_job_with_items(items=CROWD * 3, overlap=1)
    crowd = [wendy, *(WorkerFactory() for _ in range(CROWD - 1))]
    leases = {worker.pk: lease_claim(worker=worker, job=job).pk for worker in crowd}

    held, go = hold_thread_in(monkeypatch, flows, "lease_claim_last", thread=wendy.username, after=True)

    def submit(worker: User) -> flows.WorkSubmitted:
        lock_timeout_set(1)  # a wait of more than a second fails the submit
        return flows.work_submit(worker=worker, lease_id=leases[worker.pk], label="cat", then=NextClaim())

    # Wendy's is held just after its claim, the last step of its transaction: every lock it takes.
    with row_waits_watched() as waits:
        outcomes = run_while_one_is_held({w.username: lambda w=w: submit(w) for w in crowd},
                                         first=wendy.username, held=held, go=go)

    failed = failures(outcomes)
    assert not failed, f"{len(failed)} failed; the first: {next(iter(failed.values()))}"
    assert len(outcomes) == CROWD
    contended = {"jobs_job", "jobs_jobtally", "jobs_item", "labeling_lease", "billing_earning"}
    assert not contended & set(waits), sorted(set(waits))
    # Each got its next item, all different, none of them an item already judged.
    given = [o.next.lease.item_id for o in outcomes.values()]
    assert len(set(given)) == CROWD
    assert not Judgment.objects.filter(item_id__in=given).exists()
