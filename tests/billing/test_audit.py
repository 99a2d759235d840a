"""billing_audit: clean after real activity, and loud about every kind of tampering."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from marketplace.accounts.models import Organization, User
from marketplace import flows, flows_more
from marketplace.billing import ledger
from marketplace.billing.posting import job_pay_post
from marketplace.billing.audit import CHECKS, ledger_audit
from marketplace.billing.ledger import account_get
from marketplace.billing.models import (
    AccountKind,
    Earning,
    InvoicePayment,
    JobBudget,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)
from marketplace.billing.reversals import judgment_pay_reverse
from marketplace.billing.management.commands.billing_audit import Command
from marketplace.billing.services import job_settle
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling import reopening
from marketplace.labeling.models import Judgment
from tests.billing.helpers import D, fund, published, work, work_all
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def activity(ada: User, acme: Organization) -> Job:
    """A job published, fully worked by three workers and settled."""
    fund(ada, acme, "10.00")
    job = published(acme, items=3)
    for worker in [WorkerFactory() for _ in range(3)]:
        work_all(worker, job)
    job.refresh_from_db()
    job_settle(job=job)
    return job


def _audit() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("billing_audit", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _audit_fails() -> str:
    err = StringIO()
    with pytest.raises(CommandError, match="violation"):
        call_command("billing_audit", stdout=StringIO(), stderr=err)
    return err.getvalue()


def _tamper(sql: str, params: list[object]) -> None:
    """Change ledger rows behind the services' back (on PostgreSQL, past the append-only trigger,
    as a database owner could)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SET CONSTRAINTS ALL IMMEDIATE"
            )  # the balance checks queued so far run now
            cursor.execute(
                "SET LOCAL session_replication_role = replica"
            )  # triggers off until rollback
        cursor.execute(sql, params)


@pytest.mark.usefixtures("activity")
def test_the_audit_passes_after_publishing_working_and_settling() -> None:
    out, err = _audit()
    assert "billing audit: OK" in out and not err
    assert "9 judgments paid, 1 jobs settled" in out
    assert "platform_revenue" in out


@pytest.mark.usefixtures("activity")
def test_the_audit_fails_on_a_tampered_entry() -> None:
    entry = LedgerEntry.objects.filter(transaction__kind=TransactionKind.JUDGMENT_PAY).first()
    assert entry is not None
    _tamper("UPDATE billing_ledgerentry SET amount = amount + 1 WHERE id = %s", [entry.pk])
    err = _audit_fails()
    assert f"transaction {entry.transaction_id} entries sum to 1.00" in err
    assert f"account {entry.account_id}" in err and "caches" in err


@pytest.mark.usefixtures("activity")
def test_the_audit_fails_when_a_cached_balance_drifts_from_its_entries(acme: Organization) -> None:
    LedgerAccount.objects.filter(kind=AccountKind.CLIENT_BALANCE, organization=acme).update(
        balance=D("99.00")
    )
    assert "caches 99.00 but its entries sum to" in _audit_fails()


def test_the_audit_fails_when_a_judgment_is_paid_twice(activity: Job) -> None:
    earning = Earning.objects.first()
    assert earning is not None
    again, _ = ledger.transfer(  # a second pay under another reference: no earning names it
        kind=TransactionKind.JUDGMENT_PAY,
        reference=f"judgment:{earning.judgment_id}:pay:again",
        source=account_get(kind=AccountKind.PLATFORM_REVENUE),
        target=account_get(kind=AccountKind.WORKER_PENDING, worker_id=earning.worker_id),
        amount=earning.amount,
        judgment_id=earning.judgment_id,
        worker_id=earning.worker_id,
    )
    err = _audit_fails()
    assert f"pay transaction {again.pk} credits {earning.amount} to worker {earning.worker_id}, but no earning names it" in err


def test_the_audit_fails_when_a_batch_pays_other_than_its_earnings(activity: Job) -> None:
    earning = Earning.objects.exclude(pay_transaction=None).first()
    assert earning is not None
    _tamper("UPDATE billing_earning SET amount = amount + 0.01 WHERE id = %s", [earning.pk])
    assert f"pay transaction {earning.pay_transaction_id} credits" in _audit_fails()


def test_the_audit_recomputes_each_workers_pay_from_the_remainder_rule(activity: Job) -> None:
    """An earning whose rank skips one, or an amount the rule does not give, is caught even when
    the ledger moved exactly that amount (the audit's other checks would agree with it)."""
    earning = Earning.objects.filter(job=activity).order_by("-rank").first()
    assert earning is not None
    _tamper("UPDATE billing_earning SET rank = rank + 1 WHERE id = %s", [earning.pk])
    assert f"worker {earning.worker_id} in job {activity.pk}: 3 ranked earnings, yet ranks up to 4" in _audit_fails()


def test_the_audit_fails_when_an_undone_answer_keeps_its_rank(activity: Job) -> None:
    """The old undo left its rank taken, so answering again was paid by the next rank."""
    earning = Earning.objects.filter(job=activity).order_by("-rank").first()
    assert earning is not None
    Judgment.objects.filter(pk=earning.judgment_id).update(status="withdrawn")
    assert f"earnings of undone answers still hold a rank: [{earning.pk}]" in _audit_fails()


def test_the_audit_fails_when_a_job_is_charged_twice(activity: Job, acme: Organization) -> None:
    ledger.transfer(
        kind=TransactionKind.JOB_SETTLE,
        reference=f"job:{activity.pk}:settle:again",
        source=account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=acme.pk),
        target=account_get(kind=AccountKind.PLATFORM_REVENUE),
        amount=D("0.30"),
        job_id=activity.pk,
    )
    assert f"job {activity.pk} was settled 2 times" in _audit_fails()


def test_a_cancelled_job_with_a_refund_leaves_the_audit_clean(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "1.00")
    job = job_transition(job=published(acme, items=5), to=JobStatus.CANCELLED)
    job_settle(job=job)
    assert "OK" in _audit()[0]


def test_the_audit_catches_an_invoice_whose_total_changed_after_it_was_paid(ada: User, acme: Organization) -> None:
    InvoicePayment.objects.create(number="ACME-2026-01", organization=acme, total="12.34", recorded_by=ada)
    report = ledger_audit()
    assert "invoice ACME-2026-01: paid 12.34, now totals 0.00" in report.violations


# --- The after-state of each money defect, planted behind the services' back -----------------


@pytest.fixture
def open_job(ada: User, acme: Organization, wendy: User) -> Job:
    """An open job Wendy worked two items of; her pay is posted and still pending."""
    fund(ada, acme, "10.00")
    job = published(acme, items=4, overlap=1)
    work(wendy, job)
    work(wendy, job)
    job_pay_post(job_id=job.pk)
    return job


def test_the_audit_names_a_reversal_that_marked_earnings_reversed_but_moved_no_money(
    open_job: Job, wendy: User
) -> None:
    first, second = Earning.objects.filter(worker=wendy).order_by("id")
    with transaction.atomic():  # a real reversal of the first earning
        judgment_pay_reverse(judgment=Judgment.objects.get(pk=first.judgment_id))
    first.refresh_from_db()
    # The defect's after-state: a second reversal found the first one's reference and marked
    # its own earning reversed, naming the old transaction; the money stayed pending.
    Earning.objects.filter(pk=second.pk).update(
        status=Earning.Status.REVERSED, settled_transaction=first.settled_transaction
    )
    err = _audit_fails()
    assert f"transaction {first.settled_transaction_id} (judgment_pay_reverse)" in err
    assert f"{second.amount} stranded in worker {wendy.pk}'s pending account" in err


def test_the_audit_names_a_budget_below_what_its_escrow_holds(open_job: Job) -> None:
    _tamper("UPDATE billing_jobbudget SET budget = budget - 0.10, items = items - 1 "
            "WHERE job_id = %s", [open_job.pk])
    assert f"job {open_job.pk}: budget 0.30 is below what its escrow holds" in _audit_fails()


def test_the_audit_recomputes_a_settled_charge_from_its_settlement_entries(activity: Job) -> None:
    budget = JobBudget.objects.get(job=activity)
    assert budget.charged is not None and budget.completed_items
    # One item fewer charged, every figure of the row kept consistent with the others.
    _tamper(
        "UPDATE billing_jobbudget SET completed_items = completed_items - 1, "
        "gross = gross - price_per_item, charged = charged - price_per_item, "
        "revenue = revenue - price_per_item, refunded = refunded + price_per_item WHERE job_id = %s",
        [activity.pk],
    )
    err = _audit_fails()
    charged = budget.charged - budget.price_per_item
    assert f"job {activity.pk}: charged {charged:.2f}, but its settlement charged {budget.charged}" in err


def test_the_audit_names_entries_added_to_a_committed_transaction(activity: Job) -> None:
    pay = LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY).first()
    assert pay is not None
    world, revenue = ledger.world(), account_get(kind=AccountKind.PLATFORM_REVENUE)
    # A balanced pair, with the cached balances moved to match: every sum still agrees.
    _tamper(
        "INSERT INTO billing_ledgerentry (transaction_id, account_id, amount) "
        "VALUES (%s, %s, -5.00), (%s, %s, 5.00)",
        [pay.pk, world.pk, pay.pk, revenue.pk],
    )
    _tamper("UPDATE billing_ledgeraccount SET balance = balance - 5.00 WHERE id = %s", [world.pk])
    _tamper("UPDATE billing_ledgeraccount SET balance = balance + 5.00 WHERE id = %s", [revenue.pk])
    err = _audit_fails()
    assert (f"transaction {pay.pk} (judgment_pay) has an entry on account {world.pk} (world), "
            "which a judgment_pay never touches") in err


def _asked_for_one_more(open_job: Job, alice: User) -> list[int]:
    """Alice asks for one more judgment on the two items Wendy delivered (the hold: 2 × pay)."""
    delivered = list(open_job.items.filter(is_complete=True).values_list("pk", flat=True))
    assert flows_more.items_more_judgments(job=open_job, user=alice, item_ids=delivered, more=1, key="m-1").items == 2
    return delivered


def test_the_audit_names_more_judgments_reopened_beyond_their_hold(open_job: Job, alice: User) -> None:
    """What two concurrent copies of one request did before their key was claimed first: each
    reopened the items again, and the one hold paid for none of it."""
    delivered = _asked_for_one_more(open_job, alice)
    assert ledger_audit().violations == []
    for _ in range(2):
        reopening.items_reopen(job_id=open_job.pk, item_ids=delivered, more=1)
    added = JobBudget.objects.get(job=open_job).added
    assert (f"job {open_job.pk}: 6 more judgments asked for pay 0.12, but only {added} was added to its "
            "escrow") in _audit_fails()


def test_the_audit_names_a_settlement_that_returned_the_pay_of_the_judgments_given(
    open_job: Job, alice: User
) -> None:
    """Both asked-for judgments given, then a settlement that charged them nothing (what every
    settlement did before): its figures agree with each other, not with the judgments given."""
    delivered = _asked_for_one_more(open_job, alice)
    work(WorkerFactory(), open_job)
    work(WorkerFactory(), open_job)
    assert sum(Item.objects.filter(pk__in=delivered).values_list("judgment_count", flat=True)) == 4
    flows.job_cancel(job=Job.objects.get(pk=open_job.pk), user=alice)
    assert JobBudget.objects.get(job=open_job).extras_charged == D("0.04")
    _tamper("UPDATE billing_jobbudget SET extras_charged = 0, charged = charged - 0.04, "
            "revenue = revenue - 0.04, refunded = refunded + 0.04 WHERE job_id = %s", [open_job.pk])
    assert f"job {open_job.pk}: charged 0.00 for 2 more judgments (2 asked for, pay 0.0200)" in _audit_fails()


def test_billing_audit_help_lists_every_check_it_runs_in_its_order() -> None:
    shown = " ".join(Command().create_parser("manage.py", "billing_audit").format_help().split())

    assert f"run each of these {len(CHECKS)} checks" in shown
    places = [shown.find(f"{n}. {sentence}.") for n, (sentence, _) in enumerate(CHECKS, start=1)]
    assert -1 not in places, [CHECKS[i][0] for i, place in enumerate(places) if place == -1]
    assert places == sorted(places)
