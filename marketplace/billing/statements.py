"""Reads behind the billing API: a client's statement, a worker's earnings, batches for review.

Every function starts from the requester's organization or worker: nothing here looks up by a
bare id (billing/selectors.py holds the balances and quotes these build on).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Prefetch, QuerySet, Sum

from marketplace.accounts.models import Organization, User
from marketplace.billing.models import (
    AccountKind,
    Earning,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutBatch,
)
from marketplace.billing.pricing import rate
from marketplace.billing.selectors import PayoutRow
from marketplace.quality.models import WorkerJobStats

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class OpenEscrow:
    job_id: int
    title: str
    status: str
    budget: Decimal  # escrowed at publish (and later imports)
    escrow: Decimal  # what is left in it now


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
            escrow=a.balance,
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


def worker_payouts(*, worker: User) -> QuerySet[Payout]:
    return Payout.objects.filter(worker=worker).order_by("-requested_at", "-id")


def payout_batches() -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.order_by("-created_at", "-id")


def payout_batches_rows(*, batches: list[PayoutBatch]) -> dict[int, list[PayoutRow]]:
    """selectors.payout_batch_rows for a page of batches in three queries, not three per batch."""
    payouts = list(
        Payout.objects.filter(batch__in=batches).select_related("worker").order_by("batch_id", "id")
    )
    workers = {p.worker_id for p in payouts}
    stats = {
        row["worker_id"]: row
        for row in WorkerJobStats.objects.filter(worker_id__in=workers)
        .values("worker_id")
        .annotate(seen=Sum("gold_seen"), right=Sum("gold_correct"))
    }
    kept = {
        row["worker_id"]: row["n"]
        for row in Earning.objects.filter(worker_id__in=workers, kept_after_drop=True)
        .values("worker_id")
        .annotate(n=Count("id"))
    }
    rows: dict[int, list[PayoutRow]] = {b.pk: [] for b in batches}
    for p in payouts:
        stat = stats.get(p.worker_id) or {"seen": 0, "right": 0}
        seen = stat["seen"] or 0
        rows[p.batch_id].append(  # type: ignore[index]
            PayoutRow(
                payout_id=p.pk,
                worker_id=p.worker_id,
                handle=p.worker.username,
                amount=p.amount,
                gold_seen=seen,
                gold_accuracy=rate(Decimal(stat["right"] or 0) / seen) if seen else None,
                kept_after_drop=kept.get(p.worker_id, 0),
            )
        )
    return rows
