"""Repair of approved withdrawal reviews whose pay the worker kept (`billing_kept_repair`).

An approved review ("Withdrawn") took its block's pay (holding.review_pay). Before today's code
two approvals did not, and `billing_audit` names each such earning
(audit_withdrawals.approved_reviews_took_their_pay):
- pay released while the review was pending (the release did not yet leave pay under review
  alone), then approved: the withdrawal found it available, left it, and recorded nothing;
- an approval on a settled job before the held status marked the pending pay kept and moved
  nothing: it is still pending, or the release made it available after the decision.

The repair puts each where today's decision leaves it:
- still pending: withdrawn now in the block's name, as the approval would have: back to the
  job's escrow while the job is open (reversals, as any withdrawal), or, the job settled, from
  the worker's pending account to Quorum's revenue (HELD_PAY_RECLAIM, where today's settlement
  holds it and the approval keeps it), the earnings REVERSED;
- released: left with the worker. Released pay is theirs and may be paid out already
  (services.DROPPED_JUDGMENT_PAY_POLICY: it is never taken back), so the review records it as
  left with the worker (WithdrawalReview.left_with_worker), as today's decision does, and the
  repair lists it for an admin.

Locks, a decision's order: the review → the job's budget → earnings (id order) → ledger accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from marketplace.billing import holding, ledger, reversals
from marketplace.billing.ledger import account_get
from marketplace.billing.models import AccountKind, Earning, TransactionKind
from marketplace.billing.services import budget_lock
from marketplace.quality.appeals import review_block_id
from marketplace.quality.models import WithdrawalReview

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class KeptRepaired:
    review_id: int
    job_id: int
    worker_id: int
    withdrawn: Decimal = ZERO  # still pending: withdrawn now
    to_escrow: bool = False  # the job is open: withdrawn into its escrow (else: to Quorum)
    left: Decimal = ZERO  # released: left with the worker, recorded on the review


def _needs_repair(review: WithdrawalReview) -> bool:
    block_id = review_block_id(review=review)
    if block_id is None:  # no block recorded: nothing says which pay it withdrew
        return False
    pay = holding.review_pay(review=review, block_event_id=block_id)
    released = holding.released_under_review(review=review, block_event_id=block_id)
    total = sum(released.values_list("amount", flat=True), ZERO)
    return pay.filter(status=Earning.Status.PENDING).exists() or total != (review.left_with_worker or ZERO)


def kept_unrepaired() -> list[int]:
    """The approved reviews whose pay is not where they say (what the audit reports), by id.
    Reviews are few: only a rule's block over the cap opens one."""
    approved = WithdrawalReview.objects.filter(status=WithdrawalReview.Status.APPROVED).order_by("id")
    return [review.pk for review in approved.iterator(chunk_size=1000) if _needs_repair(review)]


@transaction.atomic
def kept_pay_repair(*, review_id: int) -> KeptRepaired:
    """Repair one approved review (module docstring). Idempotent: once repaired, a second run
    withdraws nothing more and records the same amount."""
    review = WithdrawalReview.objects.select_for_update().get(pk=review_id)
    block_id = review_block_id(review=review)
    budget = budget_lock(job_id=review.job_id)  # budget before earnings: the lock order
    done = KeptRepaired(review_id=review.pk, job_id=review.job_id, worker_id=review.worker_id)
    if review.status != WithdrawalReview.Status.APPROVED or block_id is None or budget is None:
        return done
    pay = holding.review_pay(review=review, block_event_id=block_id)
    pending = list(pay.select_for_update(of=("self",)).filter(status=Earning.Status.PENDING).order_by("id"))
    open_escrow = budget.settled_at is None
    if pending and open_escrow:
        # The approval marked them kept; unmarked, the withdrawal takes them like any block's.
        Earning.objects.filter(pk__in=[e.pk for e in pending]).update(kept_after_drop=False)
        reversals.worker_job_pay_reverse(job_id=review.job_id, worker_id=review.worker_id,
                                         block_event_id=block_id, own_only=True)
    elif pending:
        _reclaim(review=review, block_id=block_id, earnings=pending, organization_id=budget.job.organization_id)
    left = sum(holding.released_under_review(review=review, block_event_id=block_id)
               .values_list("amount", flat=True), ZERO)
    WithdrawalReview.objects.filter(pk=review.pk).update(left_with_worker=left or None)
    return KeptRepaired(review_id=review.pk, job_id=review.job_id, worker_id=review.worker_id,
                        withdrawn=sum((e.amount for e in pending), ZERO), to_escrow=open_escrow, left=left)


def _reclaim(*, review: WithdrawalReview, block_id: int, earnings: list[Earning], organization_id: int) -> None:
    """A settled job's pending pay the approval should have taken: to Quorum, as held pay withdrawn."""
    posted = [e for e in earnings if e.posted_at is not None]
    total = sum((e.amount for e in posted), ZERO)
    tx = None
    if total > 0:  # referenced by its first earning: an earning is withdrawn once
        tx = ledger.transfer_new(
            kind=TransactionKind.HELD_PAY_RECLAIM,
            reference=f"kept-repair:{review.job_id}:{review.worker_id}:{posted[0].pk}",
            source=account_get(kind=AccountKind.WORKER_PENDING, worker_id=review.worker_id),
            target=account_get(kind=AccountKind.PLATFORM_REVENUE), amount=total,
            memo=f"{len(posted)} dropped judgment(s) withdrawn: withdrawal review {review.pk} approved (repair)",
            organization_id=organization_id, job_id=review.job_id, worker_id=review.worker_id,
        )
    for now_posted in (True, False):  # an unposted one names no transaction: none moved it
        Earning.objects.filter(pk__in=[e.pk for e in earnings if (e.posted_at is not None) == now_posted]).update(
            status=Earning.Status.REVERSED, withdrawn_by_id=block_id, kept_after_drop=False,
            settled_transaction=tx if now_posted else None,
        )
