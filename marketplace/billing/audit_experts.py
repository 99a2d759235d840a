"""The audit's check of expert review money (billing/expert_pay.py), recomputed from the reviews.

- Each expert pay transaction credits one worker's pending account with exactly the amount of
  the one ExpertEarning naming it; client-paid earnings are EXPERT_PAY (from the job's escrow),
  the others EXPERT_PAY_QUORUM; the earning's worker settled its review, and is no admin.
- Each job's expert-review holds (ESCROW_ADD under `job:<id>:expert-hold:<key>`) total the
  prices of the reviews the client asked for (ReviewCharge).
- A settled job's `reviews_charged` is the price of its charged reviews; a client-paid earning's
  review was charged.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from marketplace.billing.models import (
    AccountKind,
    ExpertEarning,
    JobBudget,
    LedgerEntry,
    ReviewCharge,
    TransactionKind,
)
from marketplace.billing.pricing import money

if TYPE_CHECKING:
    from marketplace.billing.audit import AuditReport

ZERO = Decimal("0.00")
T = TransactionKind
_KIND = {ExpertEarning.Payer.CLIENT: T.EXPERT_PAY, ExpertEarning.Payer.QUORUM: T.EXPERT_PAY_QUORUM}


def _cents(value: Decimal | float | None) -> Decimal:
    return money(Decimal(str(value))) if value is not None else ZERO


def expert_money_matches_reviews(report: AuditReport) -> None:
    _pay_matches_earnings(report)
    _holds_and_charges_match_requests(report)


def _pay_matches_earnings(report: AuditReport) -> None:
    earnings = {
        e.pay_transaction_id: e
        for e in ExpertEarning.objects.select_related("review", "worker", "pay_transaction").order_by("id")
    }
    credits = LedgerEntry.objects.filter(
        transaction__kind__in=(T.EXPERT_PAY, T.EXPERT_PAY_QUORUM), account__kind=AccountKind.WORKER_PENDING
    ).values_list("transaction_id", "transaction__kind", "account__worker_id", "amount")
    for tx_id, kind, worker_id, amount in credits.iterator(chunk_size=5000):
        earning = earnings.pop(tx_id, None)
        if earning is None:
            report.violations.append(f"expert pay {tx_id} credits {_cents(amount)} to worker {worker_id}, "
                                     f"but no expert earning names it")
            continue
        if (earning.worker_id, earning.amount, _KIND[earning.paid_by]) != (worker_id, _cents(amount), kind):
            report.violations.append(f"expert pay {tx_id} ({kind}) credits {_cents(amount)} to worker "
                                     f"{worker_id}; its earning is {earning.amount} to worker {earning.worker_id}, "
                                     f"paid by the {earning.paid_by}")
        review = earning.review
        if review.status != review.Status.SETTLED or review.settled_by_id != earning.worker_id:
            report.violations.append(f"expert earning {earning.pk} pays worker {earning.worker_id} for review "
                                     f"{review.pk}, which they did not settle")
        if earning.worker.is_admin:
            report.violations.append(f"expert earning {earning.pk} pays an admin")
    for earning in earnings.values():
        report.violations.append(f"expert earning {earning.pk} of {earning.amount} names transaction "
                                 f"{earning.pay_transaction_id}, which pays no expert")


def _holds_and_charges_match_requests(report: AuditReport) -> None:
    held: dict[int, Decimal] = defaultdict(Decimal)
    holds = LedgerEntry.objects.filter(
        transaction__kind=T.ESCROW_ADD, transaction__reference__contains=":expert-hold:",
        account__kind=AccountKind.CLIENT_ESCROW,
    ).values_list("account__job_id", "amount")
    for job_id, amount in holds.iterator(chunk_size=5000):
        held[job_id] += _cents(amount)
    asked: dict[int, Decimal] = defaultdict(Decimal)
    charged: dict[int, Decimal] = defaultdict(Decimal)
    for job_id, price, charged_at in ReviewCharge.objects.values_list("job_id", "price", "charged_at").iterator(
        chunk_size=5000
    ):
        asked[job_id] += price
        if charged_at is not None:
            charged[job_id] += price
    for job_id in sorted(set(held) | set(asked)):
        if held.get(job_id, ZERO) != _cents(asked.get(job_id)):
            report.violations.append(f"job {job_id}: expert review holds moved {held.get(job_id, ZERO)}, "
                                     f"the reviews asked for are priced {_cents(asked.get(job_id))}")
    settled = JobBudget.objects.filter(settled_at__isnull=False).values_list("job_id", "reviews_charged")
    for job_id, recorded in settled.iterator(chunk_size=5000):
        if (recorded or ZERO) != _cents(charged.get(job_id)):
            report.violations.append(f"job {job_id}: charged {recorded or ZERO} for expert reviews; "
                                     f"its settled reviews are priced {_cents(charged.get(job_id))}")
    uncharged = ExpertEarning.objects.filter(paid_by=ExpertEarning.Payer.CLIENT).exclude(
        review__charge__charged_at__isnull=False
    ).values_list("pk", flat=True)
    for pk in uncharged:
        report.violations.append(f"expert earning {pk} was paid from an escrow for a review never charged")
