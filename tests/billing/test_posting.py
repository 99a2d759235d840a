"""Posting pay: a submit records what a judgment earns; billing/posting.py moves it into the ledger.

Wendy and Walter label Acme's jobs; Ada is the admin. Figures are worked out by hand in each
test (an independent recomputation), not read back from the code under test.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.ledger import account_get
from marketplace.billing.models import AccountKind, Earning, JobBudget, LedgerTransaction, TransactionKind
from marketplace.billing.payouts import earnings_release
from marketplace.billing.posting import job_pay_post
from marketplace.billing.selectors import job_escrow, organization_balance, worker_money
from tests.billing.helpers import D, fund, published, tier, work, work_through_flow
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory
from tests.threads import WAIT


def _pays(job_id: int) -> dict[int, D]:
    """What each worker's pay transactions of the job credited, from the ledger's entries."""
    credited: dict[int, D] = {}
    for tx in LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY, job_id=job_id):
        entry = tx.entries.get(account__kind=AccountKind.WORKER_PENDING)
        credited[tx.worker_id] = credited.get(tx.worker_id, D("0.00")) + entry.amount
    return credited


def test_a_submit_records_pay_that_one_batch_per_worker_later_posts_once(
    ada: User, acme: Organization, wendy: User, walter: User
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=4, overlap=1)  # standard: 0.10 an item held, 0.02 a judgment
    work(wendy, job)
    work(wendy, job)
    work(walter, job)
    # Owed, not yet in the ledger: the workers and the client already see it.
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY).exists()
    assert (worker_money(worker=wendy).pending, worker_money(worker=walter).pending) == (D("0.04"), D("0.02"))
    assert job_escrow(job_id=job.pk) == D("0.40") - D("0.06")

    posted = job_pay_post(job_id=job.pk)

    assert (posted.earnings, posted.amount, posted.covered) == (3, D("0.06"), D("0.00"))
    assert _pays(job.pk) == {wendy.pk: D("0.04"), walter.pk: D("0.02")}
    assert account_get(kind=AccountKind.CLIENT_ESCROW, job=job).balance == D("0.34")
    assert job_pay_post(job_id=job.pk).earnings == 0  # nothing is posted twice
    assert (worker_money(worker=wendy).pending, worker_money(worker=walter).pending) == (D("0.04"), D("0.02"))
    assert ledger_audit().ok


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_never_waits_for_an_earning_someone_holds_and_the_next_batch_posts_it(
    ada: User, acme: Organization, wendy: User, walter: User
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=4, overlap=1)
    held_earning = work(wendy, job)
    work(walter, job)
    assert held_earning is not None
    holding, go = threading.Event(), threading.Event()

    def hold() -> None:  # as a reversal holding Wendy's earning would
        try:
            with transaction.atomic():
                Earning.objects.select_for_update().get(pk=held_earning.pk)
                holding.set()
                go.wait(WAIT)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(WAIT)
    try:
        first = job_pay_post(job_id=job.pk)  # returns at once: Wendy's row is skipped
    finally:
        go.set()
        holder.join(WAIT)

    assert (first.earnings, _pays(job.pk)) == (1, {walter.pk: D("0.02")})
    assert job_pay_post(job_id=job.pk).earnings == 1
    assert _pays(job.pk) == {walter.pk: D("0.02"), wendy.pk: D("0.02")}
    assert ledger_audit().ok


def test_quorum_covers_pay_a_blocked_worker_kept_and_the_client_never_pays_for_it(
    ada: User, acme: Organization, wendy: User, walter: User
) -> None:
    tier("exact", price="0.0200", pay="0.0200", overlap=1)  # the hold is the pay: nothing spare
    fund(ada, acme, "1.00")
    job = published(acme, items=3, tier="exact", overlap=1)
    assert job_escrow(job_id=job.pk) == D("0.06")
    first = [work(wendy, job), work(wendy, job)]
    assert all(first)
    # Released before anyone noticed: a block cannot take it back (the policy).
    earnings_release(now=timezone.now() + timedelta(days=30))
    assert worker_money(worker=wendy).available == D("0.04")
    flows.worker_block(job=job, worker=wendy, reason="Copied answers", actor=ada)
    while work_through_flow(walter, job) is not None:  # Walter labels all three items again
        pass

    budget = JobBudget.objects.get(job=job)
    assert budget.settled_at is not None
    # By hand: the escrow took 0.06; workers were paid 0.04 (kept) + 0.06 (Walter) = 0.10, so
    # Quorum put in 0.04. The client is charged 3 items × 0.02 = 0.06, its whole hold, and the
    # job's revenue is 0.06 − 0.10 = −0.04: the loss is Quorum's, exactly the cover.
    assert budget.covered == D("0.04")
    assert (budget.charged, budget.spent, budget.revenue, budget.refunded) == (
        D("0.06"), D("0.10"), D("-0.04"), D("0.00"))
    assert organization_balance(organization=acme) == D("1.00") - D("0.06")
    assert worker_money(worker=wendy).available == D("0.04")
    assert worker_money(worker=walter).pending == D("0.06")
    assert account_get(kind=AccountKind.PLATFORM_REVENUE).balance == D("-0.04")
    assert account_get(kind=AccountKind.CLIENT_ESCROW, job=job).balance == D("0.00")
    assert LedgerTransaction.objects.filter(kind=TransactionKind.ESCROW_COVER, job_id=job.pk).count() == 1
    report = ledger_audit()
    assert report.ok, report.violations


def _batch_statements(ada: User, acme: Organization, workers: int) -> tuple[int, dict[int, D], D]:
    """Post one batch of a job where `workers` workers each earned two judgments' pay: the
    statements it ran, what each worker was credited and what the escrow kept."""
    fund(ada, acme, "100.00")
    # standard: 0.10 an item held, 0.02 a judgment; one item left, so the job stays open
    job = published(acme, items=2 * workers + 1, overlap=1)
    crowd = WorkerFactory.create_batch(workers)
    for worker in crowd:
        work(worker, job)
        work(worker, job)
    with CaptureQueriesContext(connection) as queries:
        posted = job_pay_post(job_id=job.pk)
    assert (posted.earnings, posted.workers) == (2 * workers, workers)
    escrow = account_get(kind=AccountKind.CLIENT_ESCROW, job=job).balance
    return len(queries), _pays(job.pk), escrow


def test_one_batch_pays_a_crowd_in_as_many_statements_as_it_pays_two_workers(
    ada: User, acme: Organization
) -> None:
    few, few_pays, few_escrow = _batch_statements(ada, acme, workers=2)
    many, many_pays, many_escrow = _batch_statements(ada, acme, workers=60)

    # By hand: every worker earned 2 x 0.02; each job's escrow held 0.10 an item.
    assert set(few_pays.values()) == set(many_pays.values()) == {D("0.04")}
    assert (len(few_pays), len(many_pays)) == (2, 60)
    assert (few_escrow, many_escrow) == (D("0.50") - D("0.08"), D("12.10") - D("2.40"))
    # A statement or two per worker would show here: 60 workers cost what 2 do.
    assert many == few
    assert Earning.objects.filter(posted_at__isnull=True).count() == 0
    # Each earning names the transaction that paid its own worker.
    assert not Earning.objects.exclude(pay_transaction__worker_id=F("worker_id")).exists()
    assert ledger_audit().ok
