"""Expert review money: the client's hold for reviews it asks for, and the expert's pay.

- A worker expert earns QUORUM_EXPERT_REVIEW_PAY per review they settle; an admin earns nothing.
  The pay is posted to their pending account when they settle (an ExpertEarning), released after
  the hold period with judgment pay (payouts.earnings_release), then payable like any pay.
- A review Quorum queued itself (uncertain at maximum overlap: it keeps the tier's promise) is
  paid from Quorum's revenue (EXPERT_PAY_QUORUM), as billing/restoring.py pays restores.
- A review the client asks for costs QUORUM_EXPERT_REVIEW_PRICE, held from the organization's
  balance into the job's escrow at the request (ESCROW_ADD, so it counts in `added`), all or
  nothing. Price and pay are fixed then (ReviewCharge). The expert's pay comes from the escrow
  (EXPERT_PAY); settlement charges the price of every such review settled while the escrow was
  open (`reviews_charged`) and refunds the rest of the hold with the unspent escrow. Quorum keeps
  price − pay, and the whole price of a review an admin settles. A review settled after its job
  settled is not charged (its hold came back) and Quorum pays its expert.

Locks, in the order of services.py: the review (the settle flow holds it) or the items (the
request) → the job (KEY SHARE, as a submit) → the job's budget → the ledger accounts
(ledger.accounts_lock, pk order).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.billing import ledger, posting
from marketplace.billing.escrow import KEY, escrow_reference_claim
from marketplace.billing.ledger import account_get
from marketplace.billing.models import (
    AccountKind,
    ExpertEarning,
    JobBudget,
    ReviewCharge,
    TransactionKind,
)
from marketplace.billing.pricing import money
from marketplace.billing.services import InsufficientFunds, budget_lock
from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.models import Job
from marketplace.quality.models import ExpertReview

ZERO = Decimal("0.00")


def review_price() -> Decimal:
    """What a client pays per review it asks for (currency units, 2 places)."""
    return money(Decimal(str(settings.QUORUM_EXPERT_REVIEW_PRICE)))


def review_pay() -> Decimal:
    """What a worker expert earns per review they settle (currency units, 2 places)."""
    return money(Decimal(str(settings.QUORUM_EXPERT_REVIEW_PAY)))


def _open_budget(budget: JobBudget | None) -> JobBudget:
    if budget is None:
        raise Conflict("This job was never published: it has no escrow to hold expert reviews.")
    if budget.settled_at is not None:
        raise Conflict("This job is settled; its escrow is closed, so it takes no expert review request.")
    return budget


def expert_reviews_quote(*, job: Job, reviews: int) -> Decimal:
    """What asking for `reviews` expert reviews would hold (reviews × price); Conflict when the
    job's escrow is not open."""
    _open_budget(JobBudget.objects.filter(job_id=job.pk).first())
    return money(review_price() * reviews)


def _hold_reference(job: Job, key: str) -> str:
    return f"job:{job.pk}:expert-hold:{key}"


def expert_hold_claim(*, job: Job, key: str) -> Decimal | None:
    """Claim this idempotency key until commit (ledger.reference_claim: a concurrent request under
    it waits here), then say what the expert-review hold under it moved (None: none made yet).
    flows_experts.expert_reviews_ask calls this first in its transaction, before opening reviews."""
    return escrow_reference_claim(job=job, reference=_hold_reference(job, key))


@transaction.atomic
def expert_reviews_hold(*, job: Job, user: User, reviews: list[ExpertReview], key: str) -> Decimal:
    """Hold the price of `reviews` (created by the caller's transaction, at the client's request)
    from the organization's balance in the job's escrow, and fix each one's price and pay.
    InsufficientFunds (402) names what is missing; nothing moves, and the caller's transaction
    (which raised it) drops the reviews too. Locks: budget → accounts."""
    if not KEY.match(key or ""):
        raise ApplicationError(
            "An expert review request needs an idempotency key: 1 to 64 letters, digits or ._:-",
            details={"Idempotency-Key": "missing or invalid"},
        )
    budget = _open_budget(budget_lock(job_id=job.pk))  # before the accounts: the lock order
    price, pay = review_price(), review_pay()
    amount = money(price * len(reviews))
    if amount > 0:
        balance = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=job.organization_id)
        escrow = account_get(kind=AccountKind.CLIENT_ESCROW, job=job)
        available = ledger.accounts_lock([balance, escrow])[balance.pk].balance
        if amount > available:
            missing = amount - available
            raise InsufficientFunds(
                f"Expert review of {len(reviews)} items holds {amount} ({len(reviews)} × {price}); "
                f"the balance holds {available}, so {missing} is missing. Top up at least {missing}.",
                details={"needed": str(amount), "balance": str(available), "missing": str(missing)},
            )
        ledger.transfer(
            kind=TransactionKind.ESCROW_ADD, reference=_hold_reference(job, key), source=balance,
            target=escrow, amount=amount, memo=f"Expert review of {len(reviews)} items of job {job.pk}",
            organization_id=job.organization_id, job_id=job.pk, actor_id=user.pk,
        )
        budget.added += amount
        budget.budget += amount
        budget.save(update_fields=["added", "budget"])
    ReviewCharge.objects.bulk_create(
        [ReviewCharge(review=review, job_id=job.pk, price=price, pay=pay) for review in reviews]
    )
    return amount


@transaction.atomic
def expert_review_pay(*, review: ExpertReview, expert: User) -> ExpertEarning | None:
    """Pay the expert who settled `review` (module docstring), and mark a client's review charged
    while its job's escrow is open. Idempotent: a retried settle finds the earning and the charge
    made. None for an admin (who earns nothing) or a zero pay.

    Caller holds the review's row lock (quality.experts.expert_review_settle), then this takes
    the job (KEY SHARE), the budget (a settlement must see the charge made or not at all), then
    the accounts."""
    # The job before the budget, as a submit takes it (KEY SHARE): the earning's insert below
    # needs that lock anyway, and taking it after the budget would deadlock with a cancellation,
    # which holds the job FOR UPDATE while it settles (locks the budget).
    _job_key_share(job_id=review.job_id)
    budget = budget_lock(job_id=review.job_id)
    open_escrow = budget is not None and budget.settled_at is None
    charge = ReviewCharge.objects.filter(review_id=review.pk).first()
    now = timezone.now()
    if charge is not None and open_escrow and charge.charged_at is None:
        charge.charged_at = now
        charge.save(update_fields=["charged_at"])
    if expert.is_admin or not expert.is_worker:
        return None
    existing = ExpertEarning.objects.filter(review_id=review.pk).first()
    if existing is not None:
        return existing
    amount = charge.pay if charge is not None else review_pay()
    if amount <= 0:
        return None
    client_pays = charge is not None and charge.charged_at is not None and open_escrow
    job = review.job
    pending = account_get(kind=AccountKind.WORKER_PENDING, worker_id=expert.pk)
    revenue = account_get(kind=AccountKind.PLATFORM_REVENUE)
    reference = f"expert-review:{review.pk}:pay"
    if client_pays:
        assert budget is not None
        escrow = account_get(kind=AccountKind.CLIENT_ESCROW, job=job)
        held = ledger.accounts_lock([escrow, pending, revenue])[escrow.pk].balance
        # The hold paid for it, but judgment pay posted since may have used the escrow: as
        # billing/posting.py does, Quorum covers what the escrow cannot pay.
        if (short := max(amount - held, ZERO)) > 0:
            posting.escrow_cover(job=job, budget=budget, escrow=escrow, revenue=revenue, amount=short,
                                 reference=f"job:{job.pk}:cover:expert:{review.pk}", what="expert review")
        # transfer_new: a reference already posted is money moved without its earning; never pay twice.
        tx = ledger.transfer_new(
            kind=TransactionKind.EXPERT_PAY, reference=reference, source=escrow, target=pending,
            amount=amount, memo=f"Expert review {review.pk} settled (asked for by the client)",
            organization_id=job.organization_id, job_id=job.pk, worker_id=expert.pk,
        )
    else:
        tx = ledger.transfer_new(
            kind=TransactionKind.EXPERT_PAY_QUORUM, reference=reference, source=revenue, target=pending,
            amount=amount, memo=f"Expert review {review.pk} settled (paid by Quorum)",
            job_id=job.pk, worker_id=expert.pk,
        )
    return ExpertEarning.objects.create(
        review=review, job_id=job.pk, worker=expert, amount=amount, created_at=now, pay_transaction=tx,
        paid_by=ExpertEarning.Payer.CLIENT if client_pays else ExpertEarning.Payer.QUORUM,
    )


def _job_key_share(*, job_id: int) -> None:
    """Lock the job row in KEY SHARE mode until commit (PostgreSQL; SQLite serializes writers)."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM jobs_job WHERE id = %s FOR KEY SHARE", [job_id])


@dataclass(frozen=True)
class ExpertReleased:
    earnings: int = 0
    workers: int = 0
    amount: Decimal = ZERO


@transaction.atomic
def expert_earnings_release(*, cutoff: datetime, limit: int) -> ExpertReleased:
    """Move expert pay older than `cutoff` from pending to available: one transaction per worker,
    referenced by the first and last earning it moves, all of them in a few statements whatever
    the number of experts (as payouts._release releases judgment pay). Locks: the earnings (SKIP
    LOCKED: a concurrent run takes others), then the workers' accounts (ledger, pk order)."""
    rows = list(
        ExpertEarning.objects.select_for_update(skip_locked=True)
        .filter(status=ExpertEarning.Status.PENDING, created_at__lte=cutoff).order_by("id")[:limit]
    )
    if not rows:  # the usual case: earnings_release calls this on every run
        return ExpertReleased()
    by_worker: dict[int, list[ExpertEarning]] = defaultdict(list)
    for earning in rows:
        by_worker[earning.worker_id].append(earning)
    # Expert earnings are positive (expert_earning_positive), so every worker has money to move.
    owed: list[posting.Owed] = [(worker_id, earnings, sum((e.amount for e in earnings), ZERO))
            for worker_id, earnings in sorted(by_worker.items())]
    posting.earnings_release_post(
        owed=owed, model=ExpertEarning, reference="release:expert:{worker}:{first}:{last}",
        memo="{count} expert review pay(s) past the hold period",
    )
    total = sum((amount for _, _, amount in owed), ZERO)
    return ExpertReleased(earnings=len(rows), workers=len(by_worker), amount=total)
