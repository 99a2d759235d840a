"""Invoices are read from settlement data: lines by job and tier, credits with their evidence,
a total that equals what the ledger charged. Money states are set up with the billing services."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.accounts.models import Organization, User
from marketplace.billing.invoice_formats import invoice_as_dict, invoice_csv_lines
from marketplace.billing.invoices import (
    PROVISIONAL,
    invoice_by_number,
    invoice_for_job,
    invoice_for_month,
    invoice_mark_paid,
    month_parse,
)
from marketplace.billing.models import JobBudget
from marketplace.billing.services import job_quality_credit, job_settle
from marketplace.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import job_transition
from tests.billing.helpers import D, fund, published, work, work_all
from tests.factories import WorkerFactory, open_job_with_items

pytestmark = pytest.mark.django_db


def completed(organization: Organization, *, items: int = 4, title: str = "Cats") -> Job:
    """A standard-tier job (0.10 an item) whose items were all labeled by three workers."""
    job = published(organization, items=items, title=title)
    for worker in [WorkerFactory() for _ in range(3)]:
        work_all(worker, job)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    return job


def missed_promise(job: Job) -> None:
    """Standard promises 0.90; the interval tops out at 0.88, two points short for sure: 20% of
    the charge back (the credit is owed for the shortfall the interval proves)."""
    job_quality_credit(
        job=job,
        delivered_accuracy=D("0.85"),
        interval=(D("0.80"), D("0.88")),
        method="accuracy on 50 held-back gold items, Wilson 95% interval",
    )


def test_a_settled_jobs_invoice_charges_completed_items_times_the_tier_price(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "10.00")
    job = completed(acme)
    budget = job_settle(job=job)
    invoice = invoice_for_job(job=job)
    assert invoice.status == "final" and invoice.number == f"ACME-JOB-{job.pk}"
    [line] = invoice.lines
    assert (line.tier, line.completed_items, line.price_per_item, line.amount) == (
        "standard", 4, D("0.1000"), D("0.40")
    )
    assert invoice.credits == []
    assert budget is not None and invoice.total == budget.charged == D("0.40")


def test_a_missed_quality_promise_appears_as_a_credit_with_its_evidence(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "10.00")
    job = completed(acme)
    missed_promise(job)
    budget = job_settle(job=job)
    invoice = invoice_for_job(job=job)
    [credit] = invoice.credits
    assert (credit.promised_accuracy, credit.delivered_accuracy) == (D("0.9000"), D("0.8500"))
    assert (credit.interval_low, credit.interval_high) == (D("0.8000"), D("0.8800"))
    assert "held-back gold" in credit.method and credit.rate == D("0.2000")
    assert (invoice.subtotal, invoice.credits_total, invoice.total) == (D("0.40"), D("0.08"), D("0.32"))
    assert budget is not None and invoice.total == budget.charged


def test_an_unsettled_jobs_invoice_is_provisional_and_counts_the_items_completed_so_far(
    ada: User, acme: Organization, wendy: User
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=4, overlap=1)  # one judgment completes an item
    work(wendy, job)
    work(wendy, job)
    missed_promise(job)
    invoice = invoice_for_job(job=job)
    assert invoice.status == PROVISIONAL
    assert (invoice.lines[0].completed_items, invoice.subtotal) == (2, D("0.20"))
    assert (invoice.credits_total, invoice.total) == (D("0.04"), D("0.16"))  # what settling would charge


def test_a_job_never_published_has_no_invoice(acme: Organization) -> None:
    with pytest.raises(NotFound):
        invoice_for_job(job=open_job_with_items(organization=acme, items=2, publish=False))


def test_the_monthly_invoice_lists_only_the_organizations_jobs_settled_that_month(
    ada: User, acme: Organization, globex: Organization
) -> None:
    fund(ada, acme, "10.00")
    fund(ada, globex, "10.00", ref="wire-g")
    this_month = completed(acme, title="This month")
    last_month = completed(acme, title="Last month")
    still_open = published(acme, items=2, title="Open")
    globex_job = completed(globex, title="Globex's")
    for job in (this_month, last_month, globex_job):
        job_settle(job=job)
    settled = JobBudget.objects.get(job=this_month).settled_at
    assert settled is not None
    JobBudget.objects.filter(job=last_month).update(settled_at=settled - timedelta(days=40))

    invoice = invoice_for_month(organization=acme, year=settled.year, month=settled.month)
    assert [line.job_title for line in invoice.lines] == ["This month"]
    assert invoice.total == D("0.40")
    assert invoice.number == f"ACME-{settled.year:04d}-{settled.month:02d}"
    assert still_open.pk not in {line.job_id for line in invoice.lines}
    # The month is not over: jobs settling before it ends still join this invoice.
    assert invoice.status == PROVISIONAL
    earlier = settled - timedelta(days=40)
    assert invoice_for_month(organization=acme, year=earlier.year, month=earlier.month).status == "final"


def test_the_csv_has_a_row_per_line_a_negative_row_per_credit_and_the_total(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "10.00")
    job = completed(acme, title="=HYPERLINK(evil)")
    missed_promise(job)
    job_settle(job=job)
    rows = list(csv.reader(io.StringIO("".join(invoice_csv_lines(invoice_for_job(job=job))))))
    assert rows[0] == ["invoice", "kind", "job", "title", "tier", "quantity", "unit_price", "amount", "note"]
    assert rows[1][1:8] == ["line", str(job.pk), "'=HYPERLINK(evil)", "standard", "4", "0.1000", "0.40"]
    assert rows[1][8].startswith("missed: delivered 85.0% (95% interval 80.0%–88.0%) against 90.0% promised")  # the promise's verdict on the line
    assert rows[2][1] == "credit" and rows[2][6:8] == ["0.2000", "-0.08"]
    assert "delivered 85.0%" in rows[2][8]
    assert rows[3][1] == "total" and rows[3][7] == "0.32"


def test_amounts_in_the_json_are_strings_with_two_places(ada: User, acme: Organization) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=3)
    job = job_transition(job=job, to=JobStatus.CANCELLED)
    job_settle(job=job)
    body = invoice_as_dict(invoice_for_job(job=job))
    assert (body["subtotal"], body["credits_total"], body["total"]) == ("0.00", "0.00", "0.00")


@pytest.mark.parametrize("raw", ["2026-13", "2026-1", "26-11", "november"])
def test_a_month_that_is_not_yyyy_mm_is_refused(raw: str) -> None:
    with pytest.raises(ApplicationError, match="YYYY-MM"):
        month_parse(raw)


def test_an_admin_marks_a_settled_jobs_invoice_paid_once_and_the_invoice_says_so(
    ada: User, acme: Organization, alice: User
) -> None:
    fund(ada, acme, "10.00")
    job = completed(acme)
    missed_promise(job)
    job_settle(job=job)
    number = f"ACME-JOB-{job.pk}"
    with pytest.raises(PermissionDenied):
        invoice_mark_paid(admin=alice, number=number)
    first = invoice_mark_paid(admin=ada, number=number, payment_reference="wire-9")
    again = invoice_mark_paid(admin=ada, number=number, payment_reference="other")
    assert first.pk == again.pk and (first.total, again.payment_reference) == (D("0.32"), "wire-9")
    paid = invoice_as_dict(invoice_for_job(job=job))["paid"]
    assert paid is not None and (paid["total"], paid["payment_reference"]) == ("0.32", "wire-9")


def test_an_invoice_that_can_still_change_cannot_be_marked_paid(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=2)
    with pytest.raises(Conflict, match="not settled"):
        invoice_mark_paid(admin=ada, number=f"ACME-JOB-{job.pk}")
    now = timezone.now()
    with pytest.raises(Conflict, match="not over"):
        invoice_mark_paid(admin=ada, number=f"ACME-{now.year:04d}-{now.month:02d}")
    assert invoice_mark_paid(admin=ada, number="ACME-2025-01").total == D("0.00")  # a past month


@pytest.mark.parametrize("number", ["ACME-JOB-999999", "NOBODY-2025-01", "ACME-2025-13", "whatever"])
def test_an_unknown_invoice_number_is_not_found(acme: Organization, number: str) -> None:
    with pytest.raises(NotFound):
        invoice_by_number(number=number)


def test_another_organizations_job_number_does_not_reach_acmes_job(
    ada: User, acme: Organization, globex: Organization
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=2)
    with pytest.raises(NotFound):
        invoice_by_number(number=f"GLOBEX-JOB-{job.pk}")
