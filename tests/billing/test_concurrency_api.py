"""The submit flow racing on one job's escrow, on PostgreSQL: 32 workers, each on a thread with
its own connection, claim a lease and submit through flows.work_submit at the same moment. The
hold covers every judgment the items can take, so all are paid. SQLite serializes writers and could not show a race, so
this runs only with DATABASE_URL pointing at PostgreSQL.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning
from marketplace.billing.selectors import job_escrow
from marketplace.errors import Busy
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import lease_claim
from tests.billing.helpers import D, tier
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items

THREADS = 32


def _claim(worker: User, job: Job) -> Lease:
    """Claims skip items other claims hold locked (SKIP LOCKED), so in a burst of 32 a claim can
    find both items held for a moment (busy); it asks again, as a worker's client would."""
    for _ in range(1000):
        try:
            return lease_claim(worker=worker, job=job)
        except Busy:
            continue
    raise AssertionError("a worker never got one of the 64 slots")


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_32_workers_submitting_at_once_are_all_paid_from_a_hold_that_never_runs_dry(
    acme: Organization,
) -> None:
    tier("tight", price="0.1000", pay="0.0200", overlap=THREADS)
    # Priced at 0.10 an item, held at its worst-case pay (32 × 0.02); 64 slots, one each.
    job = open_job_with_items(items=2, organization=acme, tier="tight", overlap=THREADS)
    assert job.status == "open" and job_escrow(job_id=job.pk) == D("1.28")
    workers = [WorkerFactory() for _ in range(THREADS)]

    claimed = threading.Barrier(THREADS + 1)  # everyone holds a lease before anyone submits
    done = threading.Event()
    paid: list[int] = []
    failures: list[BaseException] = []
    lowest: list[Decimal] = []

    def work(worker: User) -> None:
        try:
            lease = _claim(worker, job)
            claimed.wait()
            outcome = flows.work_submit(worker=worker, lease_id=lease.pk, label="cat")
            paid.append(outcome.judgment.pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
            claimed.abort()
        finally:
            connection.close()  # this thread's own connection

    def watch() -> None:
        """Reads the committed escrow over and over while the workers race."""
        seen = []
        try:
            claimed.wait()
            while not done.is_set():
                seen.append(job_escrow(job_id=job.pk))
        except threading.BrokenBarrierError:
            pass
        finally:
            lowest.append(min(seen, default=D("1.28")))
            connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    watcher = threading.Thread(target=watch)
    for thread in [*threads, watcher]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()

    assert not failures, failures[:3]
    assert len(paid) == THREADS
    assert lowest and lowest[0] >= 0
    assert job_escrow(job_id=job.pk) == D("1.28") - THREADS * D("0.02")
    assert Job.objects.get(pk=job.pk).status == "open"
    assert set(Judgment.objects.filter(job=job).values_list("pk", flat=True)) == set(paid)
    assert Earning.objects.filter(job=job).count() == THREADS
    report = ledger_audit()
    assert report.ok, report.violations
