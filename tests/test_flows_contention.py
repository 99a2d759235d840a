"""No row that every submit of a job must write: 64 workers submit to one job at once, through
the real submit flow (count, pay, assess), on PostgreSQL (SQLite serializes writers and could
not show a wait).

Wendy's submit is held open at its very end, every lock it takes still held, while the other 63
submit with a lock timeout: had any of them needed a row Wendy's holds (the job's row, its
budget, its escrow account, a counter), it would wait for her and fail on the timeout. A
watcher reads pg_locks throughout and records every row lock a session waited for.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any

import pytest
from django.db import connection

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning
from marketplace.billing.posting import job_pay_post
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment
from marketplace.labeling.services import lease_claim
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.threads import WAIT, thread_recording

WORKERS = 64

# Row locks a session is waiting for right now: the waiter holds the tuple lock of the row it
# queues on (PostgreSQL's row-lock protocol), so its relation names the contended table. Not a
# wait for a row: a table's extension lock ("extend"), the moment in which two writers both need
# a new page of, say, labeling_lease; it names every relation the waiter has touched.
_WAITS = """
SELECT l.relation::regclass::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' AND a.wait_event <> 'extend'
  AND l.locktype IN ('tuple', 'relation') AND l.relation IS NOT NULL
"""


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_64_workers_submitting_to_one_job_at_once_never_wait_for_each_others_rows(
    acme: Organization, wendy: User, monkeypatch: Any
) -> None:
    # Overlap 1: every submit also completes its item, the path that once wrote the job's row.
    job = open_job_with_items(items=WORKERS * 2, organization=acme, overlap=1)
    crowd = [wendy, *(WorkerFactory() for _ in range(WORKERS - 1))]
    leases = {worker.pk: lease_claim(worker=worker, job=job).pk for worker in crowd}

    held, go = threading.Event(), threading.Event()
    progress = flows.events.job_progress

    def hold_wendys_submit(*, job_id: int) -> None:
        # The last step inside the submit's transaction: everything it locks is locked now.
        if threading.current_thread().name == "wendy":
            held.set()
            go.wait(WAIT)
        progress(job_id=job_id)

    monkeypatch.setattr(flows.events, "job_progress", hold_wendys_submit)

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
            return flows.work_submit(worker=worker, lease_id=leases[worker.pk], label="cat")
        finally:
            connection.close()

    outcomes: dict[str, Any] = {}
    watcher = threading.Thread(target=watch)
    watcher.start()
    first = thread_recording(outcomes, "wendy", lambda: submit(wendy))
    first.name = "wendy"
    first.start()
    assert held.wait(WAIT), "Wendy's submit never reached its end"

    start = threading.Barrier(WORKERS - 1)

    def together(worker: User) -> flows.WorkSubmitted:
        start.wait(WAIT)
        return submit(worker)

    others = [thread_recording(outcomes, w.username, lambda w=w: together(w)) for w in crowd[1:]]
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
    # All 63 committed while Wendy's submit held every lock it takes.
    assert not failed, f"{len(failed)} failed; the first: {next(iter(failed.values()))}"
    assert len(outcomes) == WORKERS
    contended = {"jobs_job", "jobs_jobtally", "billing_jobbudget", "billing_ledgeraccount", "billing_earning"}
    assert not contended & set(waits), sorted(set(waits))
    # What they did adds up: 64 judgments, 64 items complete, every pay recorded and posted once.
    job = Job.objects.get(pk=job.pk)
    assert (job.judgment_count, job.completed_item_count) == (WORKERS, WORKERS)
    assert Judgment.objects.filter(job=job).count() == WORKERS
    job_pay_post(job_id=job.pk)
    assert Earning.objects.filter(job=job, posted_at__isnull=False).count() == WORKERS
    report = ledger_audit()
    assert report.ok, report.violations
