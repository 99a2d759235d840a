"""Withdrawn pay given back (an upheld appeal), and what a block would withdraw (the review cap).

An upheld appeal says the rule was wrong, so Quorum pays back what the block withdrew, from its
revenue (JUDGMENT_PAY_RESTORE: platform_revenue → worker_available): the client's charge is per
item and never paid for the dropped work, and the escrow the reversal refilled may since have
paid the items' new judgments. The pay becomes available at once: a person has just reviewed
the work, which is what the hold period waits for. Per earning the reversal withdrew:
- posted, then reversed (money went back to the escrow): AVAILABLE again, still naming the
  reversal that withdrew it; its amount moves in the restore transaction;
- never posted (the reversal moved no money) on a job still open: PENDING again, owed from the
  escrow as before (billing/posting.py posts it);
- never posted on a settled job: AVAILABLE, posted now, naming the restore transaction.
`billing_audit` checks each (job, worker)'s restores against the earnings they made available
(audit_recompute.restores_match_earnings).

Locks, in the order every money service keeps: the job's budget (a settlement must not close the
escrow while we decide between "owed again" and "paid from revenue"), the earnings (id order),
then the ledger accounts (ledger.post).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from django.conf import settings

from marketplace.billing import ledger, reversals
from marketplace.billing.ledger import account_get
from marketplace.billing.windows import block_earnings
from marketplace.billing.models import AccountKind, Earning, JobBudget, TransactionKind
from marketplace.billing.services import budget_lock
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality import appeals

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Restored:
    earnings: int = 0  # earnings given back
    amount: Decimal = ZERO  # their pay, all of it the worker's again
    paid_now: Decimal = ZERO  # moved by the restore transaction (the rest is owed from the escrow)


@transaction.atomic
def worker_job_pay_restore(
    *, job_id: int, worker_id: int, block_event_id: int, reference: str,
    memo: str = "withdrawn judgment pay(s) restored",
) -> Restored:
    """Give back what one block withdrew from the worker in the job: the earnings naming it
    (Earning.withdrawn_by), REVERSED, or HELD by its review when the job settled first (module
    docstring). Never another block's: an admin's block is final, and its withdrawal stays.
    Pay of dropped judgments still pending (a withdrawal held for review, now dismissed) stays
    the worker's. Idempotent: a second call finds nothing withdrawn. `reference` names the
    restore transaction (one per appeal decision or review)."""
    budget = budget_lock(job_id=job_id)  # budget before earnings: the lock order
    open_escrow = budget is not None and budget.settled_at is None
    # Lock the earnings: a second restore must not give them back twice.
    rows = (
        Earning.objects.select_for_update(of=("self",))
        # Dropped judgments' pay only: an answer its worker undid is not theirs to get back.
        .filter(job_id=job_id, worker_id=worker_id, judgment__status=JudgmentStatus.DROPPED)
        .order_by("id")
    )
    earnings = list(rows.filter(status__in=(Earning.Status.REVERSED, Earning.Status.HELD),
                                withdrawn_by_id=block_event_id))
    # Never withdrawn (its review is dismissed): the worker keeps it, posted and released as usual.
    # This block's only: another block's pay may be under a review of its own (block_window).
    own = block_earnings(job_id=job_id, worker_id=worker_id, block_event_id=block_event_id)
    rows.filter(own, status=Earning.Status.PENDING).update(kept_after_drop=True)
    if not earnings:
        return Restored()
    posted = [e for e in earnings if e.posted_at is not None]
    owed_again = [e for e in earnings if e.posted_at is None and open_escrow]
    paid_late = [e for e in earnings if e.posted_at is None and not open_escrow]
    total = sum((e.amount for e in posted + paid_late), ZERO)
    tx = None
    if total > 0:
        # New, or the reference's money moved for other earnings: these would be paid twice.
        tx = ledger.transfer_new(
            kind=TransactionKind.JUDGMENT_PAY_RESTORE, reference=reference,
            source=account_get(kind=AccountKind.PLATFORM_REVENUE),
            target=account_get(kind=AccountKind.WORKER_AVAILABLE, worker_id=worker_id),
            amount=total, memo=f"{len(posted) + len(paid_late)} {memo}",
            job_id=job_id, worker_id=worker_id,
        )
    now = timezone.now()
    if posted:  # they keep naming their reversal, so the audit still finds what it withdrew
        Earning.objects.filter(pk__in=[e.pk for e in posted]).update(
            status=Earning.Status.AVAILABLE, kept_after_drop=True
        )
    if paid_late:
        Earning.objects.filter(pk__in=[e.pk for e in paid_late]).update(
            status=Earning.Status.AVAILABLE, kept_after_drop=True, posted_at=now, settled_transaction=tx
        )
    if owed_again:
        Earning.objects.filter(pk__in=[e.pk for e in owed_again]).update(
            status=Earning.Status.PENDING, settled_transaction=None, kept_after_drop=True
        )
    return Restored(earnings=len(earnings), amount=sum((e.amount for e in earnings), ZERO), paid_now=total)


@dataclass(frozen=True)
class AtStake:
    withdrawable: Decimal  # pending pay of dropped judgments a reversal would send back now
    earned: Decimal  # everything the worker earned in the job and still has

    @property
    def share(self) -> Decimal:
        return self.withdrawable / self.earned if self.earned > 0 else ZERO


def worker_job_pay_at_stake(*, job_id: int, worker_id: int, block_event_id: int | None = None) -> AtStake:
    """What reversals.worker_job_pay_reverse would withdraw now (for `block_event_id`: of the
    judgments that block dropped, windows.block_earnings), against what the worker earned in
    the job (the review cap's share). Reads only; the reversal itself re-reads under locks."""
    rows = Earning.objects.filter(job_id=job_id, worker_id=worker_id).exclude(
        status__in=(Earning.Status.REVERSED, Earning.Status.HELD))
    earned = rows.aggregate(s=Sum("amount"))["s"] or ZERO
    settled = budget_settled(job_id=job_id)
    at_stake = rows if block_event_id is None else rows.filter(
        block_earnings(job_id=job_id, worker_id=worker_id, block_event_id=block_event_id))
    withdrawable = ZERO if settled else (
        at_stake.filter(status=Earning.Status.PENDING, judgment__status=JudgmentStatus.DROPPED, kept_after_drop=False)
        .aggregate(s=Sum("amount"))["s"] or ZERO
    )
    return AtStake(withdrawable=Decimal(withdrawable), earned=Decimal(earned))


def budget_settled(*, job_id: int) -> bool:
    return JobBudget.objects.filter(job_id=job_id, settled_at__isnull=False).exists()


@transaction.atomic
def rule_pay_reverse(*, job_id: int, worker_id: int) -> bool:
    """A quality rule blocked the worker: withdraw the pay of the judgments this block dropped
    (windows.block_earnings), unless that is more than QUORUM_WITHDRAW_REVIEW_SHARE of what
    they earned in the job: then the withdrawal waits for an admin (quality.appeals.
    withdrawal_review_open) and nothing moves. Each block's withdrawal is its own: a review still
    pending from an earlier (lifted) block keeps its own pay and amount, and this block's is
    withdrawn, or reviewed, apart. False when held (now, or by a review pending from this block)."""
    # The block standing now: this one's, just created (or committed, when run after commit).
    event = appeals.block_event_latest(job_id=job_id, worker_id=worker_id)
    event_id = event.pk if event is not None else None
    if appeals.withdrawal_review_pending(job_id=job_id, worker_id=worker_id, block_event_id=event_id):
        return False
    # Lock the pair's earnings (budget first: the lock order) before weighing them: a release
    # holding some now is waited for, and its pay, then released, is the worker's and not at
    # stake; one that starts later finds the review and leaves the pay pending (payouts._release).
    budget_lock(job_id=job_id)
    list(Earning.objects.select_for_update().filter(job_id=job_id, worker_id=worker_id)
         .order_by("id").values_list("pk", flat=True))
    stake = worker_job_pay_at_stake(job_id=job_id, worker_id=worker_id, block_event_id=event_id)
    if stake.withdrawable > 0 and stake.share > settings.QUORUM_WITHDRAW_REVIEW_SHARE:
        appeals.withdrawal_review_open(
            job_id=job_id, worker_id=worker_id, amount=stake.withdrawable, earned=stake.earned, block_event=event
        )
        return False
    reversals.worker_job_pay_reverse(job_id=job_id, worker_id=worker_id, block_event_id=event_id, own_only=True)
    return True
