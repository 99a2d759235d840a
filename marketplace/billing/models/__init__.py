"""Billing: tiers, the double-entry ledger, job budgets, worker earnings and payouts.

The ledger
- Every money movement is one LedgerTransaction whose LedgerEntry amounts (signed, 2 places)
  sum to zero. Entries and transactions are append-only: nothing updates or deletes them, and a
  posted transaction takes no new entries (the model refuses; on PostgreSQL triggers refuse
  both, and a deferred trigger refuses an unbalanced transaction at commit). `LedgerTransaction.reference` is unique: posting a reference twice returns the first
  transaction (idempotent retries).
- An account's balance is the sum of its entries. `LedgerAccount.balance` caches it, updated
  with F() in the same database transaction as the entries; `billing_audit` proves them equal.
- `world` is the outside (money entering and leaving Quorum) and goes negative as clients top
  up; `platform_revenue` may go negative (a platform loss). Every other account is never
  negative: a CheckConstraint on the cached balance, and a check under lock before posting.

Where money flows
    top-up        world → client_balance(org)
    publish       client_balance → client_escrow(job)            budget = items × price
    judgment      client_escrow → worker_pending(worker)          pay per accepted judgment
    drop (block)  worker_pending → client_escrow                  only while pending
    hold (settle) worker_pending → client_escrow                  a withdrawal under review (billing/holding.py)
    settle        client_escrow ⇄ platform_revenue                charged − spent
                  client_escrow → client_balance                  the unspent rest
    release       worker_pending → worker_available               after the hold period
    payout        worker_available → payouts_in_flight → payouts_paid (rejected: back)
    expert hold   client_balance → client_escrow(job)             reviews asked × price (ESCROW_ADD)
    expert pay    client_escrow → worker_pending                  a review the client asked for
                  platform_revenue → worker_pending               one Quorum queued (or after settle)
"""


from marketplace.billing.models.experts import ExpertEarning, ReviewCharge
from marketplace.billing.models.jobs import JobBudget, QualityCredit
from marketplace.billing.models.ledger import (
    MAY_GO_NEGATIVE,
    SINGLETON_KINDS,
    WORKER_KINDS,
    AccountKind,
    ClosedTransaction,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)
from marketplace.billing.models.payouts import Earning, InvoicePayment, Payout, PayoutBatch
from marketplace.billing.models.requests import IdempotentRequest
from marketplace.billing.models.tiers import MONEY, RATE, SHARE, Tier

__all__ = [
    "MAY_GO_NEGATIVE", "MONEY", "RATE", "SHARE", "SINGLETON_KINDS", "WORKER_KINDS", "AccountKind", "ClosedTransaction", "Earning",
    "ExpertEarning", "IdempotentRequest", "ReviewCharge",
    "InvoicePayment", "JobBudget", "LedgerAccount", "LedgerEntry", "LedgerTransaction", "Payout", "PayoutBatch",
    "QualityCredit", "Tier", "TransactionKind",
]
