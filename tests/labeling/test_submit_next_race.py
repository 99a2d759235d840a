"""Real races on PostgreSQL for the submit that carries the worker's next lease: the answer, its pay
and quality, and the claim of the next item commit in one transaction (flows.work_submit with
`then`). SQLite serializes every writer and could not show a race; these tests say so there.

A crowd works a job with gold through that one transaction only; then one worker's submit is held
open just after its claim, every lock it takes still held, while the others submit theirs.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning
from marketplace.errors import Conflict, NothingLeft
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment, Lease, LeaseStatus
from marketplace.labeling.services import NextClaim, NextLease, lease_claim
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.threads import WAIT, thread_recording

CROWD = 16
ITEMS, OVERLAP = 120, 3


def _work_until_done(worker: User, job_id: int, deadline: float) -> int:
    """Submit with next until the job completes: one request per judgment, as the simulator does."""
    lease: int | None = None
    submitted = 0
    try:
        while time.monotonic() < deadline:
            if lease is None:
                try:
                    lease = lease_claim(worker=worker, job=job_id).pk
                except NothingLeft:
                    if Job.objects.filter(pk=job_id, status=JobStatus.COMPLETED).exists():
                        return submitted
                    time.sleep(0.02)  # the last items are in others' hands: look again shortly
                    continue
            try:
                outcome = flows.work_submit(worker=worker, lease_id=lease, label="cat", then=NextClaim())
            except Conflict:  # a gold lease answered after the job completed: nothing to count
                lease = None
                continue
            submitted += 1
            following = outcome.next
            lease = following.lease.pk if following and following.lease else None
        raise AssertionError(f"{worker.username} still working at the deadline")
    finally:
        connection.close()  # this thread's own connection


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_crowd_submitting_with_its_next_lease_collects_every_item_exactly_overlap_times_paid_once() -> None:
    # Leases never run out here: a thread the busy machine leaves unscheduled keeps its item.
    job = open_job_with_items(items=ITEMS, overlap=OVERLAP, gold=10, gold_rate="0.1", lease_seconds=3600)
    workers = [WorkerFactory() for _ in range(CROWD)]
    deadline = time.monotonic() + 600  # bounds a hang; the crowd stops when the job completes
    outcomes: dict[str, Any] = {}
    threads = [thread_recording(outcomes, w.username, lambda w=w: _work_until_done(w, job.pk, deadline))
               for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    failed = [o for o in outcomes.values() if isinstance(o, BaseException)]
    assert not failed, "".join(traceback.format_exception(failed[0]))
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


# Row locks a session is waiting for right now (the waiter holds the tuple lock of its row).
_WAITS = """
SELECT l.relation::regclass::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
  AND l.locktype IN ('tuple', 'relation') AND l.relation IS NOT NULL
"""


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_submit_held_open_after_its_next_claim_makes_no_other_submit_wait(
    wendy: User, monkeypatch: Any
) -> None:
    # Overlap 1: every submit completes its item, and each claim takes a new one.
    job = open_job_with_items(items=CROWD * 3, overlap=1)
    crowd = [wendy, *(WorkerFactory() for _ in range(CROWD - 1))]
    leases = {worker.pk: lease_claim(worker=worker, job=job).pk for worker in crowd}

    held, go = threading.Event(), threading.Event()
    claim = flows.lease_claim_last

    def hold_wendys_after_claim(**kwargs: Any) -> NextLease:
        following = claim(**kwargs)  # the last step of the transaction: every lock is held now
        if threading.current_thread().name == "wendy":
            held.set()
            go.wait(WAIT)
        return following

    monkeypatch.setattr(flows, "lease_claim_last", hold_wendys_after_claim)
    waits: list[str] = []
    done = threading.Event()

    def watch() -> None:
        try:
            with connection.cursor() as cursor:
                while not done.is_set():
                    cursor.execute(_WAITS)
                    waits.extend(row[0] for row in cursor.fetchall())
        finally:
            connection.close()

    def submit(worker: User) -> flows.WorkSubmitted:
        with connection.cursor() as cursor:  # a wait of more than a second fails the submit
            cursor.execute("SET lock_timeout = '1s'")
        try:
            return flows.work_submit(worker=worker, lease_id=leases[worker.pk], label="cat", then=NextClaim())
        finally:
            connection.close()

    outcomes: dict[str, Any] = {}
    watcher = threading.Thread(target=watch)
    watcher.start()
    first = thread_recording(outcomes, "wendy", lambda: submit(wendy))
    first.name = "wendy"
    first.start()
    assert held.wait(WAIT), "Wendy's submit never reached its claim"
    others = [thread_recording(outcomes, w.username, lambda w=w: submit(w)) for w in crowd[1:]]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(WAIT)
    go.set()
    first.join(WAIT)
    done.set()
    watcher.join(WAIT)

    failed = {name: "".join(traceback.format_exception(o))
              for name, o in outcomes.items() if not isinstance(o, flows.WorkSubmitted)}
    assert not failed, f"{len(failed)} failed; the first: {next(iter(failed.values()))}"
    contended = {"jobs_job", "jobs_jobtally", "jobs_item", "labeling_lease", "billing_earning"}
    assert not contended & set(waits), sorted(set(waits))
    # Each got its next item, all different, none of them an item already judged.
    given = [o.next.lease.item_id for o in outcomes.values()]
    assert len(set(given)) == CROWD
    assert not Judgment.objects.filter(item_id__in=given).exists()
