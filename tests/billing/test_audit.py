"""billing_audit: clean after real activity, and loud about every kind of tampering."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from marketplace.accounts.models import Organization, User
from marketplace.billing import ledger
from marketplace.billing.audit import ledger_audit
from marketplace.billing.ledger import account_get
from marketplace.billing.models import (
    AccountKind,
    Earning,
    InvoicePayment,
    LedgerAccount,
    LedgerEntry,
    TransactionKind,
)
from marketplace.billing.services import job_settle
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import job_transition
from tests.billing.helpers import D, fund, published, work_all
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
    ledger.transfer(  # a second pay under another reference: what the unique reference prevents
        kind=TransactionKind.JUDGMENT_PAY,
        reference=f"judgment:{earning.judgment_id}:pay:again",
        source=account_get(kind=AccountKind.PLATFORM_REVENUE),
        target=account_get(kind=AccountKind.WORKER_PENDING, worker_id=earning.worker_id),
        amount=earning.amount,
        judgment_id=earning.judgment_id,
    )
    err = _audit_fails()
    assert f"judgment {earning.judgment_id} was paid 2 times" in err


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
