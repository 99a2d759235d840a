"""Posting to the double-entry ledger: the only code that writes entries and balances.

Locking contract: `post()` locks every account it touches with SELECT … FOR UPDATE in primary-key
order, then looks the reference up, then checks and writes. Callers that must read a balance
before deciding an amount (escrow cover, the worker's pay rank) call `accounts_lock()` first with
the same accounts; locking again inside `post()` is free. Run inside transaction.atomic.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from marketplace.billing.models import (
    MAY_GO_NEGATIVE,
    WORKER_KINDS,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from marketplace.billing.pricing import CENT_PLACES, is_money
from marketplace.bulk_sql import update_from_values
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


def worker_accounts(*, kind: str, worker_ids: Iterable[int]) -> dict[int, LedgerAccount]:
    """Many workers' accounts of one kind by worker id, each created at zero on first use, as
    account_get would, in two or three statements whatever their number."""
    if kind not in WORKER_KINDS:
        raise LedgerError(f"{kind} is not a worker's account")
    wanted = set(worker_ids)
    found = {a.worker_id: a for a in LedgerAccount.objects.filter(kind=kind, worker_id__in=wanted)}
    missing = wanted - found.keys()
    if missing:
        # A concurrent first use may create some of them first: those are skipped here (it holds
        # the unique constraint until it commits, and this waits) and found by the read below.
        LedgerAccount.objects.bulk_create(
            [LedgerAccount(kind=kind, worker_id=worker) for worker in sorted(missing)], ignore_conflicts=True)
        found.update({a.worker_id: a for a in LedgerAccount.objects.filter(kind=kind, worker_id__in=missing)})
    return found


def accounts_lock(accounts: Iterable[LedgerAccount]) -> dict[int, LedgerAccount]:
    """Lock the accounts, fresh from the database, keyed by pk."""
    pks = sorted({account.pk for account in accounts})
    # Always pk order: two postings over the same accounts then queue instead of deadlocking.
    locked = LedgerAccount.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    return {account.pk: account for account in locked}


def reference_claim(reference: str) -> None:
    """Hold the idempotency `reference` until this transaction ends: another transaction claiming
    it waits here, then sees what this one committed. Call it first, before the check of whether
    the reference posted: a request checks that, does its work, and posts last, so without the
    claim concurrent copies of one request all pass the check and all do the work.

    PostgreSQL: an advisory lock on a 64-bit hash of the reference (a collision only makes two
    requests queue). Its one-key space is apart from the two-key locks of paying.py, skills.py
    and sql_gold.py, and it is taken before any row lock, so it waits on nothing else and joins
    no cycle. SQLite serializes writers already."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(reference.encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


@dataclass(frozen=True)
class Posting:
    """One balanced transaction to post (post_many): its legs and the transaction's fields."""

    kind: str
    reference: str
    legs: Sequence[Leg]
    memo: str = ""
    related: Mapping[str, Any] = field(default_factory=dict)  # organization_id, job_id, ...


def post(
    *,
    kind: str,
    reference: str,
    legs: Sequence[Leg],
    memo: str = "",
    only_new: bool = False,
    **related: Any,
) -> tuple[LedgerTransaction, bool]:
    """Post one balanced transaction; returns (transaction, created).

    A reference that already exists returns that transaction and posts nothing (idempotent
    retry), or with `only_new` raises LedgerError (post_new says when). Legs on the same account
    are merged. `related` sets the transaction's related ids (organization, job, judgment,
    worker, actor). Raises BalanceWouldGoNegative when a protected account would fall below
    zero, LedgerError on an unbalanced posting.
    """
    posting = Posting(kind=kind, reference=reference, legs=legs, memo=memo, related=related)
    return post_many([posting], only_new=only_new)[0]


@transaction.atomic
def post_many(postings: Sequence[Posting], *, only_new: bool = False) -> list[tuple[LedgerTransaction, bool]]:
    """Post several balanced transactions as post() would one after the other, each checked on
    the balances the ones before it left; returns (transaction, created) for each, in order.
    `only_new`: a reference already posted raises LedgerError before anything is written.

    In a fixed number of statements whatever their number (the pay posting batch moves a job's
    escrow to hundreds of workers at once; one post() each took ten statements apiece and held
    its transaction, and with it PostgreSQL's cleanup horizon, for seconds). All or nothing."""
    totals = [_totals(posting) for posting in postings]
    references = [posting.reference for posting in postings]
    if len(set(references)) != len(references):
        raise LedgerError("the same reference twice in one posting")
    locked = accounts_lock(leg.account for posting in postings for leg in posting.legs)
    # Under the locks, so a concurrent retry of the same reference has committed or not begun.
    existing = {tx.reference: tx for tx in LedgerTransaction.objects.filter(reference__in=references)}
    if only_new and existing:
        raise LedgerError(f"{next(ref for ref in references if ref in existing)} was already posted")
    balances = {pk: account.balance for pk, account in locked.items()}
    new: list[tuple[Posting, dict[int, Decimal]]] = []
    for posting, amounts in zip(postings, totals, strict=True):
        if posting.reference in existing:
            continue
        for pk, amount in amounts.items():
            account = locked[pk]
            if account.kind not in MAY_GO_NEGATIVE and balances[pk] + amount < 0:
                raise BalanceWouldGoNegative(
                    f"{account} holds {balances[pk]}; {posting.reference} would take {-amount}.",
                    details={"account": account.pk, "balance": str(balances[pk]), "amount": str(amount)},
                )
            balances[pk] += amount
        new.append((posting, amounts))
    created = LedgerTransaction.objects.bulk_create([
        LedgerTransaction(kind=posting.kind, reference=posting.reference, memo=posting.memo[:255], **posting.related)
        for posting, _ in new
    ])
    LedgerEntry.objects.bulk_create([
        LedgerEntry(transaction=tx, account_id=pk, amount=amount)
        for tx, (_, amounts) in zip(created, new, strict=True) for pk, amount in sorted(amounts.items())
    ])
    _balances_add({pk: balances[pk] - account.balance for pk, account in locked.items()})
    for pk, account in locked.items():
        account.balance = balances[pk]
    made = {tx.reference: tx for tx in created}
    return [(existing[ref], False) if ref in existing else (made[ref], True) for ref in references]


def post_new(postings: Sequence[Posting]) -> list[LedgerTransaction]:
    """post_many for callers that then record what the money paid for (earnings marked posted
    or released, an earning created): every reference must be new. One already posted means
    another run moved that money, and marking these rows for it would pay them twice, so this
    raises LedgerError naming it and writes none of the postings."""
    return [tx for tx, _ in post_many(postings, only_new=True)]


def _totals(posting: Posting) -> dict[int, Decimal]:
    """The posting's amount per account, legs on one account merged; checked to balance."""
    reference = posting.reference
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for leg in posting.legs:
        if not is_money(leg.amount):
            raise LedgerError(f"{reference}: amount {leg.amount} is not rounded to cents")
        totals[leg.account.pk] += leg.amount
    totals = {pk: amount for pk, amount in totals.items() if amount != 0}
    if sum(totals.values(), Decimal(0)) != 0:
        raise LedgerError(f"{reference}: entries sum to {sum(totals.values())}, not zero")
    if len(totals) < 2:
        raise LedgerError(f"{reference}: a transaction moves money between at least two accounts")
    return totals


def _balances_add(deltas: dict[int, Decimal]) -> None:
    """Add to the accounts' balances in one UPDATE per thousand (the caller holds their locks).
    Joined to a VALUES list, not a CASE per account: Django compiling a thousand WHENs cost more
    of the server's CPU than the rest of a crowd's pay posting."""
    rows = [(pk, delta) for pk, delta in deltas.items() if delta != 0]
    # ROUND: SQLite adds decimals as floats, and float dust below zero would trip the check.
    update_from_values(LedgerAccount._meta.db_table, f"balance = ROUND(t.balance + v.column2, {CENT_PLACES})", rows)


def transfer(
    *,
    kind: str,
    reference: str,
    source: LedgerAccount,
    target: LedgerAccount,
    amount: Decimal,
    memo: str = "",
    only_new: bool = False,
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
        only_new=only_new,
        **related,
    )


def transfer_new(**transfer_args: Any) -> LedgerTransaction:
    """transfer() whose reference must be new (see post_new): LedgerError if it was posted."""
    return transfer(**transfer_args, only_new=True)[0]


def world() -> LedgerAccount:
    return account_get(kind=AccountKind.WORLD)
