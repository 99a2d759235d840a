"""The client portal's billing page: balance, escrow per job, the ledger, and invoices.

Everything starts from the requester's organization (@client_required: a client always has
one); invoices link to the existing API routes, which render the printable HTML and the CSV.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from marketplace.accounts.models import Organization
from marketplace.web.access import client_required
from marketplace.billing import selectors, statements
from marketplace.billing.invoices import invoice_for_month
from marketplace.billing.models import JobBudget, TransactionKind

LEDGER_ROWS = 25
# Worker pay moves per judgment: thousands of rows a person does not read one by one. The page
# leaves them out of the recent entries (the escrow per job sums them; the API lists them all).
_PER_JUDGMENT = (TransactionKind.JUDGMENT_PAY, TransactionKind.JUDGMENT_PAY_REVERSE)


def _job_invoice_row(budget: JobBudget) -> dict[str, Any]:
    """A job's invoice total and items charged: the settled charge, or what settling now would
    charge (selectors.job_charge, the settlement's own computation, as the job page and the
    invoice show it). A sum of its own here once left out the items reopened for more judgments,
    the expert reviews and the more judgments given, and disagreed with both."""
    job = budget.job
    settled = budget.settled_at is not None
    if settled:
        amount, items = budget.charged, budget.completed_items
    else:
        charge = selectors.job_charge(job=job, budget=budget)
        amount, items = charge.total, charge.items
    url = reverse("job-invoice", args=[job.pk])
    return {
        "job": job, "tier": budget.tier.name, "budget": budget.budget, "amount": amount, "items_charged": items,
        "price_per_item": budget.price_per_item,
        "settled": settled, "settled_at": budget.settled_at, "html_url": f"{url}?format=html",
        "csv_url": f"{url}?format=csv",
    }


def _month_rows(organization: Organization) -> list[dict[str, Any]]:
    url = reverse("billing-invoice-month")
    rows = []
    for year, month in selectors.organization_invoice_months(organization=organization):
        invoice = invoice_for_month(organization=organization, year=year, month=month)
        period = f"{year:04d}-{month:02d}"
        rows.append({
            "period": period, "number": invoice.number, "jobs": len(invoice.lines),
            "subtotal": invoice.subtotal, "credits": invoice.credits_total, "total": invoice.total,
            "paid": invoice.payment is not None,
            "html_url": f"{url}?month={period}&format=html", "csv_url": f"{url}?month={period}&format=csv",
        })
    return rows


@client_required
def billing(request: HttpRequest) -> HttpResponse:
    """/portal/billing/"""
    organization: Organization = request.user.organization  # type: ignore[union-attr]
    escrows = statements.organization_open_escrows(organization=organization)
    ledger = []
    for tx in statements.organization_transactions(organization=organization).exclude(kind__in=_PER_JUDGMENT)[:LEDGER_ROWS]:
        balance_change, escrow_change = statements.transaction_changes(tx)
        ledger.append({"tx": tx, "balance_change": balance_change, "escrow_change": escrow_change})
    ctx = {
        "organization": organization,
        "balance": selectors.organization_balance(organization=organization),
        "escrows": escrows,
        "escrow_rows": [
            {"e": e, "used_pct": f"{100 * (e.budget - e.escrow) / e.budget:.1f}" if e.budget else "0.0"}
            for e in escrows
        ],
        "escrow_total": sum((e.escrow for e in escrows), statements.ZERO),
        "ledger": ledger,
        "months": _month_rows(organization),
        "job_invoices": [_job_invoice_row(b) for b in selectors.organization_job_budgets(organization=organization)],
        "this_month_url": reverse("billing-invoice-month") + "?format=html",
    }
    return render(request, "client/billing.html", ctx)
