"""One job's charge is one figure on every page and the API, and each count says what it counts.

Alice (Acme) runs an 11-item job at overlap 1; a worker delivers 10 items, then Alice asks for one
more judgment on 2 of them, which reopens them. The 10 items were delivered, so the 10 are charged
(settling charges items reopened after they completed), while 8 are complete now. Before, the
billing page summed only the items complete now ($0.80) while the job page and the invoice said
$1.00. Every figure below is recomputed by hand: the price per item × the items charged, then
what Alice's money actually moved once the job settled.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from marketplace import flows, flows_more
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import JobBudget
from marketplace.billing.selectors import job_escrow, organization_balance
from marketplace.jobs.models import Item, Job
from tests.billing.helpers import work_through_flow
from tests.factories import WorkerFactory, fund, open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")


def _billing_amount(alice: User, job: Job) -> str:
    """The billing page's "Invoices per job" amount for the job, as shown."""
    body = browser(alice).get(reverse("client-billing")).content.decode()
    body = body[body.index('id="jobs-h"'):]  # the escrow table above lists the job too
    row = re.search(rf'{re.escape(job.title)}</a>.*?<td class="num"[^>]*>(\$[0-9.,]+)<', body, re.S)
    assert row is not None, "the job has no row under Invoices per job"
    return row.group(1)


@pytest.fixture
def reopened(alice: User) -> tuple[Job, Decimal]:
    """The job of the module docstring after the request; and the charge recomputed by hand."""
    job = open_job_with_items(items=11, overlap=1, organization=alice.organization, title="Street signs")
    worker = WorkerFactory()
    for _ in range(10):
        work_through_flow(worker, job)
    delivered = list(Item.objects.filter(job=job, is_complete=True).order_by("pk").values_list("pk", flat=True))
    assert len(delivered) == 10
    fund(alice.organization, "5.00")
    flows_more.items_more_judgments(job=job, user=alice, item_ids=delivered[:2], more=1, key="m-1")
    price = JobBudget.objects.get(job=job).price_per_item
    return Job.objects.get(pk=job.pk), (10 * price).quantize(CENT)  # no judgment given yet: nothing more


def test_the_billing_page_the_job_page_and_the_invoice_show_one_charge_saying_what_it_counts(
    reopened: tuple[Job, Decimal], alice: User, client_for: Any
) -> None:
    job, charge = reopened
    shown = f"${charge:,.2f}"
    assert shown == "$1.00"  # 10 delivered × $0.10, not the 8 complete now ($0.80)

    assert _billing_amount(alice, job) == shown
    billing = browser(alice).get(reverse("client-billing")).content.decode()
    assert "10 items charged" in billing

    page = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert f'data-field="spent">{shown}<' in page
    assert "8</span>\n  of <span" in page and "items complete" in page  # progress: complete now
    assert "10 items charged ×" in page
    assert "2 of them reopened for the more judgments you asked for" in page

    api = client_for(alice)
    assert api.get(f"/api/v1/jobs/{job.pk}/").json()["counts"]["completed_items"] == 8
    invoice = api.get(f"/api/v1/jobs/{job.pk}/invoice/").json()
    assert invoice["total"] == f"{charge}" and invoice["status"] == "provisional"
    [line] = invoice["lines"]
    assert (line["items_charged"], line["items_reopened"], line["completed_items"], line["amount"]) == (
        10, 2, 10, f"{charge}")
    html = api.get(f"/api/v1/jobs/{job.pk}/invoice/", {"format": "html"}).content.decode()
    assert "Items charged" in html and 'data-invoice="items-reopened">2 reopened' in html
    streamed = api.get(f"/api/v1/jobs/{job.pk}/invoice/", {"format": "csv"}).streaming_content
    rows = list(csv.DictReader(io.StringIO(b"".join(streamed).decode())))
    assert (rows[0]["quantity"], rows[0]["amount"]) == ("10", f"{charge}")
    assert "2 of the items charged were reopened" in rows[0]["note"]


def test_what_the_ledger_charges_at_settlement_is_the_figure_every_page_showed(
    reopened: tuple[Job, Decimal], alice: User, client_for: Any
) -> None:
    job, charge = reopened
    # Alice's money in all: her balance and what the job holds (the request's hold included).
    before = organization_balance(organization=job.organization) + JobBudget.objects.get(job=job).budget
    flows.job_cancel(job=job, user=alice)

    assert JobBudget.objects.get(job=job).settled_at is not None and job_escrow(job_id=job.pk) == 0
    assert before - organization_balance(organization=job.organization) == charge
    assert _billing_amount(alice, job) == f"${charge:,.2f}"
    invoice = client_for(alice).get(f"/api/v1/jobs/{job.pk}/invoice/").json()
    assert (invoice["total"], invoice["status"]) == (f"{charge}", "final")
    assert (invoice["lines"][0]["items_charged"], invoice["lines"][0]["items_reopened"]) == (10, 2)
    page = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert "10 items charged ×" in page and "2 of them reopened" in page
    assert ledger_audit().violations == []
