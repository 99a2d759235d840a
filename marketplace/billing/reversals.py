"""Withdrawing dropped judgments' pay (services.DROPPED_JUDGMENT_PAY_POLICY): back to the job's
escrow while it is pending and the job unsettled; otherwise the worker keeps it.

Lock order as in billing/services.py: the job's budget, then the earnings (id order), then the
ledger accounts. Each reversal posts under a reference of its own (the first earning it sends
back), and a reference already posted is an error: marking earnings reversed without moving
their money would strand it in the worker's pending account.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction

from marketplace.billing import ledger
from marketplace.billing.ledger import account_get
from marketplace.billing.models import AccountKind, Earning, TransactionKind
from marketplace.billing.services import budget_lock
from marketplace.errors import Conflict
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.billing.windows import block_earnings


@transaction.atomic
def judgment_pay_reverse(*, judgment: Judgment) -> Earning | None:
    """Withdraw a dropped judgment's pay (DROPPED_JUDGMENT_PAY_POLICY): back to the escrow while
    pending and the job unsettled; otherwise the worker keeps it. None if it was never paid."""
    budget_lock(job_id=judgment.job_id)  # budget before earnings: the order above
    # Lock the earning: a release or a second reversal must not move it at the same time.
    earning = Earning.objects.select_for_update().filter(judgment_id=judgment.pk).first()
    if earning is None:
        return None
    _earnings_reverse(
        earnings=[earning],
        job_id=earning.job_id,
        worker_id=earning.worker_id,
        reference=f"judgment:{judgment.pk}:reverse",  # + the earning's id
    )
    return earning


@transaction.atomic
def judgment_pay_withdraw(*, judgment: Judgment) -> Earning | None:
    """Take back the pay of an answer its worker undid (labeling/undoing.py): still pending, so
    back to the open escrow through the ledger when it was posted, and merely marked reversed
    when it was only owed (an unposted earning never left the escrow). Conflict when the pay was
    released already or the job is settled: the money is the worker's then, and the undo must
    not happen. None if the judgment was never paid."""
    budget = budget_lock(job_id=judgment.job_id)  # budget before earnings: the order above
    # Lock the earning: a posting batch, release or reversal must not move it at the same time.
    earning = Earning.objects.select_for_update().filter(judgment_id=judgment.pk).first()
    if earning is None:
        return None
    if budget is None or budget.settled_at is not None:
        raise Conflict("This job is settled; its answers can no longer be undone.")
    if earning.status != Earning.Status.PENDING:
        raise Conflict("This answer's pay was released already; it can no longer be undone.")
    _earnings_reverse(
        earnings=[earning], job_id=earning.job_id, worker_id=earning.worker_id,
        reference=f"judgment:{judgment.pk}:undo",  # + the earning's id
        memo="judgment(s) undone by the worker",
    )
    # Only the worker's last answer is undone, so its rank is their highest: give it up, and the
    # next answer takes it and pays the same (models.Earning.rank says why). −id: unique, < 1.
    Earning.objects.filter(pk=earning.pk).update(rank=-earning.pk)
    earning.rank = -earning.pk
    return earning


@transaction.atomic
def worker_job_pay_reverse(
    *, job_id: int, worker_id: int, block_event_id: int | None, own_only: bool = False,
) -> list[Earning]:
    """judgment_pay_reverse for every dropped judgment of a worker in a job, in one transaction:
    the set-based companion of labeling.relabeling.judgments_drop. `block_event_id`: the block
    (its BLOCKED QualityEvent) withdrawing the pay, named on each earning it reverses, so an
    appeal of that block gives back these and no other block's (billing/restoring.py).
    `own_only`: only the judgments that block dropped (block_earnings: a rule's block, whose
    withdrawal is its own); otherwise every one still pending (an admin's block is final)."""
    budget_lock(job_id=job_id)  # budget before earnings: the order above
    rows = Earning.objects.select_for_update(of=("self",))
    if own_only and block_event_id is not None:
        rows = rows.filter(block_earnings(job_id=job_id, worker_id=worker_id, block_event_id=block_event_id))
    # Lock the earnings (id order) before the accounts, like every reversal and release.
    earnings = list(
        rows.filter(job_id=job_id, worker_id=worker_id, judgment__status=JudgmentStatus.DROPPED)
        .exclude(status__in=(Earning.Status.REVERSED, Earning.Status.HELD))
        # Pay an admin or an upheld appeal left with the worker stays theirs through later blocks.
        .exclude(kept_after_drop=True)
        .order_by("id")
    )
    if earnings:
        _earnings_reverse(
            earnings=earnings,
            job_id=job_id,
            worker_id=worker_id,
            reference=f"reverse:{job_id}:{worker_id}",
            withdrawn_by_id=block_event_id,
        )
    return earnings


def _earnings_reverse(
    *, earnings: Sequence[Earning], job_id: int, worker_id: int, reference: str,
    memo: str = "dropped judgment(s) not paid", withdrawn_by_id: int | None = None,
) -> None:
    """Caller holds the job's budget lock, then the earnings' row locks (the lock order).
    `reference` is completed with the first earning sent back: each earning goes back once, so
    each reversal gets a reference of its own (an earning kept by the worker can lead the list in
    every reversal and must not name it)."""
    # The budget (locked by the caller, before the earnings): a settlement must not close the
    # escrow while money flows back into it.
    budget = budget_lock(job_id=job_id)
    open_escrow = budget is not None and budget.settled_at is None
    back = [e for e in earnings if e.status == Earning.Status.PENDING and open_escrow]
    kept = [
        e
        for e in earnings
        if e.status == Earning.Status.AVAILABLE
        or (e.status == Earning.Status.PENDING and not open_escrow)
    ]
    # Pay not yet posted (billing/posting.py) never left the escrow: withdrawing it moves nothing.
    total = sum((e.amount for e in back if e.posted_at is not None), Decimal("0.00"))
    tx = None
    if total > 0:
        assert budget is not None
        posted = [e for e in back if e.posted_at is not None]
        # New, or it is an earlier reversal's money: marking these reversed would strand theirs.
        tx = ledger.transfer_new(
            kind=TransactionKind.JUDGMENT_PAY_REVERSE,
            reference=f"{reference}:{posted[0].pk}",
            source=account_get(kind=AccountKind.WORKER_PENDING, worker_id=worker_id),
            target=account_get(kind=AccountKind.CLIENT_ESCROW, job=budget.job),
            amount=total,
            memo=f"{len(posted)} {memo}",
            organization_id=budget.job.organization_id,
            job_id=job_id,
            worker_id=worker_id,
            judgment_id=posted[0].judgment_id if len(posted) == 1 else None,
        )
    if back:  # an unposted one names no transaction: none moved its money, none had to
        for posted_now in (True, False):
            Earning.objects.filter(
                pk__in=[e.pk for e in back if (e.posted_at is not None) == posted_now]
            ).update(status=Earning.Status.REVERSED, settled_transaction=tx if posted_now else None,
                     withdrawn_by_id=withdrawn_by_id)
    if kept:
        Earning.objects.filter(pk__in=[e.pk for e in kept]).update(kept_after_drop=True)
    for earning in earnings:
        earning.refresh_from_db()
