"""Repair of held withdrawals a settlement paid before settlements held them (billing/holding.py).

Before the held status, a job that settled while a rule's withdrawal waited for an admin's review
posted the dropped judgments' pay to the blocked worker like any other: the review stayed pending
over pay that had moved, and `billing_audit` reports each such earning ("paid for a dropped
judgment with no decision to leave it with the worker"). The repair puts them where today's
settlement would have: HELD, naming the block whose withdrawal is under review, out of the
worker's reach, the money with Quorum, so the admin's decision works as for any held pay.

Today's settlement sends posted held pay back into the escrow, which then settles it to Quorum's
revenue with the rest of the charge. That escrow is closed here (its settlement is history, and
`billing_audit` recomputes it from its entries), so the repair moves the same money in one step:
the worker's pending account → Quorum's revenue (HELD_PAY_RECLAIM), the earnings naming that
transaction as a settlement's hold names its reversal. The job's recorded spend keeps what its
escrow really paid; Quorum's revenue ends where today's code would have left it.

Pay released meanwhile (AVAILABLE) is left with the worker: released pay is theirs
(services.DROPPED_JUDGMENT_PAY_POLICY), and may be paid out already. It is marked kept and
reported, so an admin sees it before deciding the review. Each earning belongs to the review of
the block that dropped its judgment (the block whose window it was made in, billing/windows.py),
never merely the pair's first pending review: a pair blocked twice, each block's withdrawal under a
review of its own, has each review's pay held in its block's name, so each decision moves its own.
Earnings paid on a settled job with no review pending for their block are reported and left
alone: nothing says what their block meant to withdraw.

Locks, the order of a review's decision: the review → the job's budget → earnings (id order) →
ledger accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet

from marketplace.billing import ledger
from marketplace.billing.ledger import account_get
from marketplace.billing.models import AccountKind, Earning, JobBudget, TransactionKind
from marketplace.billing.services import budget_lock
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality import appeals
from marketplace.quality.models import WithdrawalReview

ZERO = Decimal("0.00")
PAID = (Earning.Status.PENDING, Earning.Status.AVAILABLE)


@dataclass(frozen=True)
class Repaired:
    job_id: int
    worker_id: int
    review_id: int | None  # None: no pending review's block dropped it, nothing repaired (reported only)
    held: Decimal = ZERO  # made HELD (reclaimed + never posted)
    reclaimed: Decimal = ZERO  # of `held`: taken back from the worker's pending account
    left: Decimal = ZERO  # released already: left with the worker (marked kept)
    untouched: Decimal = ZERO  # under no pending review: left as it is


def _unrepaired() -> QuerySet[Earning]:
    settled = JobBudget.objects.filter(settled_at__isnull=False).values("job_id")
    return Earning.objects.filter(job_id__in=settled, judgment__status=JudgmentStatus.DROPPED,
                                  status__in=PAID, kept_after_drop=False)


def held_pay_unrepaired() -> list[tuple[int, int]]:
    """The (job, worker) pairs whose dropped judgments' pay a settled job paid with no decision
    to leave it (what audit_withdrawals.settled_jobs_pay_no_dropped_work_undecided reports)."""
    return sorted(set(_unrepaired().values_list("job_id", "worker_id")))


@transaction.atomic
def held_pay_repair(*, job_id: int, worker_id: int) -> list[Repaired]:
    """Repair one pair (module docstring): each earning is held for the pending review of the
    block that dropped its judgment (the one whose window it was made in, windows.py), so a
    pair with two blocks under review has each review's pay held in its own name and moved by
    its own decision; pay outside every pending review's block is reported and left alone.
    One Repaired per review, then one for what no review covers. Idempotent: a second run
    finds nothing to repair."""
    reviews = list(WithdrawalReview.objects.select_for_update().filter(
        job_id=job_id, worker_id=worker_id, status=WithdrawalReview.Status.PENDING).order_by("id"))
    budget = budget_lock(job_id=job_id)  # budget before earnings: the lock order
    earnings = list(_unrepaired().select_for_update(of=("self",))
                    .filter(job_id=job_id, worker_id=worker_id).order_by("id"))
    if budget is None:
        reviews = []
    marks = appeals.block_marks(pairs=[(job_id, worker_id)])[(job_id, worker_id)]
    windows = [(review, appeals.review_block_in(marks, review=review)) for review in reviews]
    owned: dict[int, list[Earning]] = {review.pk: [] for review in reviews}
    stray: list[Earning] = []
    for earning in earnings:
        review_id = next((review.pk for review, block_id in windows
                          if _made_in(earning, marks=marks, block_id=block_id)), None)
        (owned[review_id] if review_id is not None else stray).append(earning)
    repaired = [
        _hold(budget=budget, review=review, event_id=block_id, earnings=owned[review.pk])
        for review, block_id in windows if owned[review.pk] and budget is not None
    ]
    if stray:
        repaired.append(Repaired(job_id=job_id, worker_id=worker_id, review_id=None,
                                 untouched=sum((e.amount for e in stray), ZERO)))
    return repaired


def _made_in(earning: Earning, *, marks: list[appeals.Mark], block_id: int | None) -> bool:
    """Was the earning's judgment made in the block's window? (No block recorded: the review
    covers the pair's whole pay, as before reviews named their block.)"""
    if block_id is None:
        return True
    since, until = appeals.window_in(marks, block_id)
    return (since is None or earning.created_at > since) and (until is None or earning.created_at <= until)


def _hold(*, budget: JobBudget, review: WithdrawalReview, event_id: int | None, earnings: list[Earning]) -> Repaired:
    """Hold one review's earnings as its settlement would have; released ones are left, kept."""
    job_id, worker_id = review.job_id, review.worker_id
    released = [e for e in earnings if e.status == Earning.Status.AVAILABLE]
    held = [e for e in earnings if e.status == Earning.Status.PENDING]
    posted = [e for e in held if e.posted_at is not None]
    total = sum((e.amount for e in posted), ZERO)
    tx = None
    if total > 0:  # referenced by its first earning: each review's repair moves its own money
        tx = ledger.transfer_new(
            kind=TransactionKind.HELD_PAY_RECLAIM, reference=f"hold-repair:{job_id}:{worker_id}:{posted[0].pk}",
            source=account_get(kind=AccountKind.WORKER_PENDING, worker_id=worker_id),
            target=account_get(kind=AccountKind.PLATFORM_REVENUE), amount=total,
            memo=f"{len(posted)} dropped judgment(s) held: withdrawal {review.pk} under review (repair)",
            organization_id=budget.job.organization_id, job_id=job_id, worker_id=worker_id,
        )
    for now_posted in (True, False):  # an unposted one names no transaction: none moved it
        Earning.objects.filter(pk__in=[e.pk for e in held if (e.posted_at is not None) == now_posted]).update(
            status=Earning.Status.HELD, withdrawn_by_id=event_id, settled_transaction=tx if now_posted else None,
        )
    Earning.objects.filter(pk__in=[e.pk for e in released]).update(kept_after_drop=True)
    return Repaired(job_id=job_id, worker_id=worker_id, review_id=review.pk,
                    held=sum((e.amount for e in held), ZERO), reclaimed=total,
                    left=sum((e.amount for e in released), ZERO))
