"""One lock order for money, held to with real threads on PostgreSQL (SQLite serializes writers
and could not show a deadlock): lease → item → job → budget → earnings → ledger accounts.

Wendy's submit completes Acme's job while Alice adds to its escrow. The submit's pay takes no
budget or account (billing/posting.py moves it later), so the addition never waits for it; the
settlement then returns the addition with the rest of the hold. (With the submit once taking the
escrow account before the budget, the two waited on each other and PostgreSQL killed one.)

Likewise a submit whose gold answer blocks Wendy herself, while the release schedule moves her
pending earnings: the release holds the earnings and wants her pending account; the submit
must not hold that account while it wants the earnings (it once did: pay, then block). Under the
review cap the block weighs her pay under the earnings' locks too, so it waits for the release
rather than hold for review pay the release is moving to available.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing import ledger, payouts
from marketplace.billing.audit import ledger_audit
from marketplace.billing.escrow import job_escrow_add
from marketplace.billing.models import AccountKind, Earning, JobBudget
from marketplace.billing.selectors import organization_balance
from marketplace.jobs.models import Job
from marketplace.labeling.models import JobBlock
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import WithdrawalReview
from tests.billing.helpers import D
from tests.conftest import needs_postgres
from tests.factories import fund, open_job_with_items
from tests.quality.worker_helpers import answer_gold, gold_job
from tests.threads import WAIT, hold_job_finalize, queue_behind, thread_recording


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_an_escrow_addition_never_waits_for_a_submit_completing_the_job_and_settlement_returns_it(
    acme: Organization, alice: User, wendy: User, monkeypatch: Any
) -> None:
    job = open_job_with_items(items=1, organization=acme, overlap=1)  # one judgment completes it
    fund(acme, "5.00")
    before = organization_balance(organization=acme)
    lease = lease_claim(worker=wendy, job=job)
    paid, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    # The submit stops once it has paid: it holds its locks and is about to settle.
    hold_job_finalize(monkeypatch, reached=paid, go=go)
    submit = thread_recording(
        outcomes, "submit", lambda: flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat"))
    submit.start()
    assert paid.wait(WAIT)

    # A submit's pay takes no budget or escrow lock, so the addition goes through at once.
    job_escrow_add(job=job, user=alice, amount=D("1.00"), key="more")
    go.set()
    submit.join(WAIT)

    assert isinstance(outcomes["submit"], flows.WorkSubmitted), outcomes["submit"]
    assert Job.objects.get(pk=job.pk).status == "completed"
    budget = JobBudget.objects.get(job=job)
    assert budget.settled_at is not None and budget.added == D("1.00")
    assert Earning.objects.filter(job=job, worker=wendy, posted_at__isnull=False).count() == 1
    # Settlement charged the one item from its hold and gave back the rest: the addition.
    assert budget.charged == D("0.10") and budget.refunded == D("1.00")
    assert organization_balance(organization=acme) == before
    report = ledger_audit()
    assert report.ok, report.violations


@needs_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("share", ["1.00", "0.50"], ids=["no review", "review cap"])
def test_a_submit_that_blocks_its_own_worker_and_the_release_of_her_earnings_never_deadlock(
    wendy: User, monkeypatch: Any, settings: Any, share: str
) -> None:
    # 1.00: the block withdraws at once. 0.50 (the default): the block weighs the cap under the
    # earnings' locks, so it waits for the release and sees the released pay as Wendy's.
    settings.QUORUM_WITHDRAW_REVIEW_SHARE = Decimal(share)
    job = gold_job(items=30, gold=20, quality_rules={"min_gold_answers": 3, "gold_accuracy_floor": "0.5"})
    answer_gold(wendy, job, right=0, wrong=2)  # paid, pending; one more miss blocks her
    earned = set(Earning.objects.filter(worker=wendy).values_list("pk", flat=True))
    lease = lease_claim(worker=wendy, job=job)
    while not lease.item.is_gold:
        flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")
        earned.add(Earning.objects.filter(worker=wendy).latest("id").pk)
        lease = lease_claim(worker=wendy, job=job)
    holding, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    worker_accounts = ledger.worker_accounts

    def worker_accounts_when_told(**kwargs: Any) -> Any:
        if kwargs["kind"] == AccountKind.WORKER_AVAILABLE:  # the release's read, not pay posting's
            holding.set()  # the release holds Wendy's earnings and is about to lock her accounts
            go.wait(WAIT)
        return worker_accounts(**kwargs)

    monkeypatch.setattr(ledger, "worker_accounts", worker_accounts_when_told)
    later = timezone.now() + timedelta(days=30)  # every earning is past the hold
    release = thread_recording(outcomes, "release", lambda: payouts.earnings_release(now=later))
    submit = thread_recording(
        outcomes, "submit", lambda: flows.work_submit(worker=wendy, lease_id=lease.pk, label="dog"))
    queue_behind(release, holding, submit, go, "submit queuing behind the release's earnings")

    # The release moved what it held; the submit waited for it, then blocked Wendy and withdrew
    # only the pay still pending (her own submit's), never a deadlock.
    assert not isinstance(outcomes["release"], BaseException), outcomes["release"]
    assert isinstance(outcomes["submit"], flows.WorkSubmitted), outcomes["submit"]
    assert outcomes["release"].earnings == len(earned)
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    statuses = dict(Earning.objects.filter(worker=wendy).values_list("pk", "status"))
    assert {statuses[pk] for pk in earned} == {Earning.Status.AVAILABLE}
    assert {s for pk, s in statuses.items() if pk not in earned} == {Earning.Status.REVERSED}
    assert not WithdrawalReview.objects.filter(worker=wendy).exists()  # only her last pay was at stake
    report = ledger_audit()
    assert report.ok, report.violations
