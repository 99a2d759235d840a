"""A gold submit racing the submit that completes its job, with real threads on PostgreSQL.

Wendy's submit completes Acme's job; Walter submits a gold item at the same moment. His submit
read the job open, then waits for the job's lock, which Wendy's holds until it has settled the
job. When it gets the lock the job is complete: he is told his answer is no longer needed (the
same refusal as a gold submit arriving after completion), not that the job ran out of money.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
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
from tests.threads import hold_job_finalize, queue_behind, thread_recording


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
    # The completing submit stops holding the job's lock, about to settle.
    hold_job_finalize(monkeypatch, reached=counted, go=go)
    completing = thread_recording(
        outcomes, "last", lambda: flows.work_submit(worker=wendy, lease_id=last.pk, label="cat"))
    racing = thread_recording(
        outcomes, "gold", lambda: flows.work_submit(worker=walter, lease_id=gold.pk, label="cat"))
    queue_behind(completing, counted, racing, go, "gold submit queuing behind the job's lock")

    assert isinstance(outcomes["last"], flows.WorkSubmitted), outcomes["last"]
    refused = outcomes["gold"]
    assert isinstance(refused, Conflict) and refused.code == "conflict", refused
    assert "no longer needed" in refused.message
    assert Job.objects.get(pk=job.pk).status == "completed"
    assert not Judgment.objects.filter(worker=walter).exists()
    report = ledger_audit()
    assert report.ok, report.violations
