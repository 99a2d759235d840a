"""Staff: client organizations' money, and recording a payment received (a top-up).

Payments arrive outside Quorum (a bank transfer naming the organization); an admin records each
one here with its reference. The reference makes it idempotent: the same payment recorded twice
(a double click, two admins) moves the money once (billing.services.topup_record).
The role is checked before the method, as in web/staff/billing.py."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from marketplace.accounts.models import Organization
from marketplace.money import money_text
from marketplace.web.access import staff_required
from marketplace.billing.amounts import MAX_AMOUNT, money_in
from marketplace.billing.selectors import organizations_money
from marketplace.billing.services import topup_record
from marketplace.errors import ApplicationError


@staff_required
@require_GET
def clients(request: HttpRequest) -> HttpResponse:
    ctx: dict[str, Any] = {"rows": organizations_money(), "error": "", "form": {}, "max_amount": MAX_AMOUNT}
    return render(request, "staff/clients.html", ctx)


@staff_required
@require_POST
def topup(request: HttpRequest, organization_id: int) -> HttpResponse:
    organization = get_object_or_404(Organization, pk=organization_id)
    raw = request.POST.get("amount", "").strip()
    reference = request.POST.get("payment_reference", "").strip()
    try:
        # The API's reading (plain digits, at most 2 places and MAX_AMOUNT): Decimal(raw) took
        # "1e10" and recorded $10,000,000,000.00.
        amount = money_in({"amount": raw}, "amount")
        topup_record(admin=request.user, organization=organization, amount=amount,  # type: ignore[arg-type]
                     payment_reference=reference)
    except ApplicationError as exc:
        ctx = {"rows": organizations_money(), "error": exc.message, "error_org": organization.pk, "max_amount": MAX_AMOUNT,
               "form": {"amount": raw, "payment_reference": reference}}
        return render(request, "staff/clients.html", ctx, status=400)
    messages.success(request, f"Recorded {money_text(amount)} from {organization.name} (payment {reference}).")
    return redirect("staff-clients")
