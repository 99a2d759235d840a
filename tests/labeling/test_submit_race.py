"""A gold submit racing the submit that completes its job, with real threads on PostgreSQL.

Wendy's submit completes Acme's job; Walter submits a gold item at the same moment. His submit
read the job open, then waits for the job's lock, which Wendy's holds until it has settled the
job. When it gets the lock the job is complete: he is told his answer is no longer needed (the
same refusal as a gold submit arriving after completion), not that the job ran out of money.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.errors import Conflict
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import lease_claim
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items

WAIT = 30  # seconds before a stuck thread fails the test instead of hanging it


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_gold_submit_racing_completion_is_refused_as_no_longer_needed(
    acme: Organization, wendy: User, walter: User, monkeypatch: Any
) -> None:
    job = open_job_with_items(items=1, gold=1, organization=acme, overlap=1)
    last = lease_claim(worker=wendy, job=job)
    gold = Lease.objects.create(
        job=job, item=Item.objects.get(job=job, is_gold=True), worker=walter,
        created_at=timezone.now(), expires_at=timezone.now() + timedelta(minutes=10),
    )
    counted, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    finalize = flows._job_finalize

    def finalize_when_told(*, job: Job) -> None:
        counted.set()  # the completing submit holds the job's lock and is about to settle
        go.wait(WAIT)
        finalize(job=job)

    monkeypatch.setattr(flows, "_job_finalize", finalize_when_told)

    def run(name: str, action: Callable[[], Any]) -> None:
        try:
            outcomes[name] = action()
        except BaseException as exc:  # noqa: BLE001 - the main thread reports it
            outcomes[name] = exc
        finally:
            connection.close()  # this thread's own connection

    completing = threading.Thread(target=run, args=(
        "last", lambda: flows.work_submit(worker=wendy, lease_id=last.pk, label="cat")))
    racing = threading.Thread(target=run, args=(
        "gold", lambda: flows.work_submit(worker=walter, lease_id=gold.pk, label="cat")))
    completing.start()
    assert counted.wait(WAIT)
    racing.start()
    deadline = time.monotonic() + WAIT
    while not _someone_waits_for_a_lock():  # the gold submit queues behind the job's lock
        assert time.monotonic() < deadline, "the gold submit never reached the job's lock"
    go.set()
    completing.join(WAIT)
    racing.join(WAIT)

    assert isinstance(outcomes["last"], flows.WorkSubmitted), outcomes["last"]
    refused = outcomes["gold"]
    assert isinstance(refused, Conflict) and refused.code == "conflict", refused
    assert "no longer needed" in refused.message
    assert Job.objects.get(pk=job.pk).status == "completed"
    assert not Judgment.objects.filter(worker=walter).exists()
    report = ledger_audit()
    assert report.ok, report.violations
