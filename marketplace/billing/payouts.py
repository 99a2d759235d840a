"""Worker money: releasing earnings after the hold period, payout requests and payout batches.

    pending ──(hold: QUORUM_EARNINGS_HOLD_DAYS)──▶ available ──request──▶ payouts_in_flight
    payouts_in_flight ──batch paid──▶ payouts_paid;  batch rejected ──▶ back to available

A batch: pending ──approve──▶ approved ──export (the provider's file)──▶ mark paid. A batch is
marked paid only once exported, and rejected after export only when the provider paid none of it.

Settings (read at call time; defaults here): QUORUM_EARNINGS_HOLD_DAYS = 7 days,
QUORUM_MIN_PAYOUT = 10.00.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.billing import expert_pay, holding, ledger, posting
from marketplace.billing.idempotency import RequestConflict
from marketplace.billing.ledger import Leg, account_get
from marketplace.billing.models import AccountKind, Earning, Payout, PayoutBatch, TransactionKind
from marketplace.billing.pricing import is_money
from marketplace.billing.services import InsufficientFunds, require_admin
from marketplace.csvcells import csv_cell
from marketplace.errors import ApplicationError, Conflict
from marketplace.isotime import iso_utc
from marketplace.wording import a_or_an

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
DEFAULT_HOLD_DAYS = 7
DEFAULT_MIN_PAYOUT = Decimal("10.00")


def hold_days() -> int:
    return int(getattr(settings, "QUORUM_EARNINGS_HOLD_DAYS", DEFAULT_HOLD_DAYS))


def min_payout() -> Decimal:
    return Decimal(str(getattr(settings, "QUORUM_MIN_PAYOUT", DEFAULT_MIN_PAYOUT)))


@dataclass(frozen=True)
class Released:
    earnings: int
    workers: int
    amount: Decimal


def earnings_release(*, now: datetime | None = None, limit: int = 10_000) -> Released:
    """Move earnings older than the hold period from pending to available: one transaction per
    worker, per call, referenced by the first and last earning it moves (each moves once).
    Idempotent (a released earning is no longer pending). The release schedule
    (billing/tasks.py) calls it until nothing is due. Concurrent runs take disjoint rows.

    Pay still owed from an escrow is posted first, in transactions of its own (billing/posting.py:
    budget → earnings → accounts), so what is released is in the ledger, and no budget lock is
    held while releasing. Pay whose withdrawal an admin is reviewing is left pending until decided
    (holding.under_review). Locks: earnings rows (SKIP LOCKED), then the worker's accounts."""
    cutoff = (now or timezone.now()) - timedelta(days=hold_days())
    due = (
        Earning.objects.filter(status=Earning.Status.PENDING, posted_at__isnull=True, created_at__lte=cutoff)
        .values_list("job_id", flat=True).distinct()
    )
    for job_id in sorted(set(due)):
        posting.job_pay_post(job_id=job_id)
    released = _release(cutoff=cutoff, limit=limit)
    # Expert review pay (billing/expert_pay.py), posted when the review was settled, in its own
    # transactions: the same hold, the same accounts.
    experts = expert_pay.expert_earnings_release(cutoff=cutoff, limit=limit)
    return Released(
        earnings=released.earnings + experts.earnings, workers=released.workers + experts.workers,
        amount=released.amount + experts.amount,
    )


@transaction.atomic
def _release(*, cutoff: datetime, limit: int) -> Released:
    # Lock the rows we release; rows another run holds are skipped, not waited for. An earning a
    # posting batch skipped just now waits for the next release. Pay whose withdrawal an admin
    # is reviewing stays pending until decided (billing/holding.py): not the worker's yet.
    rows = list(
        Earning.objects.select_for_update(skip_locked=True)
        .filter(status=Earning.Status.PENDING, posted_at__isnull=False, created_at__lte=cutoff)
        .exclude(holding.under_review())
        .order_by("id")[:limit]
    )
    # Asked again now the rows are ours (a new statement sees what committed since): a block
    # that opened a review after the query began may have freed rows it locked to weigh them
    # (restoring.rule_pay_reverse), and those must not go.
    reviewed = set(Earning.objects.filter(holding.under_review(), pk__in=[e.pk for e in rows])
                   .values_list("pk", flat=True))
    rows = [e for e in rows if e.pk not in reviewed]
    by_worker: dict[int, list[Earning]] = defaultdict(list)
    for earning in rows:
        by_worker[earning.worker_id].append(earning)
    paid: list[posting.Owed] = []  # (worker, earnings, amount > 0)
    unpaid: list[int] = []  # earnings of workers owed 0.00: available, with nothing to move
    for worker_id, earnings in sorted(by_worker.items()):
        amount = sum((e.amount for e in earnings), Decimal("0.00"))  # never negative (earning_not_negative)
        if amount > 0:
            paid.append((worker_id, earnings, amount))
        else:
            unpaid.extend(e.pk for e in earnings)
    posting.earnings_release_post(owed=paid, model=Earning, reference="release:{worker}:{first}:{last}",
                                  memo="{count} earning(s) past the hold period")
    Earning.objects.filter(pk__in=unpaid).update(status=Earning.Status.AVAILABLE, settled_transaction=None)
    total = sum((amount for _, _, amount in paid), Decimal("0.00"))
    return Released(earnings=len(rows), workers=len(by_worker), amount=total)


@transaction.atomic
def payout_request(*, worker: User, amount: Decimal, key: str | None = None) -> Payout:
    """A worker asks for `amount` of their available earnings (at least QUORUM_MIN_PAYOUT).

    With `key` (the API's Idempotency-Key) a retry returns the first request's payout and moves
    nothing (the API answers it as it answered the first: 201 with that payout); the same key with
    another amount is a Conflict. The check runs under the available account's lock, so
    two racing retries cannot both create one."""
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise ApplicationError(
            "Idempotency-Key is 1 to 64 letters, digits or ._:-",
            details={"Idempotency-Key": "missing or invalid"},
        )
    if not worker.is_worker:
        raise ApplicationError("Only workers request payouts.")
    if not is_money(amount) or amount <= 0:
        raise ApplicationError("A payout amount is positive, with at most 2 decimal places.")
    if amount < min_payout():
        raise ApplicationError(f"The smallest payout is {min_payout()}.")
    available = account_get(kind=AccountKind.WORKER_AVAILABLE, worker_id=worker.pk)
    in_flight = account_get(kind=AccountKind.PAYOUTS_IN_FLIGHT)
    # Lock the worker's available account (two requests must not both spend it). The in-flight
    # account is one row for everyone: requests queue on it, which is fine at their rate.
    held = ledger.accounts_lock([available, in_flight])[available.pk].balance
    earlier = Payout.objects.filter(worker=worker, idempotency_key=key).first() if key else None
    if earlier is not None:
        if earlier.amount != amount:
            raise RequestConflict(f"This Idempotency-Key already requested a payout of {earlier.amount}.",
                                  details={"first_amount": str(earlier.amount)})
        return earlier
    if amount > held:
        raise InsufficientFunds(
            f"You have {held} available; a payout of {amount} is {amount - held} more than that.",
            details={"available": str(held), "missing": str(amount - held)},
        )
    payout = Payout.objects.create(worker=worker, amount=amount, idempotency_key=key)
    ledger.transfer(
        kind=TransactionKind.PAYOUT_REQUEST,
        reference=f"payout:{payout.pk}:request",
        source=available,
        target=in_flight,
        amount=amount,
        worker_id=worker.pk,
    )
    return payout


@transaction.atomic
def payout_batch_create(*, admin: User) -> PayoutBatch:
    """Gather every requested payout not yet in a batch into a new batch for review."""
    require_admin(admin)
    # Lock the requests we gather; a concurrent batch takes the others.
    payouts = list(
        Payout.objects.select_for_update(skip_locked=True)
        .filter(status=Payout.Status.REQUESTED, batch__isnull=True)
        .order_by("id")
    )
    if not payouts:
        raise ApplicationError("No payout requests are waiting.")
    batch = PayoutBatch.objects.create(
        total=sum((p.amount for p in payouts), Decimal("0.00")), created_by=admin
    )
    Payout.objects.filter(pk__in=[p.pk for p in payouts]).update(
        batch=batch, status=Payout.Status.BATCHED
    )
    return batch


def _batch_locked(batch: PayoutBatch, allowed: tuple[str, ...], action: str) -> PayoutBatch:
    # Lock the batch: approve, reject and pay must see each other's status change.
    locked = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.status not in allowed:
        raise Conflict(f"{a_or_an(locked.status, capital=True)} payout batch cannot be {action}.")
    return locked


@transaction.atomic
def payout_batch_approve(*, admin: User, batch: PayoutBatch) -> PayoutBatch:
    require_admin(admin)
    batch = _batch_locked(batch, (PayoutBatch.Status.PENDING,), "approved")
    batch.status, batch.reviewed_by, batch.reviewed_at = (
        PayoutBatch.Status.APPROVED,
        admin,
        timezone.now(),
    )
    batch.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    batch.payouts.update(status=Payout.Status.APPROVED)
    return batch


@transaction.atomic
def payout_batch_reject(*, admin: User, batch: PayoutBatch, reason: str = "",
                        provider_declined: bool = False) -> PayoutBatch:
    """Reject a pending or approved (not yet paid) batch: every amount returns to its worker.
    The reason is kept in the ledger transaction's memo (what the ledger page shows).

    Once its payment file is exported the provider may pay it: returning the amounts then would
    let the workers ask for them again and be paid twice. So an exported batch is rejected only
    when the admin says the provider paid none of it (`provider_declined`), with a reason."""
    require_admin(admin)
    batch = _batch_locked(
        batch, (PayoutBatch.Status.PENDING, PayoutBatch.Status.APPROVED), "rejected"
    )
    if batch.exported_at is not None and not (provider_declined and reason.strip()):
        raise Conflict(
            f"Payout batch {batch.pk}'s payment file went to the provider on "
            f"{batch.exported_at:%Y-%m-%d %H:%M} UTC, so rejecting it could pay its workers twice. "
            "Mark it paid once the provider pays; reject it only when the provider confirms it paid "
            "none of it (provider_declined, with a reason).",
            details={"batch": batch.pk, "exported_at": iso_utc(batch.exported_at)},
        )
    by_worker: dict[int, Decimal] = defaultdict(Decimal)
    for payout in batch.payouts.all():
        by_worker[payout.worker_id] += payout.amount
    legs = [Leg(account_get(kind=AccountKind.PAYOUTS_IN_FLIGHT), -batch.total)] + [
        Leg(account_get(kind=AccountKind.WORKER_AVAILABLE, worker_id=w), amount)
        for w, amount in sorted(by_worker.items())
    ]
    ledger.post(
        kind=TransactionKind.PAYOUT_REJECT,
        reference=f"payout_batch:{batch.pk}:reject",
        legs=legs,
        memo=(f"Payout batch {batch.pk} rejected: {reason.strip()}" if reason.strip()
              else f"Payout batch {batch.pk} rejected")[:255],
        actor_id=admin.pk,
    )
    batch.status, batch.reviewed_by, batch.reviewed_at = (
        PayoutBatch.Status.REJECTED,
        admin,
        timezone.now(),
    )
    batch.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    batch.payouts.update(status=Payout.Status.REJECTED)
    return batch


@transaction.atomic
def payout_batch_export_csv(*, admin: User, batch: PayoutBatch) -> str:
    """The payment provider's file for an approved batch: payout_id, worker_id, handle, amount.
    The handle is the worker's username; no names, e-mails or bank details leave Quorum here.
    Exported again, the same file; `exported_at` stays the first export's (what a refusal to
    reject quotes, and never after `paid_at`)."""
    require_admin(admin)
    batch = _batch_locked(batch, (PayoutBatch.Status.APPROVED, PayoutBatch.Status.PAID), "exported")
    out = io.StringIO()
    writer = csv.writer(out)  # lines end in \r\n, as RFC 4180 and every other CSV Quorum writes
    writer.writerow(["payout_id", "worker_id", "handle", "amount"])
    for payout in batch.payouts.select_related("worker").order_by("id"):
        writer.writerow(
            [payout.pk, payout.worker_id, csv_cell(payout.worker.username), f"{payout.amount:.2f}"]
        )
    if batch.exported_at is None:  # the first export is when the money may have left: keep it
        batch.exported_at = timezone.now()
        batch.save(update_fields=["exported_at"])
    return out.getvalue()


@transaction.atomic
def payout_batch_mark_paid(*, admin: User, batch: PayoutBatch) -> PayoutBatch:
    """The provider paid an approved batch: its total leaves in-flight for paid.

    Only an exported batch: the provider pays the file it was sent, so a batch marked paid
    without one would record as paid money that no payment file carried."""
    require_admin(admin)
    batch = _batch_locked(batch, (PayoutBatch.Status.APPROVED,), "marked paid")
    if batch.exported_at is None:
        raise Conflict(
            f"Export payout batch {batch.pk}'s payment file before marking it paid: the provider "
            "pays the file it was sent, and no file of this batch has left Quorum yet.",
            details={"batch": batch.pk, "exported_at": None},
        )
    ledger.transfer(
        kind=TransactionKind.PAYOUT_PAID,
        reference=f"payout_batch:{batch.pk}:paid",
        source=account_get(kind=AccountKind.PAYOUTS_IN_FLIGHT),
        target=account_get(kind=AccountKind.PAYOUTS_PAID),
        amount=batch.total,
        memo=f"Payout batch {batch.pk} paid",
        actor_id=admin.pk,
    )
    batch.status, batch.paid_at = PayoutBatch.Status.PAID, timezone.now()
    batch.save(update_fields=["status", "paid_at"])
    batch.payouts.update(status=Payout.Status.PAID)
    return batch
