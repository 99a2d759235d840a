"""The client portal's billing page: balance, escrow per job, the ledger and invoice links, all
from the requester's own organization.

Cast: Alice is Acme's client, Carol is Globex's client and sees none of Acme's money.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.billing.models import JobBudget
from tests.factories import fund, open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db



def test_billing_shows_balance_escrow_and_the_ledger(alice: User) -> None:
    fund(alice.organization, "50.00")
    open_job_with_items(items=10, organization=alice.organization, title="Acme billing job")
    page = browser(alice).get(reverse("client-billing"))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="balance">$49.00<' in body  # 50.00 less the 1.00 escrowed at publish
    assert "Acme billing job" in body and "1.00" in body  # 10 items × 0.10 in escrow
    assert "Top-up" in body and "Escrow for the job&#x27;s items" in body
    assert "Escrow at publish for 10 items of job" in body


def test_items_imported_into_a_running_job_are_escrowed_saying_so(alice: User) -> None:
    job = open_job_with_items(items=10, organization=alice.organization)
    fund(alice.organization, "1.00")
    flows.items_import(job=job, payload=b"external_id,text\nlate,one more\n", fmt="csv", gold=False)

    body = browser(alice).get(reverse("client-billing")).content.decode()
    assert f"Escrow for 1 item imported into job {job.pk} while it ran" in body
    assert "at publish for 1 item" not in body and "1 items" not in body


def test_billing_links_each_jobs_invoice_and_the_months_with_settled_jobs(alice: User) -> None:
    job = open_job_with_items(items=2, organization=alice.organization)
    flows.job_cancel(job=job, user=alice)
    body = browser(alice).get(reverse("client-billing")).content.decode()
    invoice = reverse("job-invoice", args=[job.pk])
    assert f"{invoice}?format=html" in body and f"{invoice}?format=csv" in body
    settled = JobBudget.objects.get(job=job).settled_at
    assert settled is not None
    month = f"{settled:%Y-%m}"
    assert f"{reverse('billing-invoice-month')}?month={month}&amp;format=html" in body


def test_billing_never_shows_another_organizations_money(alice: User, carol: User) -> None:
    fund(alice.organization, "77.00")
    open_job_with_items(items=2, organization=alice.organization, title="Acme private")
    body = browser(carol).get(reverse("client-billing")).content.decode()
    assert "77.00" not in body and "Acme private" not in body


def test_billing_is_for_clients_only(wendy: User, ada: User) -> None:
    url = reverse("client-billing")
    assert Client().get(url).status_code == 302
    assert browser(wendy).get(url).status_code == 404
    assert browser(ada).get(url).status_code == 404


def test_job_titles_on_the_billing_page_are_escaped(alice: User) -> None:
    open_job_with_items(items=1, organization=alice.organization, title="<script>alert(1)</script>")
    body = browser(alice).get(reverse("client-billing")).content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
