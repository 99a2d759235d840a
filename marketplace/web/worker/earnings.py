"""The worker's earnings page: pending, available, paid and held-for-review totals, earnings by job and day with
the date pending pay becomes payable, the dropped-judgment pay policy, the payout request form and
the payout history.

Every figure starts from the signed-in worker (billing.selectors / statements take the worker);
amounts are Decimal, turned into text once here (money_text, so the template prints them as they
are), and the form's amount is parsed as a Decimal string.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from marketplace.accounts.models import User
from marketplace.web.access import worker_required
from marketplace.billing import payouts, selectors, statements
from marketplace.billing.amounts import money_in
from marketplace.billing.idempotency import RequestConflict
from marketplace.billing.services import DROPPED_JUDGMENT_PAY_POLICY
from marketplace.errors import ApplicationError
from marketplace.money import money_text

EARNING_DAYS = 60  # rows of (job, day)
PAYOUT_ROWS = 50


def _earning_rows(worker: User) -> list[dict[str, Any]]:
    rows = statements.worker_earnings_by_job_day(worker=worker, hold_days=payouts.hold_days(), limit=EARNING_DAYS)
    return [
        {"title": row.title, "day": row.day, "answers": row.answers, "earned": money_text(row.earned),
         "pending": money_text(row.pending) if row.pending else "",
         "released": money_text(row.released) if row.released else "",
         "withdrawn": money_text(row.withdrawn) if row.withdrawn else "",
         "held": money_text(row.held) if row.held else "",
         "kept_after_drop": row.kept_after_drop, "payable_at": row.payable_at}
        for row in rows
    ]


@worker_required
def earnings(request: HttpRequest) -> HttpResponse:
    """/work/earnings/: GET shows the figures; POST asks for a payout (then back here)."""
    worker: User = request.user  # type: ignore[assignment]
    error, amount_raw = "", ""
    if request.method == "POST":
        amount_raw = (request.POST.get("amount") or "").strip()
        try:
            amount = money_in({"amount": amount_raw}, "amount")
            # The form's one-time key makes a double submit (two clicks, a resent POST) one payout.
            payout = payouts.payout_request(worker=worker, amount=amount, key=request.POST.get("key") or None)
        except RequestConflict as exc:
            # The form's own key (the worker never typed one): the page resent with another amount.
            error = (f"This form already asked for a payout of {exc.details['first_amount']}, so nothing more "
                     "was done. Reload the page to ask for another payout.")
        except ApplicationError as exc:  # below the minimum, more than available, not a number
            error = exc.message
        else:
            messages.success(request, f"Payout of {money_text(payout.amount)} requested. We pay approved "
                                      "payouts in the next batch.")
            return redirect("worker-earnings")
    money = selectors.worker_money(worker=worker)
    minimum = payouts.min_payout()
    held = statements.worker_held_pay(worker=worker)
    ctx = {
        "pending": money_text(statements.pending_less_held(pending=money.pending, held=held)), "available": money_text(money.available),
        "in_flight": money_text(money.in_flight), "paid": money_text(money.paid),
        "available_amount": f"{money.available:.2f}", "min_payout": money_text(minimum),
        "min_amount": f"{minimum:.2f}", "can_request": money.available >= minimum,
        "hold_days": payouts.hold_days(), "policy": DROPPED_JUDGMENT_PAY_POLICY,
        "earnings": _earning_rows(worker),
        # Pay an admin reviews before it is withdrawn or left with the worker: in none of the figures above.
        "held": money_text(sum((h.amount for h in held), Decimal("0.00"))) if held else "",
        "held_jobs": [{"title": h.title, "answers": h.answers, "amount": money_text(h.amount)} for h in held],
        "held_reason": statements.HELD_FOR_REVIEW_REASON,
        "payouts": [
            {"amount": money_text(p.amount), "status": p.status, "status_label": p.get_status_display(),
             "requested_at": p.requested_at}
            for p in statements.worker_payouts(worker=worker)[:PAYOUT_ROWS]
        ],
        "error": error, "amount_raw": amount_raw, "key": uuid.uuid4().hex,
    }
    return render(request, "worker/earnings.html", ctx, status=400 if error else 200)
