"""Reads behind the billing API: a client's statement, a worker's earnings, batches for review.

Every function starts from the requester's organization or worker: nothing here looks up by a
bare id (billing/selectors.py holds the balances and quotes these build on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from marketplace.accounts.models import Organization, User
from marketplace.billing import holding, posting
from marketplace.billing.models import (
    AccountKind,
    Earning,
    ExpertEarning,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutBatch,
)

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class OpenEscrow:
    job_id: int
    title: str
    status: str
    budget: Decimal  # escrowed at publish (and later imports)
    escrow: Decimal  # what is left in it now for work (less pay owed, not yet posted)


def organization_open_escrows(*, organization: Organization) -> list[OpenEscrow]:
    """The escrow of each of the organization's jobs not yet settled."""
    accounts = (
        LedgerAccount.objects.filter(
            kind=AccountKind.CLIENT_ESCROW,
            organization=organization,
            job__budget__settled_at__isnull=True,
        )
        .select_related("job__budget")
        .order_by("job_id")
    )
    return [
        OpenEscrow(
            job_id=a.job_id,
            title=a.job.title,
            status=a.job.status,
            budget=a.job.budget.budget,
            escrow=a.balance - posting.unposted(job_id=a.job_id),
        )
        for a in accounts
        if a.job is not None
    ]


def organization_transactions(*, organization: Organization) -> QuerySet[LedgerTransaction]:
    """The organization's ledger transactions, newest first, each with only the entries on
    the organization's own accounts (its balance and its jobs' escrows) prefetched."""
    own = LedgerEntry.objects.filter(account__organization=organization).select_related("account")
    return (
        LedgerTransaction.objects.filter(organization=organization)
        .prefetch_related(Prefetch("entries", queryset=own, to_attr="own_entries"))
        .order_by("-created_at", "-id")
    )


def transaction_changes(tx: LedgerTransaction) -> tuple[Decimal, Decimal]:
    """(balance change, escrow change) of a transaction from organization_transactions."""
    balance = escrow = ZERO
    for entry in getattr(tx, "own_entries", []):
        if entry.account.kind == AccountKind.CLIENT_BALANCE:
            balance += entry.amount
        else:
            escrow += entry.amount
    return balance, escrow


def worker_recent_earnings(*, worker: User, limit: int = 50) -> list[Earning]:
    return list(
        Earning.objects.filter(worker=worker).select_related("job").order_by("-created_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class EarningsDay:
    """A worker's earnings in one job on one day (UTC), by status; amounts in currency units."""

    job_id: int
    title: str
    day: date
    answers: int  # paid answers that still count (withdrawn and held ones aside)
    pending: Decimal
    # Released from the hold: payable then, and perhaps paid out since (a payout takes from the
    # worker's available balance, not from given earnings), so it is not what is available now.
    released: Decimal
    withdrawn: Decimal  # pay taken back: dropped by a quality block, or undone by the worker
    kept_after_drop: int  # answers dropped after their pay was released: the worker kept it
    # When the day's last pending earning has waited out the hold: from then on the release
    # (every QUORUM_EARNINGS_RELEASE_MINUTES) makes it available. None: nothing pending.
    payable_at: datetime | None
    # Held for an admin's review of a block's withdrawal (worker_held_pay), from the moment the
    # review opens: not in `pending`, since no hold makes it payable, only the admin's decision.
    held: Decimal = ZERO

    @property
    def earned(self) -> Decimal:
        return self.pending + self.released


def worker_earnings_by_job_day(*, worker: User, hold_days: int, limit: int = 60) -> list[EarningsDay]:
    """The worker's earnings grouped by job and day, newest day first: one row per job a day
    rather than one per answer. `hold_days`: how long pay stays pending (payouts.hold_days())."""
    # Held: not theirs unless an admin leaves it (billing/holding.py), settled or still pending.
    held = _held_for_review()
    pending, released, reversed_ = (
        Q(status=Earning.Status.PENDING) & ~held, Q(status=Earning.Status.AVAILABLE), Q(status=Earning.Status.REVERSED)
    )
    rows = (
        Earning.objects.filter(worker=worker)
        .annotate(day=TruncDate("created_at"))
        .values("job_id", "job__title", "day")
        .annotate(
            answers=Count("id", filter=~(reversed_ | held)),
            pending=Sum("amount", filter=pending), released=Sum("amount", filter=released),
            withdrawn=Sum("amount", filter=reversed_), kept=Count("id", filter=Q(kept_after_drop=True)),
            last_pending=Max("created_at", filter=pending), held=Sum("amount", filter=held),
        )
        .order_by("-day", "job__title", "job_id")[:limit]
    )
    hold = timedelta(days=hold_days)
    days = [
        EarningsDay(
            job_id=row["job_id"], title=row["job__title"], day=row["day"], answers=row["answers"],
            pending=row["pending"] or ZERO, released=row["released"] or ZERO,
            withdrawn=row["withdrawn"] or ZERO, kept_after_drop=row["kept"],
            payable_at=row["last_pending"] + hold if row["last_pending"] else None, held=row["held"] or ZERO,
        )
        for row in rows
    ]
    # Expert review pay (billing/expert_pay.py): a row of its own per job and day, its reviews as answers.
    expert_pending = Q(status=ExpertEarning.Status.PENDING)
    reviews = (
        ExpertEarning.objects.filter(worker=worker)
        .annotate(day=TruncDate("created_at"))
        .values("job_id", "job__title", "day")
        .annotate(
            n=Count("id"), pending=Sum("amount", filter=expert_pending),
            released=Sum("amount", filter=Q(status=ExpertEarning.Status.AVAILABLE)),
            last_pending=Max("created_at", filter=expert_pending),
        )
        .order_by("-day", "job__title", "job_id")[:limit]
    )
    days += [
        EarningsDay(
            job_id=row["job_id"], title=f"{row['job__title']} (expert reviews)", day=row["day"], answers=row["n"],
            pending=row["pending"] or ZERO, released=row["released"] or ZERO, withdrawn=ZERO, kept_after_drop=0,
            payable_at=row["last_pending"] + hold if row["last_pending"] else None,
        )
        for row in reviews
    ]
    days.sort(key=lambda d: (-d.day.toordinal(), d.title, d.job_id))
    return days[:limit]


# Why held pay is not the worker's yet, in their terms (billing/holding.py). It names no rule,
# gold item or other worker: the block itself is on the worker's quality and appeals pages.
HELD_FOR_REVIEW_REASON = (
    "A quality block in this job dropped these answers and would take back more of your pay there "
    "than a rule takes on its own, so an admin reviews that withdrawal. Until the admin decides, "
    "this pay is not payable: the hold period does not release it, and if the job ends meanwhile "
    "it waits with Quorum. If the admin leaves it with you, or upholds your appeal of the block, "
    "it is yours again (available at once if the job has ended, otherwise once past the hold); "
    "if the admin approves the withdrawal, it is withdrawn."
)


def _held_for_review() -> Q:
    """Earnings held for an admin's review: HELD at settlement, or still pending in an open job
    while the review is (holding.under_review: exactly what the release leaves pending)."""
    return Q(status=Earning.Status.HELD) | holding.under_review()


@dataclass(frozen=True)
class HeldPay:
    """A worker's pay in one job held for an admin's review (Earning.Status.HELD, or pending
    under review while the job is open)."""

    job_id: int
    title: str
    answers: int  # the dropped answers whose pay is held
    amount: Decimal
    # Of `amount`, what is still in the worker's pending account or owed from the job's escrow
    # (the job is open): the ledger counts it as pending, the worker is shown it as held only.
    pending: Decimal = ZERO


def worker_held_pay(*, worker: User) -> list[HeldPay]:
    """The worker's held pay, one row per job (oldest job first), from the moment a review opens;
    sum the amounts for the total."""
    rows = (
        Earning.objects.filter(_held_for_review(), worker=worker)
        .values("job_id", "job__title")
        .annotate(answers=Count("id"), total=Sum("amount"),
                  still_pending=Sum("amount", filter=Q(status=Earning.Status.PENDING)))
        .order_by("job_id")
    )
    return [
        HeldPay(job_id=row["job_id"], title=row["job__title"], answers=row["answers"], amount=row["total"],
                pending=row["still_pending"] or ZERO)
        for row in rows
    ]


def pending_less_held(*, pending: Decimal, held: list[HeldPay]) -> Decimal:
    """The worker's pending figure without the pay held for review (shown apart, in none of the
    other figures): what the hold period will make available."""
    return pending - sum((h.pending for h in held), ZERO)


def worker_payouts(*, worker: User) -> QuerySet[Payout]:
    return Payout.objects.filter(worker=worker).order_by("-requested_at", "-id")


def payout_batches() -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.order_by("-created_at", "-id")
