"""Posting to the double-entry ledger: the only code that writes entries and balances.

Locking contract: `post()` locks every account it touches with SELECT … FOR UPDATE in primary-key
order, then looks the reference up, then checks and writes. Callers that must read a balance
before deciding an amount (escrow cover, the worker's pay rank) call `accounts_lock()` first with
the same accounts; locking again inside `post()` is free. Run inside transaction.atomic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Round

from marketplace.billing.models import (
    MAY_GO_NEGATIVE,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from marketplace.billing.pricing import CENT_PLACES, is_money
from marketplace.errors import Conflict
from marketplace.jobs.models import Job


class LedgerError(Exception):
    """A programming error: an unbalanced or malformed posting (never a user's mistake)."""


class BalanceWouldGoNegative(Conflict):
    """The last line of defence; services check the balance first and raise a clearer error."""

    code = "balance_would_go_negative"


@dataclass(frozen=True)
class Leg:
    account: LedgerAccount
    amount: Decimal  # signed, 2 places: + into the account, − out of it


def account_get(
    *,
    kind: str,
    organization_id: int | None = None,
    job: Job | None = None,
    worker_id: int | None = None,
) -> LedgerAccount:
    """The account of this kind and owner, created at zero on first use."""
    lookup: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    if kind == AccountKind.CLIENT_BALANCE:
        lookup = {"organization_id": organization_id}
    elif kind == AccountKind.CLIENT_ESCROW:
        assert job is not None
        lookup, defaults = {"job_id": job.pk}, {"organization_id": job.organization_id}
    elif kind in (AccountKind.WORKER_PENDING, AccountKind.WORKER_AVAILABLE):
        lookup = {"worker_id": worker_id}
    # get_or_create retries the get inside a savepoint when a concurrent insert wins the race.
    account, _ = LedgerAccount.objects.get_or_create(kind=kind, **lookup, defaults=defaults)
    return account


def accounts_lock(accounts: Iterable[LedgerAccount]) -> dict[int, LedgerAccount]:
    """Lock the accounts, fresh from the database, keyed by pk."""
    pks = sorted({account.pk for account in accounts})
    # Always pk order: two postings over the same accounts then queue instead of deadlocking.
    locked = LedgerAccount.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    return {account.pk: account for account in locked}


@transaction.atomic
def post(
    *,
    kind: str,
    reference: str,
    legs: Sequence[Leg],
    memo: str = "",
    **related: Any,
) -> tuple[LedgerTransaction, bool]:
    """Post one balanced transaction; returns (transaction, created).

    A reference that already exists returns that transaction and posts nothing (idempotent
    retry). Legs on the same account are merged. `related` sets the transaction's related ids
    (organization, job, judgment, worker, actor). Raises BalanceWouldGoNegative when a
    protected account would fall below zero, LedgerError on an unbalanced posting.
    """
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for leg in legs:
        if not is_money(leg.amount):
            raise LedgerError(f"{reference}: amount {leg.amount} is not rounded to cents")
        totals[leg.account.pk] += leg.amount
    totals = {pk: amount for pk, amount in totals.items() if amount != 0}
    if sum(totals.values(), Decimal(0)) != 0:
        raise LedgerError(f"{reference}: entries sum to {sum(totals.values())}, not zero")
    if len(totals) < 2:
        raise LedgerError(f"{reference}: a transaction moves money between at least two accounts")

    locked = accounts_lock(leg.account for leg in legs)
    # Under the locks, so a concurrent retry of the same reference has committed or not begun.
    existing = LedgerTransaction.objects.filter(reference=reference).first()
    if existing is not None:
        return existing, False
    for pk, amount in totals.items():
        account = locked[pk]
        if account.kind not in MAY_GO_NEGATIVE and account.balance + amount < 0:
            raise BalanceWouldGoNegative(
                f"{account} holds {account.balance}; {reference} would take {-amount}.",
                details={
                    "account": account.pk,
                    "balance": str(account.balance),
                    "amount": str(amount),
                },
            )

    tx = LedgerTransaction.objects.create(
        kind=kind, reference=reference, memo=memo[:255], **related
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(transaction=tx, account_id=pk, amount=amount)
            for pk, amount in sorted(totals.items())
        ]
    )
    for pk, amount in totals.items():
        # Round: SQLite adds decimals as floats, and float dust below zero would trip the check.
        LedgerAccount.objects.filter(pk=pk).update(
            balance=Round(F("balance") + amount, CENT_PLACES)
        )
        locked[pk].balance += amount
    return tx, True


def transfer(
    *,
    kind: str,
    reference: str,
    source: LedgerAccount,
    target: LedgerAccount,
    amount: Decimal,
    memo: str = "",
    **related: Any,
) -> tuple[LedgerTransaction, bool]:
    """Move `amount` (> 0) from source to target: the two-leg case of post()."""
    if amount <= 0:
        raise LedgerError(f"{reference}: a transfer moves a positive amount, not {amount}")
    return post(
        kind=kind,
        reference=reference,
        memo=memo,
        legs=[Leg(source, -amount), Leg(target, amount)],
        **related,
    )


def world() -> LedgerAccount:
    return account_get(kind=AccountKind.WORLD)
