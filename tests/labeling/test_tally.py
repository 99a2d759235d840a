"""A job's counts live in per-worker tally rows, so no row is written by every submit of a job.

Wendy and Walter work on Acme's jobs; Ada is the admin who blocks a worker. The counts a
dashboard shows (judgments, gold judgments, completed items) are sums over the job's JobTally
rows: each submit adds to its own worker's row only. The PostgreSQL tests hold one transaction
open in a thread at the point where two could cross and show what the other one does.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.db import connection, transaction
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing import services as billing_services
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import JobBudget, LedgerTransaction, TransactionKind
from marketplace.notifications.tasks import job_completion_sweep_tick
from marketplace.errors import Conflict
from marketplace.jobs.models import Job, JobStatus, JobTally
from marketplace.jobs.services import job_transition
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import judgment_submit, judgments_drop, lease_claim
from marketplace.quality.replaying import judgments_bulk_create, workers_bulk_create
from tests.conftest import needs_postgres
from tests.factories import JobFactory, open_job_with_items, publisher
from tests.threads import WAIT, queue_behind, thread_recording


def _counts(job: Job) -> tuple[int, int, int]:
    job = Job.objects.get(pk=job.pk)
    return job.judgment_count, job.gold_judgment_count, job.completed_item_count


def _judge(worker: User, job: Job, label: str = "cat") -> Judgment:
    return judgment_submit(worker=worker, lease_id=lease_claim(worker=worker, job=job).pk, label=label)


def test_each_submit_counts_in_its_own_workers_tally_and_the_job_shows_the_sums(
    wendy: User, walter: User
) -> None:
    job = open_job_with_items(items=2, overlap=2)
    _judge(wendy, job)
    _judge(wendy, job)
    _judge(walter, job)

    tallies = dict(JobTally.objects.filter(job=job).values_list("shard", "judgments"))
    assert tallies == {wendy.pk: 2, walter.pk: 1}
    assert _counts(job) == (3, 0, 1)
    assert Job.objects.filter(pk=job.pk).values_list("judgment_count", "completed_item_count").get() == (3, 1)


def test_an_instance_not_loaded_through_the_manager_still_reads_the_sums(wendy: User) -> None:
    job = open_job_with_items(items=2, overlap=1)
    fresh = JobFactory()  # objects.create: nothing annotated
    assert (fresh.judgment_count, fresh.completed_item_count) == (0, 0)

    held = Job.objects.get(pk=job.pk)
    assert held.completed_item_count == 0
    _judge(wendy, job)
    assert held.completed_item_count == 0  # what it was loaded with, like any field
    held.refresh_from_db()
    assert held.completed_item_count == 1
    lease = lease_claim(worker=wendy, job=job)
    assert lease.job.judgment_count == 1  # a related object (plain base manager) sums on first read


def test_gold_submits_count_apart_and_never_complete_anything(wendy: User) -> None:
    job = open_job_with_items(items=1, gold=2, overlap=1, gold_rate="0.5")
    gold = job.items.filter(is_gold=True)
    for item in gold:
        judgment_submit(worker=wendy, lease_id=_lease_on(job=job, item_id=item.pk, worker=wendy), label="cat")
    assert _counts(job) == (0, 2, 0)
    assert Job.objects.get(pk=job.pk).status == JobStatus.OPEN


def _lease_on(*, job: Job, item_id: int, worker: User) -> int:
    """A lease on a chosen item (claims pick gold by chance), as tests elsewhere create them."""
    now = timezone.now()
    return Lease.objects.create(
        job=job, item_id=item_id, worker=worker, created_at=now, expires_at=now + timedelta(hours=1)
    ).pk


def test_a_block_takes_the_dropped_judgments_out_of_the_workers_tally(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=2, overlap=2)
    _judge(wendy, job)
    _judge(walter, job)  # walter completes the item wendy judged first
    _judge(wendy, job)
    assert _counts(job) == (3, 0, 1)

    drop = judgments_drop(job_id=job.pk, worker_id=wendy.pk)

    assert (drop.judgments, len(drop.reopened)) == (2, 1)
    assert _counts(job) == (1, 0, 0)
    # The reopened item was completed by walter's submit: wendy's row goes below zero.
    assert JobTally.objects.get(job=job, shard=wendy.pk).completed_items == -1


def test_replayed_judgments_set_the_counts_on_the_adjustment_row(wendy: User) -> None:
    job = open_job_with_items(items=3, overlap=1, publish=False)
    items = np.array(sorted(job.items.values_list("pk", flat=True)), dtype=np.int64)
    workers = workers_bulk_create(job=job, count=2)
    judgments_bulk_create(
        job=job, item_ids=np.concatenate([items, items]), worker_ids=np.repeat(workers, 3),
        codes=np.zeros(6, dtype=np.int64), gold_codes=np.full(6, -1, dtype=np.int64), keys=job.label_keys,
    )
    assert _counts(job) == (6, 0, 0)
    assert JobTally.objects.get(job=job, shard=JobTally.ADJUSTMENTS).judgments == 6


def test_the_sweep_completes_a_job_whose_last_item_was_judged_while_paused(acme: Organization, wendy: User) -> None:
    job = open_job_with_items(items=1, overlap=1, organization=acme)
    lease = lease_claim(worker=wendy, job=job)
    job_transition(job=job, to=JobStatus.PAUSED)
    judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    flows.job_resume(job=job, user=publisher(job.organization))
    assert Job.objects.get(pk=job.pk).status == JobStatus.OPEN  # nobody submits again

    job_completion_sweep_tick()

    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    assert JobBudget.objects.get(job=job).settled_at is not None


# --- PostgreSQL: real transactions crossing -------------------------------------------------


def _hold_pay(monkeypatch: Any, *, worker: User, reached: threading.Event, go: threading.Event) -> None:
    """Make `worker`'s submit stop after it is counted (tally written, job held in KEY SHARE
    mode), before it is paid: it sets `reached` and waits for `go`."""
    pay = billing_services.judgment_pay

    def pay_when_told(*, judgment: Judgment, **kwargs: Any) -> Any:
        if judgment.worker_id == worker.pk:
            reached.set()
            go.wait(WAIT)
        return pay(judgment=judgment, **kwargs)

    monkeypatch.setattr(billing_services, "judgment_pay", pay_when_told)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_submitting_to_one_job_never_wait_for_each_other(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=4, overlap=1)  # so each holds an item of their own
    first, second = lease_claim(worker=wendy, job=job), lease_claim(worker=walter, job=job)
    counted, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}

    def wendy_submits_and_holds() -> Judgment:
        with transaction.atomic():
            judgment = judgment_submit(worker=wendy, lease_id=first.pk, label="cat")
            counted.set()
            go.wait(WAIT)
            return judgment

    holder = thread_recording(outcomes, "wendy", wendy_submits_and_holds)
    holder.start()
    try:
        assert counted.wait(WAIT)
        # Walter submits while wendy's transaction still holds every lock her submit took; a
        # lock wait of even a fraction of a second would fail his statement.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            judgment_submit(worker=walter, lease_id=second.pk, label="dog")
    finally:
        go.set()
        holder.join(WAIT)
    assert isinstance(outcomes["wendy"], Judgment), outcomes["wendy"]
    assert _counts(job) == (2, 0, 2)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_submits_completing_the_last_two_items_at_once_complete_and_settle_the_job_once(
    wendy: User, walter: User, monkeypatch: Any
) -> None:
    job = open_job_with_items(items=2, overlap=1)
    hers, his = lease_claim(worker=wendy, job=job), lease_claim(worker=walter, job=job)
    counted, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    # Wendy's submit has counted the next-to-last item and waits, uncommitted; Walter's counts the
    # last one, cannot see hers, commits, and looks again after commit: the job does not look done
    # yet, so his check leaves it (without waiting for her). Wendy's check, after her commit,
    # sees both items and completes the job.
    _hold_pay(monkeypatch, worker=wendy, reached=counted, go=go)
    holder = thread_recording(outcomes, "wendy", lambda: flows.work_submit(worker=wendy, lease_id=hers.pk, label="cat"))
    holder.start()
    assert counted.wait(WAIT)
    outcomes["walter"] = flows.work_submit(worker=walter, lease_id=his.pk, label="dog")
    assert Job.objects.get(pk=job.pk).status == JobStatus.OPEN  # Wendy's item is not committed
    go.set()
    holder.join(WAIT)

    assert isinstance(outcomes["wendy"], flows.WorkSubmitted), outcomes["wendy"]
    assert isinstance(outcomes["walter"], flows.WorkSubmitted), outcomes["walter"]
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    assert JobBudget.objects.get(job=job).settled_at is not None
    settles = LedgerTransaction.objects.filter(job=job, kind=TransactionKind.JOB_SETTLE)
    assert settles.count() == 1
    report = ledger_audit()
    assert report.ok, report.violations


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_cancel_waits_for_a_submit_in_flight_and_a_submit_after_it_is_refused(
    acme: Organization, wendy: User, walter: User, monkeypatch: Any
) -> None:
    job = open_job_with_items(items=3, overlap=1, organization=acme)
    hers, his = lease_claim(worker=wendy, job=job), lease_claim(worker=walter, job=job)
    counted, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    _hold_pay(monkeypatch, worker=wendy, reached=counted, go=go)
    client = publisher(job.organization)
    holder = thread_recording(outcomes, "wendy", lambda: flows.work_submit(worker=wendy, lease_id=hers.pk, label="cat"))
    cancel = thread_recording(outcomes, "cancel", lambda: flows.job_cancel(job=job, user=client))
    queue_behind(holder, counted, cancel, go, "cancel waiting for the submit in flight")

    assert isinstance(outcomes["wendy"], flows.WorkSubmitted), outcomes["wendy"]
    assert isinstance(outcomes["cancel"], Job), outcomes["cancel"]
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    # The settlement saw wendy's item: it committed before the cancel read the counts.
    budget = JobBudget.objects.get(job=job)
    assert budget.charged == budget.price_per_item
    with pytest.raises(Conflict, match="cancelled"):
        flows.work_submit(worker=walter, lease_id=his.pk, label="dog")
    assert _counts(job) == (1, 0, 1)
