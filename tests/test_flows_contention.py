"""No row that every submit of a job must write: 64 workers submit to one job at once, through
the real submit flow (count, pay, assess), on PostgreSQL (SQLite serializes writers and could
not show a wait).

Wendy's submit is held open at its very end, every lock it takes still held, while the other 63
submit with a lock timeout: had any of them needed a row Wendy's holds (the job's row, its
budget, its escrow account, a counter), it would wait for her and fail on the timeout. A
watcher reads pg_locks throughout and records every row lock a session waited for.
"""

from __future__ import annotations

from typing import Any

import pytest

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
from tests.threads import (
    failures,
    hold_thread_in,
    lock_timeout_set,
    row_waits_watched,
    run_while_one_is_held,
)

WORKERS = 64

@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_64_workers_submitting_to_one_job_at_once_never_wait_for_each_others_rows(
    acme: Organization, wendy: User, monkeypatch: Any
) -> None:
    # Overlap 1: every submit also completes its item, the path that once wrote the job's row.
    job = open_job_with_items(items=WORKERS * 2, organization=acme, overlap=1)
    crowd = [wendy, *(WorkerFactory() for _ in range(WORKERS - 1))]
    leases = {worker.pk: lease_claim(worker=worker, job=job).pk for worker in crowd}

    # Held at the last step inside the submit's transaction: everything it locks is locked now.
    held, go = hold_thread_in(monkeypatch, flows.events, "job_progress", thread=wendy.username)

    def submit(worker: User) -> flows.WorkSubmitted:
        lock_timeout_set(1)  # a wait of more than a second fails the submit
        return flows.work_submit(worker=worker, lease_id=leases[worker.pk], label="cat")

    with row_waits_watched() as waits:
        outcomes = run_while_one_is_held({w.username: lambda w=w: submit(w) for w in crowd},
                                         first=wendy.username, held=held, go=go)

    failed = failures(outcomes)
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
