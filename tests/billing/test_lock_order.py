"""One lock order for money, held to with real threads on PostgreSQL (SQLite serializes writers
and could not show a deadlock): lease → item → job → budget → earnings → ledger accounts.

Wendy's submit completes Acme's job while Alice adds to its escrow. The submit pays (budget,
then the escrow account) and then settles (the budget again); the addition takes the budget,
then the escrow account. Each side is held at the point where the old order crossed, so the
test does not depend on luck: with the submit taking the escrow account before the budget, the
two waited on each other and PostgreSQL killed one (a 500).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.escrow import job_escrow_add
from marketplace.billing.models import Earning, JobBudget
from marketplace.billing.selectors import organization_balance
from marketplace.errors import Conflict
from marketplace.jobs.models import Job
from marketplace.labeling.services import lease_claim
from tests.billing.helpers import D
from tests.conftest import needs_postgres
from tests.factories import fund, open_job_with_items
from tests.threads import WAIT, hold_job_finalize, someone_waits_for_a_lock, thread_recording, until


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_submit_completing_a_job_and_an_escrow_addition_never_deadlock(
    acme: Organization, alice: User, wendy: User, monkeypatch: Any
) -> None:
    job = open_job_with_items(items=1, organization=acme, overlap=1)  # one judgment completes it
    fund(acme, "5.00")
    lease = lease_claim(worker=wendy, job=job)
    paid, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    # The submit stops once it has paid: it holds its locks and is about to settle.
    hold_job_finalize(monkeypatch, reached=paid, go=go)
    submit = thread_recording(
        outcomes, "submit", lambda: flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat"))
    add = thread_recording(
        outcomes, "add", lambda: job_escrow_add(job=job, user=alice, amount=D("1.00"), key="more"))
    submit.start()
    assert paid.wait(WAIT)
    add.start()
    until(someone_waits_for_a_lock, "the addition queuing behind the submit's locks")
    go.set()
    submit.join(WAIT)
    add.join(WAIT)

    # The submit counted, paid and settled; the addition waited for it, then found the escrow
    # closed: a refusal the client can read, never a deadlock.
    assert isinstance(outcomes["submit"], flows.WorkSubmitted), outcomes["submit"]
    assert isinstance(outcomes["add"], Conflict) and "settled" in str(outcomes["add"]), outcomes["add"]
    assert Job.objects.get(pk=job.pk).status == "completed"
    assert JobBudget.objects.get(job=job).settled_at is not None
    assert Earning.objects.filter(job=job, worker=wendy).count() == 1
    assert organization_balance(organization=acme) == D("5.00")  # nothing added, the rest refunded
    report = ledger_audit()
    assert report.ok, report.violations
