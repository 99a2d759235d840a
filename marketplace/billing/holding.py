"""A rule's withdrawal held for an admin's review (the review cap) when the job settles first,
and the admin's decision on it, before or after settlement.

While the job is open, the dropped judgments' pay waits where it is (owed, or posted to the
worker's pending account) and the decision moves it as any block's withdrawal would. If the job
settles first, the pay is not the worker's yet ("judgments dropped after a quality block are not
paid while still pending"), so settlement holds it (posting.earnings_hold, before it posts the
job's pay): what was posted comes back from the worker's pending account into the escrow
(JUDGMENT_PAY_REVERSE), nothing owed is posted, and the earnings turn HELD, naming the block.
The escrow then settles without them: the job's spend is its accepted judgments' pay, and the
held amount goes to Quorum's revenue with the rest of the charge. The admin's later decision:
- withdraw: the HELD earnings become REVERSED, for good; no money moves (Quorum has it);
- leave the pay with the worker: Quorum pays it from its revenue into their available account
  (a restore, billing/restoring.py: a person has just reviewed the work, which is what the hold
  period waits for). An upheld appeal of the block does the same.

An admin's own block of the worker (after lifting the rule's) decides it too: an admin's block is
final, so it withdraws the pay in its own name (admin_block_pay_withdraw), pending or held, and
closes the review with a note; no one decides it again, and an appeal of the rule's block finds
nothing of its own to give back.

Until the decision the pay under review is never released (`under_review`): the release schedule
leaves it pending past the hold, as settlement holds it, so whatever the admin decides finds it
where the block left it. Pay released before the block is the worker's and never under review.
Pay released while under review all the same (before the release waited, or left with the worker
by billing_held_repair) stays theirs: an approval does not take it back, and records it on the
review (WithdrawalReview.left_with_worker), which billing_audit holds the released pay to.

Locks: the caller holds the review's row lock (the decision) or the job's budget (settlement);
then the budget → earnings (id order) → ledger accounts, the order of every money service.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from marketplace.billing import restoring, reversals
from marketplace.billing.windows import block_earnings, reviewed_earnings
from marketplace.billing.models import Earning
from marketplace.billing.services import budget_lock
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality import appeals
from marketplace.quality.models import QualityEvent, WithdrawalReview

ZERO = Decimal("0.00")


def under_review() -> Q:
    """Earnings whose withdrawal an admin is reviewing: pending pay of the dropped judgments each
    pending review's block dropped (windows.reviewed_earnings: made in that block's window),
    not kept by an earlier decision (what posting.earnings_hold holds at settlement). The
    release leaves them pending until decided. Pay of the pair outside every pending review's
    block is not under review: no decision will move it, so it is released on time. Reads
    the pending reviews now (a few: only a rule's block over the cap opens one), so call it
    once per statement that must see the reviews committed by then."""
    reviews = WithdrawalReview.objects.filter(status=WithdrawalReview.Status.PENDING).only(
        "job_id", "worker_id", "block_event_id", "created_at")
    dropped = Judgment.objects.filter(pk=OuterRef("judgment_id"), status=JudgmentStatus.DROPPED)
    return (Q(status=Earning.Status.PENDING, kept_after_drop=False) & reviewed_earnings(reviews=reviews)
            & Q(Exists(dropped)))


def review_pay(*, review: WithdrawalReview, block_event_id: int | None) -> QuerySet[Earning]:
    """The pay a review covers: of the judgments its block dropped (windows.block_earnings; no
    block recorded: the pair's), never withdrawn or held in a block's name (an earning given
    back by an appeal names its block too), and of money (a 0.00 earning moves nothing)."""
    rows = Earning.objects.filter(job_id=review.job_id, worker_id=review.worker_id, amount__gt=0,
                                  judgment__status=JudgmentStatus.DROPPED, withdrawn_by__isnull=True)
    if block_event_id is not None:
        rows = rows.filter(block_earnings(job_id=review.job_id, worker_id=review.worker_id,
                                          block_event_id=block_event_id))
    return rows


def released_under_review(*, review: WithdrawalReview, block_event_id: int | None) -> QuerySet[Earning]:
    """Of review_pay, what was released to the worker since the review opened (pay released before
    the block is theirs and was never under review): before releases left pay under review
    pending, or released by billing_held_repair's leave. An approval does not take it back
    (released pay is the worker's) and records it instead (WithdrawalReview.left_with_worker)."""
    return review_pay(review=review, block_event_id=block_event_id).filter(
        status=Earning.Status.AVAILABLE, settled_transaction__created_at__gte=review.created_at)


def _released_total(*, review: WithdrawalReview, block_event_id: int | None) -> Decimal:
    rows = released_under_review(review=review, block_event_id=block_event_id)
    return sum(rows.values_list("amount", flat=True), ZERO)


@dataclass(frozen=True)
class Decided:
    settled: bool  # the job had settled: the pay was held (module docstring)
    withdrawn: Decimal = ZERO  # taken from the worker (or, held, kept by Quorum for good)
    kept: Decimal = ZERO  # left with the worker
    paid_by_quorum: Decimal = ZERO  # of `kept`: paid now from Quorum's revenue (held pay)
    # Approved: its pay released to the worker while under review (released_under_review), which
    # stays theirs; the caller records it on the review (left_with_worker).
    released: Decimal = ZERO


@transaction.atomic
def held_withdrawal_decide(*, review: WithdrawalReview, withdraw: bool) -> Decided:
    """An admin decides a held withdrawal (module docstring). Caller holds the review's lock."""
    event_id = appeals.review_block_id(review=review)
    budget = budget_lock(job_id=review.job_id)  # budget before earnings: the lock order
    settled = budget is not None and budget.settled_at is not None
    released = _released_total(review=review, block_event_id=event_id) if withdraw else ZERO
    if not settled and withdraw:
        earnings = reversals.worker_job_pay_reverse(  # its own block's pay: another's has its own review
            job_id=review.job_id, worker_id=review.worker_id, block_event_id=event_id, own_only=True)
        taken = sum((e.amount for e in earnings if e.status == Earning.Status.REVERSED), ZERO)
        return Decided(settled=False, withdrawn=taken,
                       kept=sum((e.amount for e in earnings), ZERO) - taken, released=released)
    if withdraw:  # held at settlement: Quorum has the money; the earnings are withdrawn for good
        held = Earning.objects.select_for_update(of=("self",)).filter(
            job_id=review.job_id, worker_id=review.worker_id, status=Earning.Status.HELD, withdrawn_by_id=event_id)
        earnings = list(held.order_by("id"))
        Earning.objects.filter(pk__in=[e.pk for e in earnings]).update(status=Earning.Status.REVERSED)
        return Decided(settled=True, withdrawn=sum((e.amount for e in earnings), ZERO), released=released)
    pending = Earning.objects.filter(job_id=review.job_id, worker_id=review.worker_id,
                                     judgment__status=JudgmentStatus.DROPPED, status=Earning.Status.PENDING)
    if event_id is not None:  # its own block's pay (restoring.worker_job_pay_restore keeps just that)
        pending = pending.filter(block_earnings(
            job_id=review.job_id, worker_id=review.worker_id, block_event_id=event_id))
    kept = sum(pending.values_list("amount", flat=True), ZERO)
    restored = ZERO
    if event_id is None:  # no block to name (none was recorded): nothing can be held
        Earning.objects.filter(job_id=review.job_id, worker_id=review.worker_id, status=Earning.Status.PENDING,
                               judgment__status=JudgmentStatus.DROPPED).update(kept_after_drop=True)
    else:  # gives back what settlement held; marks the pending pay kept
        restored = restoring.worker_job_pay_restore(
            job_id=review.job_id, worker_id=review.worker_id, block_event_id=event_id,
            reference=f"review:{review.pk}:keep:{review.worker_id}",
            memo="held judgment pay(s) left with the worker by an admin",
        ).paid_now
    return Decided(settled=settled, kept=kept + restored, paid_by_quorum=restored)


@transaction.atomic
def admin_block_pay_withdraw(*, block_event: QualityEvent, reviews: list[WithdrawalReview]) -> Decimal:
    """An admin's block (its BLOCKED event, just written) withdraws the worker's dropped
    judgments' pay in the job: pending pay as any block's, and pay a settlement held for a rule's
    review, which Quorum already has, for good. Each earning names this block, so an appeal of
    the rule's block gives none of it back. Every pending review of the pair (`reviews`) is
    closed (approved, with a note): the money moved, nothing is left to decide. Returns what was
    withdrawn. Locks: the caller holds the reviews' locks (appeals.withdrawal_reviews_lock),
    taken before the block's items and job (README's lock order: a held withdrawal being settled
    comes before the items, as in a decision: review → budget); then the budget → earnings."""
    job_id, worker_id = block_event.job_id, block_event.worker_id
    budget_lock(job_id=job_id)  # budget before earnings: the lock order
    held = list(Earning.objects.select_for_update(of=("self",)).filter(
        job_id=job_id, worker_id=worker_id, status=Earning.Status.HELD).order_by("id"))
    Earning.objects.filter(pk__in=[e.pk for e in held]).update(
        status=Earning.Status.REVERSED, withdrawn_by_id=block_event.pk)
    earnings = reversals.worker_job_pay_reverse(job_id=job_id, worker_id=worker_id, block_event_id=block_event.pk)
    withdrawn = sum((e.amount for e in held), ZERO) + sum(
        (e.amount for e in earnings if e.status == Earning.Status.REVERSED), ZERO)
    for review in reviews:  # released pay stays the worker's: recorded, as a decision does
        released = _released_total(review=review, block_event_id=appeals.review_block_id(review=review))
        appeals.withdrawal_review_close(
            review=review, actor=block_event.actor, approved=True, left_with_worker=released or None,
            note=(f"Closed by an admin's block of the worker (event {block_event.pk}), which is final and "
                  f"withdrew this pay ({withdrawn} in all): nothing is left to decide."),
        )
    return withdrawn
