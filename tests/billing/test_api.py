"""The billing API, as each member of the cast uses it. Money states come from the billing
services (top-up, escrow at publish, pay per judgment, settlement), not the flows.

Alice and Bob (Acme) see Acme's money and invoices; Carol (Globex) gets 404 on Acme's; Wendy and
Walter (workers) see only their own earnings and get 403 on client and admin endpoints; Ada
(admin) records top-ups and reviews payout batches."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.accounts.models import Organization, User
from marketplace.billing.posting import pay_post_tick
from marketplace.billing.selectors import organization_balance
from marketplace.billing.services import job_quality_credit, job_settle
from marketplace.jobs.models import Job
from marketplace.quality.models import WorkerJobStats
from tests.billing.helpers import D, fund, published, work, work_all
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], APIClient]


def settled_with_credit(organization: Organization, title: str = "Cats") -> Job:
    """A standard job of 4 items (0.10 each) completed by three workers, its interval two accuracy
    points under its 0.90 promise (20% credited), settled: charged 0.40 − 0.08 = 0.32."""
    job = published(organization, items=4, title=title)
    for worker in [WorkerFactory() for _ in range(3)]:
        work_all(worker, job)
    job_quality_credit(
        job=job, delivered_accuracy=D("0.85"), interval=(D("0.80"), D("0.88")),
        method="accuracy on 50 held-back gold items",
    )
    job_settle(job=job)
    return job


# Quotes


def test_a_quote_shows_every_tier_side_by_side_with_exact_prices(alice: User, client_for: ClientFor) -> None:
    response = client_for(alice).post("/api/v1/quotes/", {"items": 1000}, format="json")
    assert response.status_code == 200, response.content
    tiers = {t["tier"]: t for t in response.json()["tiers"]}
    assert [t["tier"] for t in response.json()["tiers"]] == ["economy", "standard", "premium"]
    assert (tiers["economy"]["price"], tiers["standard"]["price"], tiers["premium"]["price"]) == (
        "70.00", "100.00", "450.00"
    )
    standard = tiers["standard"]
    assert standard["expected_judgments"] == 3333  # 1000 × 3 / (1 − 0.10 gold)
    assert standard["expected_hours"] == "0.93"  # 3333 × 10 s over 10 workers
    # No history yet: the tier's assumed 0.82 per worker, majority of 3.
    assert (standard["accuracy_source"], standard["expected_accuracy"]) == ("tier_default", "0.9145")


def test_a_quote_uses_the_measured_accuracy_of_the_qualified_pool_once_there_is_history(
    ada: User, acme: Organization, alice: User, wendy: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    WorkerJobStats.objects.create(job=published(acme, items=1), worker=wendy, gold_seen=20, gold_correct=18)
    response = client_for(alice).post("/api/v1/quotes/", {"items": 100, "workers": 2}, format="json")
    standard = next(t for t in response.json()["tiers"] if t["tier"] == "standard")
    # 0.9 measured per worker: 0.9³ + 3 × 0.9² × 0.1 = 0.972 for a majority of three.
    assert (standard["accuracy_source"], standard["expected_accuracy"]) == ("measured_pool", "0.9720")


def test_a_quote_needs_a_positive_item_count_and_is_not_for_workers(
    alice: User, wendy: User, client_for: ClientFor
) -> None:
    bad = client_for(alice).post("/api/v1/quotes/", {"items": 0}, format="json")
    assert bad.status_code == 400 and "items" in bad.json()["error"]["message"]
    assert client_for(wendy).post("/api/v1/quotes/", {"items": 10}, format="json").status_code == 403


def test_a_quote_for_one_tier_at_a_chosen_overlap_is_the_price_publishing_charges(
    ada: User, acme: Organization, alice: User, client_for: ClientFor
) -> None:
    api = client_for(alice)
    body = api.post("/api/v1/quotes/", {"items": 1000, "tier": "standard", "overlap": 5}, format="json").json()
    (standard,) = body["tiers"]
    # Two judgments more than the tier's three, at 0.02 with 10% gold mixed in: 0.0444 more an item.
    assert (standard["tier"], standard["price_per_item"], standard["price"]) == ("standard", "0.1444", "144.40")
    assert (body["overlap"], standard["expected_judgments"]) == (5, 5556)  # 1000 × 5 / 0.9
    fund(ada, acme, "10.00")
    job = published(acme, items=2, tier="standard", overlap=5, reward_per_judgment=D("0.02"), gold_rate=D("0.1"))
    assert str(job.budget.price_per_item) == standard["price_per_item"]
    # Fewer judgments never lower the tier's price, and say what they do to the accuracy.
    fewer = api.post("/api/v1/quotes/", {"items": 1000, "tier": "standard", "overlap": 1}, format="json")
    assert (fewer.json()["tiers"][0]["price"], fewer.json()["tiers"][0]["expected_accuracy"]) == ("100.00", "0.8200")


@pytest.mark.parametrize("body, field", [
    ({"items": 10, "tier": "golden"}, "tier"), ({"items": 10, "tier": 2}, "tier"),
    ({"items": 10, "overlap": 0}, "overlap"), ({"items": 10, "overlap": 51}, "overlap"),
    ({"items": 10, "overlap": "3"}, "overlap"), ({"items": 10, "overlap": 2.5}, "overlap"),
    ({"items": 10, "overlpa": 5}, "overlpa"),
])
def test_a_quote_refuses_a_tier_or_overlap_it_cannot_price_and_names_it(
    alice: User, client_for: ClientFor, body: dict[str, Any], field: str
) -> None:
    response = client_for(alice).post("/api/v1/quotes/", body, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["message"]
    if field == "tier":
        assert "standard" in response.json()["error"]["message"] or body["tier"] == 2


# The client's money


def test_a_client_sees_the_balance_each_open_escrow_and_the_ledger_newest_first(
    ada: User, acme: Organization, alice: User, wendy: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "100.00")
    job = published(acme, items=10)  # standard: 10 × 0.10 escrowed
    work(wendy, job)  # earns 0.02, owed from the escrow
    pay_post_tick()  # the schedule posts it: the pay leaves the escrow in the ledger
    body = client_for(alice).get("/api/v1/billing/").json()
    assert (body["balance"], body["escrow_total"]) == ("99.00", "0.98")
    assert body["open_jobs"] == [
        {"job": job.pk, "title": job.title, "status": "open", "budget": "1.00", "escrow": "0.98"}
    ]
    transactions = body["transactions"]["results"]
    assert [t["kind"] for t in transactions] == ["judgment_pay", "escrow_open", "topup"]
    assert [(t["balance_change"], t["escrow_change"]) for t in transactions] == [
        ("0.00", "-0.02"), ("-1.00", "1.00"), ("100.00", "0.00")
    ]


def test_another_organization_sees_none_of_acmes_money(
    ada: User, acme: Organization, carol: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "100.00")
    published(acme, items=10)
    body = client_for(carol).get("/api/v1/billing/").json()
    assert (body["balance"], body["open_jobs"], body["transactions"]["count"]) == ("0.00", [], 0)


def test_workers_and_admins_have_no_client_billing_page(
    wendy: User, ada: User, client_for: ClientFor
) -> None:
    assert client_for(wendy).get("/api/v1/billing/").status_code == 403
    assert client_for(ada).get("/api/v1/billing/").status_code == 403


# Invoices


def test_a_job_invoice_shows_the_line_the_credit_with_evidence_and_the_total(
    ada: User, acme: Organization, alice: User, bob: User, client_for: ClientFor
) -> None:
    job = (fund(ada, acme, "10.00"), settled_with_credit(acme))[1]
    body = client_for(bob).get(f"/api/v1/jobs/{job.pk}/invoice/").json()  # Alice's colleague
    assert body["status"] == "final"
    assert [(x["tier"], x["completed_items"], x["price_per_item"], x["amount"]) for x in body["lines"]] == [
        ("standard", 4, "0.1000", "0.40")
    ]
    [credit] = body["credits"]
    assert (credit["promised_accuracy"], credit["delivered_accuracy"], credit["rate"], credit["amount"]) == (
        "0.9000", "0.8500", "0.2000", "0.08"
    )
    assert credit["interval"] == ["0.8000", "0.8800"] and "held-back gold" in credit["method"]
    assert (body["subtotal"], body["credits_total"], body["total"]) == ("0.40", "0.08", "0.32")
    # The client paid exactly the total: 10.00 − 0.32 is back on the balance.
    assert organization_balance(organization=acme) == D("9.68")


def test_another_organizations_job_invoice_is_not_found_and_workers_are_refused(
    ada: User, acme: Organization, carol: User, wendy: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    job = settled_with_credit(acme)
    for fmt in ("json", "csv", "html"):
        response = client_for(carol).get(f"/api/v1/jobs/{job.pk}/invoice/?format={fmt}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client_for(wendy).get(f"/api/v1/jobs/{job.pk}/invoice/").status_code == 403
    assert client_for(ada).get(f"/api/v1/jobs/{job.pk}/invoice/").json()["total"] == "0.32"


def test_the_invoice_downloads_as_csv(
    ada: User, acme: Organization, alice: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    job = settled_with_credit(acme)
    response = client_for(alice).get(f"/api/v1/jobs/{job.pk}/invoice/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f"ACME-JOB-{job.pk}.csv" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [(row[1], row[7]) for row in rows[1:]] == [("line", "0.40"), ("credit", "-0.08"), ("total", "0.32")]
    # Lines end as in every CSV download (results, the data browser's, payout files): \r\n, RFC 4180.
    assert text.count("\r\n") == len(rows) and "\n" not in text.replace("\r\n", "")


def test_the_printable_invoice_page_escapes_what_the_client_typed(
    ada: User, acme: Organization, alice: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    job = settled_with_credit(acme, title="<script>alert(1)</script>")
    response = client_for(alice).get(f"/api/v1/jobs/{job.pk}/invoice/?format=html")
    page = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Invoice ACME-JOB-" in page and "0.32" in page and "held-back gold" in page


def test_the_invoice_page_has_the_portals_look_a_date_the_currency_and_a_way_back(
    ada: User, acme: Organization, alice: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    job = settled_with_credit(acme, title="Pets")
    page = client_for(alice).get(f"/api/v1/jobs/{job.pk}/invoice/?format=html").content.decode()
    assert 'class="topbar"' in page  # the portal's header and navigation
    assert f'data-invoice="issued">{timezone.now():%B} ' in page
    assert 'data-invoice="currency">USD' in page and 'data-invoice="total">$0.32<' in page
    assert f'data-invoice="organization">{acme.name} ' in page
    assert f'href="/portal/jobs/{job.pk}/"' in page and 'href="/portal/billing/"' in page
    assert "−$0.08" in page and "delivered 85%" in page  # every amount and rate in one format


def test_the_monthly_invoice_totals_the_jobs_settled_that_month(
    ada: User, acme: Organization, globex: Organization, alice: User, carol: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    fund(ada, globex, "10.00", ref="wire-g")
    settled_with_credit(acme, title="First")
    settled_with_credit(acme, title="Second")
    month = timezone.now().strftime("%Y-%m")
    body = client_for(alice).get(f"/api/v1/billing/invoices/?month={month}").json()
    assert [line["title"] for line in body["lines"]] == ["First", "Second"]
    assert body["total"] == "0.64"
    assert client_for(carol).get(f"/api/v1/billing/invoices/?month={month}").json()["lines"] == []


def test_a_month_not_over_is_provisional_and_cannot_be_paid_until_it_ends(
    ada: User, acme: Organization, alice: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    settled_with_credit(acme)
    month = timezone.now().strftime("%Y-%m")
    for asked in (month, "2099-01"):  # this month, and one still to come
        body = client_for(alice).get(f"/api/v1/billing/invoices/?month={asked}").json()
        assert body["status"] == "provisional", asked
    page = client_for(alice).get(f"/api/v1/billing/invoices/?month={month}&format=html").content.decode()
    assert f"Provisional: {month} is not over yet" in page
    refused = client_for(ada).post(f"/api/v1/admin/invoices/ACME-{month}/paid/")
    assert refused.status_code == 409 and "not over yet" in refused.json()["error"]["message"]
    assert client_for(alice).get("/api/v1/billing/invoices/?month=2025-01").json()["status"] == "final"
    assert client_for(ada).post("/api/v1/admin/invoices/ACME-2025-01/paid/").status_code == 200


def test_an_admin_reads_an_organizations_monthly_invoice_by_naming_it(
    ada: User, acme: Organization, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    settled_with_credit(acme)
    month = timezone.now().strftime("%Y-%m")
    admin = client_for(ada)
    assert admin.get(f"/api/v1/billing/invoices/?month={month}&organization={acme.pk}").json()["total"] == "0.32"
    assert admin.get(f"/api/v1/billing/invoices/?month={month}").status_code == 404


def test_an_admin_marks_an_invoice_paid_and_the_client_sees_it(
    ada: User, acme: Organization, alice: User, wendy: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    job = settled_with_credit(acme)
    url = f"/api/v1/admin/invoices/ACME-JOB-{job.pk}/paid/"
    assert client_for(alice).post(url).status_code == 403
    assert client_for(wendy).post(url).status_code == 403
    paid = client_for(ada).post(url, {"payment_reference": "wire-9"}, format="json")
    assert paid.status_code == 200 and (paid.json()["total"], paid.json()["recorded_by"]) == ("0.32", "ada")
    invoice = client_for(alice).get(f"/api/v1/jobs/{job.pk}/invoice/").json()
    assert invoice["paid"]["total"] == "0.32" and invoice["paid"]["payment_reference"] == "wire-9"
    assert client_for(ada).post("/api/v1/admin/invoices/ACME-JOB-999999/paid/").status_code == 404


def test_a_bad_month_or_format_is_a_clear_400(alice: User, client_for: ClientFor) -> None:
    api = client_for(alice)
    assert "YYYY-MM" in api.get("/api/v1/billing/invoices/?month=2026-13").json()["error"]["message"]
    assert "format" in api.get("/api/v1/billing/invoices/?format=xml").json()["error"]["message"]


def test_an_organization_that_is_not_an_id_is_a_clear_400_for_clients_and_admins_alike(
    alice: User, ada: User, client_for: ClientFor
) -> None:
    for user in (alice, ada):
        response = client_for(user).get("/api/v1/billing/invoices/?organization=acme")
        assert response.status_code == 400
        assert response.json()["error"]["message"] == "organization must be an organization id."


# Admins: top-ups


def test_an_admin_records_a_top_up_once_per_payment_reference(
    ada: User, acme: Organization, client_for: ClientFor
) -> None:
    api = client_for(ada)
    payment = {"organization": acme.pk, "amount": "125.50", "payment_reference": "wire-77", "memo": "March"}
    first = api.post("/api/v1/admin/topups/", payment, format="json")
    assert first.status_code == 201, first.content
    assert (first.json()["amount"], first.json()["balance"]) == ("125.50", "125.50")
    again = api.post("/api/v1/admin/topups/", payment, format="json")  # a retried request
    assert again.json()["balance"] == "125.50"
    assert organization_balance(organization=acme) == D("125.50")


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        ("10.001", "at most 2 decimal places"),
        ("-5.00", "positive"),
        ("0", "positive"),
        ("ten", "a number"),
        (10.5, "not float"),
        ("NaN", "positive"),
        (None, "required"),
    ],
)
def test_a_top_up_amount_must_be_positive_money_with_two_places(
    ada: User, acme: Organization, client_for: ClientFor, amount: Any, says: str
) -> None:
    payment = {"organization": acme.pk, "amount": amount, "payment_reference": "wire-1"}
    response = client_for(ada).post("/api/v1/admin/topups/", payment, format="json")
    assert response.status_code == 400 and says in response.json()["error"]["message"]
    assert organization_balance(organization=acme) == D("0.00")


def test_only_admins_record_top_ups_for_organizations_that_exist(
    ada: User, acme: Organization, alice: User, wendy: User, client_for: ClientFor
) -> None:
    payment = {"organization": acme.pk, "amount": "5.00", "payment_reference": "wire-1"}
    assert client_for(alice).post("/api/v1/admin/topups/", payment, format="json").status_code == 403
    assert client_for(wendy).post("/api/v1/admin/topups/", payment, format="json").status_code == 403
    missing = client_for(ada).post("/api/v1/admin/topups/", {**payment, "organization": 999999}, format="json")
    assert missing.status_code == 404
    no_reference = client_for(ada).post(
        "/api/v1/admin/topups/", {"organization": acme.pk, "amount": "5.00"}, format="json"
    )
    assert no_reference.status_code == 400 and "payment_reference" in no_reference.json()["error"]["message"]
