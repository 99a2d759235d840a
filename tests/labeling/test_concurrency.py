"""Real races on PostgreSQL: threads with their own connections claim, skip, abandon and submit.

SQLite serializes every writer, so it could not show a race even if there were one; these tests
run only with DATABASE_URL pointing at PostgreSQL and say so otherwise.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connection, transaction

from marketplace.accounts.models import User
from marketplace.errors import Busy, Conflict, NothingLeft
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import judgment_submit, lease_claim, lease_release
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.labeling.helpers import expire
from tests.threads import Crowd, failures, run_together

THREADS = 32
ITEMS, OVERLAP = 500, 3
LABELS = ("cat", "dog", "bird")


def _crowd_member(worker: User, job_id: int, crowd: Crowd) -> None:
    """One worker in its own thread (so its own connection): mostly submits, sometimes skips,
    sometimes walks away (its lease is expired on the spot) and may answer late anyway."""
    rng = random.Random(worker.pk)
    try:
        while time.monotonic() < crowd.deadline:
            since = crowd.seen()
            try:
                lease = lease_claim(worker=worker, job=job_id)
            except NothingLeft:
                if Job.objects.filter(pk=job_id, status=JobStatus.COMPLETED).exists():
                    return
                crowd.wait_for_change(since=since)  # until someone frees a slot or completes the job
                continue
            except Busy:  # what is left for it is held by others' transactions: ask once they commit
                crowd.wait_for_change(since=since)
                continue
            crowd.changed()
            roll = rng.random()
            try:
                if roll < 0.08:
                    expire(lease)
                    crowd.changed()
                    if rng.random() < 0.5:
                        # Walked away while a few other transactions commit: one may take the slot.
                        crowd.let_others_move(since=crowd.seen(), changes=rng.randint(1, 6))
                        try:
                            judgment_submit(worker=worker, lease_id=lease.pk, label=rng.choice(LABELS))
                        except Conflict:
                            pass  # the slot went to someone else: this late answer is lost
                elif roll < 0.14:
                    lease_release(worker=worker, lease_id=lease.pk)
                else:
                    judgment_submit(worker=worker, lease_id=lease.pk, label=rng.choice(LABELS))
            finally:
                crowd.changed()
        raise AssertionError(f"{worker.username} still working at the deadline")
    finally:
        crowd.left()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_32_workers_racing_on_one_job_collect_every_item_exactly_overlap_times() -> None:
    # Leases never run out by themselves here (walking away expires one explicitly): a thread the
    # busy machine leaves unscheduled for a while must not lose its lease to the clock.
    job = open_job_with_items(items=ITEMS, overlap=OVERLAP, gold=10, gold_rate="0.1", lease_seconds=3600)
    workers = [WorkerFactory() for _ in range(THREADS)]
    # The crowd stops when the job completes (~15 s idle); the deadline only bounds a hang.
    crowd = Crowd(THREADS, deadline=time.monotonic() + 600)
    outcomes = run_together({w.username: lambda w=w: _crowd_member(w, job.pk, crowd) for w in workers},
                            seconds=600)

    failed = failures(outcomes)
    assert not failed, next(iter(failed.values()))
    regular = Judgment.objects.filter(job=job, is_gold=False)
    assert regular.count() == ITEMS * OVERLAP
    pairs = list(Judgment.objects.filter(job=job).values_list("item_id", "worker_id"))
    assert len(pairs) == len(set(pairs)), "a worker judged an item twice"
    per_item = Counter(regular.values_list("item_id", flat=True))
    assert set(per_item.values()) == {OVERLAP}, "an item was over- or under-collected"
    stored = dict(Item.objects.filter(job=job, is_gold=False).values_list("id", "judgment_count"))
    assert stored == dict(per_item)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert (job.judgment_count, job.completed_item_count) == (ITEMS * OVERLAP, ITEMS)
    assert job.gold_judgment_count == Judgment.objects.filter(job=job, is_gold=True).count()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_passes_over_an_item_another_transaction_holds_instead_of_waiting() -> None:
    job = open_job_with_items(items=2, overlap=1)
    first, second = Item.objects.filter(job=job).order_by("id")
    walter = WorkerFactory()
    locked, release = threading.Event(), threading.Event()
    result: dict[str, Any] = {}

    def hold_first_item() -> None:
        try:
            with transaction.atomic():
                Item.objects.select_for_update().get(pk=first.pk)  # e.g. a submit in progress
                locked.set()
                release.wait()  # set by the test once the claim has returned (or after 60 s)
        finally:
            connection.close()

    def claim() -> None:
        try:
            result["item"] = lease_claim(worker=walter, job=job.pk).item_id
            # Had the claim waited for the lock, it could only return once the test let go.
            result["while_held"] = not release.is_set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first_item)
    holder.start()
    assert locked.wait(60)
    claimer = threading.Thread(target=claim)
    claimer.start()
    claimer.join(60)  # milliseconds idle; the bound is for a busy machine
    release.set()
    holder.join()
    assert result == {"item": second.pk, "while_held": True}
    assert Lease.objects.filter(item=first).count() == 0
