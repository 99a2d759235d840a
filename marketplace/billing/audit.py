"""The ledger audit behind `manage.py billing_audit`: reads only, returns every violation found.

Sums are compared in Python after rounding to cents: SQLite adds decimals as floats, so an
exact SQL comparison there would report float dust as a violation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum

from marketplace.billing import audit_experts, audit_recompute, audit_withdrawals
from marketplace.billing.invoices import invoice_by_number
from marketplace.billing.models import (
    MAY_GO_NEGATIVE,
    AccountKind,
    Earning,
    ExpertEarning,
    InvoicePayment,
    JobBudget,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)
from marketplace.billing.pricing import hold, money
from marketplace.jobs.models import Item, JobStatus

ZERO = Decimal("0.00")


@dataclass
class AuditReport:
    transactions: int = 0
    entries: int = 0
    accounts: int = 0
    judgments_paid: int = 0
    jobs_settled: int = 0
    invoices_paid: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)  # Σ balance per account kind
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def _cents(value: Decimal | float | None) -> Decimal:
    return money(Decimal(str(value))) if value is not None else ZERO


def ledger_audit() -> AuditReport:
    report = AuditReport(
        transactions=LedgerTransaction.objects.count(),
        entries=LedgerEntry.objects.count(),
        accounts=LedgerAccount.objects.count(),
    )
    for _, check in CHECKS:
        check(report)
    return report


def _transactions_balance(report: AuditReport) -> None:
    rows = LedgerEntry.objects.values("transaction_id").annotate(s=Sum("amount"), n=Count("id"))
    seen = 0
    for row in rows.order_by("transaction_id").iterator(chunk_size=5000):
        seen += 1
        if _cents(row["s"]) != ZERO:
            report.violations.append(
                f"transaction {row['transaction_id']} entries sum to {_cents(row['s'])}"
            )
        if row["n"] < 2:
            report.violations.append(f"transaction {row['transaction_id']} has {row['n']} entry")
    if seen != report.transactions:
        empty = LedgerTransaction.objects.filter(entries__isnull=True).values_list("pk", flat=True)[
            :20
        ]
        report.violations.append(f"transactions without entries: {list(empty)}")


def _accounts_match_entries(report: AuditReport) -> None:
    sums = {
        row["account_id"]: _cents(row["s"])
        for row in LedgerEntry.objects.values("account_id").annotate(s=Sum("amount"))
    }
    totals: dict[str, Decimal] = defaultdict(Decimal)
    overall = ZERO
    for account in LedgerAccount.objects.order_by("pk").iterator(chunk_size=5000):
        derived = sums.get(account.pk, ZERO)
        totals[account.kind] += account.balance
        overall += derived
        if _cents(account.balance) != derived:
            report.violations.append(
                f"account {account.pk} ({account}) caches {account.balance} but its entries sum to {derived}"
            )
        if account.kind not in MAY_GO_NEGATIVE and min(account.balance, derived) < 0:
            report.violations.append(
                f"account {account.pk} ({account}) is negative: {min(account.balance, derived)}"
            )
    if overall != ZERO:
        report.violations.append(f"all accounts together hold {overall}, not zero")
    report.totals = dict(sorted(totals.items()))


def _judgments_paid_once(report: AuditReport) -> None:
    """Each pay transaction (a batch of one worker's earnings in one job, billing/posting.py)
    credits that worker's pending account with exactly what the earnings naming it sum to; an
    earning is posted by one batch at most (its one pay_transaction), a posted earning of money
    names its batch, and an unposted one names none."""
    named: dict[int, Decimal] = defaultdict(Decimal)
    owners: dict[int, tuple[int, int]] = {}
    rows = Earning.objects.values_list(
        "pk", "job_id", "worker_id", "amount", "posted_at", "pay_transaction_id", "settled_transaction__kind"
    )
    for pk, job_id, worker_id, amount, posted_at, tx_id, settled_kind in rows.iterator(chunk_size=5000):
        if tx_id is None:
            # An appeal's restore may pay an earning never posted (billing/restoring.py).
            if posted_at is not None and amount and settled_kind != TransactionKind.JUDGMENT_PAY_RESTORE:
                report.violations.append(f"earning {pk} of {amount} is posted by no transaction")
            continue
        if posted_at is None:
            report.violations.append(f"earning {pk} names pay transaction {tx_id} but is unposted")
        if owners.setdefault(tx_id, (job_id, worker_id)) != (job_id, worker_id):
            report.violations.append(f"pay transaction {tx_id} pays earnings of several workers or jobs")
        named[tx_id] += amount
    credited = LedgerEntry.objects.filter(
        transaction__kind=TransactionKind.JUDGMENT_PAY, account__kind=AccountKind.WORKER_PENDING
    ).values_list("transaction_id", "transaction__worker_id", "amount")
    for tx_id, worker_id, amount in credited.iterator(chunk_size=5000):
        earnings = named.pop(tx_id, None)
        if earnings is None:  # a judgment paid twice looks like this: the second pays nothing owed
            report.violations.append(
                f"pay transaction {tx_id} credits {_cents(amount)} to worker {worker_id}, "
                f"but no earning names it"
            )
        elif earnings != _cents(amount) or owners[tx_id][1] != worker_id:
            report.violations.append(
                f"pay transaction {tx_id} credits {_cents(amount)} to worker {worker_id}; "
                f"the earnings naming it total {earnings}"
            )
    for tx_id, amount in sorted(named.items()):
        report.violations.append(f"earnings of {amount} name transaction {tx_id}, which pays nobody")
    report.judgments_paid = Earning.objects.count()


def _owed_pay_on_open_jobs(report: AuditReport) -> None:
    """Pay owed and not yet posted sits on unsettled jobs only: settlement posts it all first.
    (Where the escrow cannot pay it, the next batch covers it from Quorum's revenue.)"""
    owed = {
        row["job_id"]: _cents(row["s"])
        for row in Earning.objects.filter(posted_at__isnull=True, status=Earning.Status.PENDING)
        .values("job_id").annotate(s=Sum("amount"))
    }
    settled = JobBudget.objects.filter(job_id__in=owed, settled_at__isnull=False).values_list("job_id", flat=True)
    for job_id in sorted(settled):
        report.violations.append(f"job {job_id} is settled, yet {owed[job_id]} of its pay was never posted")


def _jobs_charged_once(report: AuditReport) -> None:
    settles = LedgerTransaction.objects.filter(kind=TransactionKind.JOB_SETTLE)
    for row in settles.values("job_id").annotate(n=Count("id")).filter(n__gt=1):
        report.violations.append(f"job {row['job_id']} was settled {row['n']} times")
    escrowed = {
        row["transaction__job_id"]: _cents(row["s"])
        for row in LedgerEntry.objects.filter(
            transaction__kind__in=(TransactionKind.ESCROW_OPEN, TransactionKind.ESCROW_ADD),
            account__kind=AccountKind.CLIENT_ESCROW,
        )
        .values("transaction__job_id")
        .annotate(s=Sum("amount"))
    }
    for budget in JobBudget.objects.order_by("job_id"):
        if escrowed.get(budget.job_id, ZERO) != budget.budget:
            report.violations.append(
                f"job {budget.job_id}: escrowed {escrowed.get(budget.job_id, ZERO)}, budget says {budget.budget}"
            )
        per_item = budget.escrow_per_item or budget.price_per_item
        # Holds round up (pricing.hold); budgets opened before that rounded half to even.
        if budget.budget - budget.added not in (hold(budget.items, per_item), money(budget.items * per_item)):
            report.violations.append(f"job {budget.job_id}: budget {budget.budget} ≠ items × hold + added")
        if budget.settled_at is None:
            continue
        report.jobs_settled += 1
        assert budget.completed_items is not None and budget.charged is not None
        if budget.completed_items > budget.items:
            report.violations.append(
                f"job {budget.job_id}: charged {budget.completed_items} of {budget.items} items"
            )
        if (
            budget.gross != money(budget.completed_items * budget.price_per_item)
            or budget.charged != (budget.gross - (budget.credits or ZERO) + (budget.reviews_charged or ZERO)
                                  + (budget.extras_charged or ZERO))
            or budget.charged > budget.budget
        ):
            report.violations.append(
                f"job {budget.job_id}: charge {budget.charged} does not follow its items"
            )


def _extra_judgments_held_and_charged(report: AuditReport) -> None:
    """More judgments a client asks for have their pay held (the hold is an escrow addition, so
    `added` covers it: one hold reopening the items several times shows here), and a settlement
    charges the ones given at the job's pay, never more than were asked for."""
    asked = dict(
        Item.objects.filter(is_gold=False, asked_judgments__gt=0).values("job_id")
        .annotate(n=Sum("asked_judgments")).values_list("job_id", "n")
    )
    for budget in JobBudget.objects.filter(job_id__in=list(asked)).order_by("job_id"):
        pay = money(asked[budget.job_id] * budget.pay_per_judgment)
        if pay > budget.added:
            report.violations.append(
                f"job {budget.job_id}: {asked[budget.job_id]} more judgments asked for pay {pay}, "
                f"but only {budget.added} was added to its escrow"
            )
    for budget in JobBudget.objects.filter(settled_at__isnull=False, extra_judgments__isnull=False).order_by("job_id"):
        given = budget.extra_judgments or 0
        if given > asked.get(budget.job_id, 0) or budget.extras_charged != money(given * budget.pay_per_judgment):
            report.violations.append(
                f"job {budget.job_id}: charged {budget.extras_charged} for {given} more judgments "
                f"({asked.get(budget.job_id, 0)} asked for, pay {budget.pay_per_judgment})"
            )


def _pending_matches_earnings(report: AuditReport) -> None:
    pending = {
        row["worker_id"]: _cents(row["s"])
        for row in Earning.objects.filter(status=Earning.Status.PENDING, posted_at__isnull=False)
        .values("worker_id")
        .annotate(s=Sum("amount"))
    }
    expert = ExpertEarning.objects.filter(status=ExpertEarning.Status.PENDING).values("worker_id")
    for row in expert.annotate(s=Sum("amount")):  # expert review pay is posted when earned
        pending[row["worker_id"]] = pending.get(row["worker_id"], ZERO) + _cents(row["s"])
    for account in LedgerAccount.objects.filter(kind=AccountKind.WORKER_PENDING):
        if pending.pop(account.worker_id, ZERO) != _cents(account.balance):
            report.violations.append(
                f"worker {account.worker_id}: pending account ≠ posted pending earnings"
            )
    for worker_id, amount in pending.items():
        if amount:
            report.violations.append(
                f"worker {worker_id}: {amount} pending earnings without an account"
            )


def _finished_jobs_settled(report: AuditReport) -> None:
    """A completed or cancelled job settles in the transaction that ends it (billing.settlement.job_finalize)."""
    unsettled = JobBudget.objects.filter(
        settled_at__isnull=True, job__status__in=(JobStatus.COMPLETED, JobStatus.CANCELLED)
    ).values_list("job_id", flat=True)
    for job_id in unsettled:
        report.violations.append(f"job {job_id} ended but its escrow was never settled")


def _paid_invoices_unchanged(report: AuditReport) -> None:
    """An invoice marked paid must still total what was paid: its jobs' charges are final."""
    for payment in InvoicePayment.objects.order_by("id"):
        total = invoice_by_number(number=payment.number).total
        if total != payment.total:
            report.violations.append(
                f"invoice {payment.number}: paid {payment.total}, now totals {total}"
            )
        report.invoices_paid += 1


# Every check, with the sentence the staff audit page shows beside its verdict.
CHECKS: list[tuple[str, Callable[[AuditReport], None]]] = [
    ("Every transaction balances (entries sum to zero, at least two entries)", _transactions_balance),
    ("Every cached balance equals its entries; no protected balance is negative", _accounts_match_entries),
    ("No judgment paid twice; every pay matches the earnings it posted", _judgments_paid_once),
    ("Pay owed and not yet posted is on unsettled jobs only", _owed_pay_on_open_jobs),
    ("No job escrowed or charged beyond its items, none settled twice", _jobs_charged_once),
    ("More judgments a client asked for are held, and charged at the pay of those given",
     _extra_judgments_held_and_charged),
    ("Pending accounts equal posted pending earnings (judgments and expert reviews)", _pending_matches_earnings),
    ("Every ended job is settled", _finished_jobs_settled),
    ("Every paid invoice still totals what was paid", _paid_invoices_unchanged),
    ("Every transaction has its kind's shape: its accounts, directions and owners only",
     audit_recompute.transactions_shaped),
    ("Every escrow holds its budget less its pay; every settlement moved the charge its budget records",
     audit_recompute.budgets_match_escrow_and_settlement),
    ("Every worker's pay in a job is the remainder rule's: ranks 1..n, n × pay rounded in all",
     audit_recompute.pay_follows_the_remainder_rule),
    ("Every release and reversal moved exactly the earnings that name it; none stranded",
     audit_recompute.earnings_settled_by_their_transactions),
    ("Every payout request and paid or rejected batch moved its amount",
     audit_recompute.payouts_match_their_transactions),
    ("Every restore by an upheld appeal moved exactly the earnings it gave back",
     audit_recompute.restores_match_earnings),
    ("No appeal gave back pay an admin's (final) block withdrew",
     audit_withdrawals.restores_undo_automatic_blocks_only),
    ("No block withdrew pay earned after it ended: each block's withdrawal is its own",
     audit_withdrawals.withdrawals_take_their_own_blocks_pay),
    ("No settled job paid a blocked worker's dropped judgments without a decision to leave the pay",
     audit_withdrawals.settled_jobs_pay_no_dropped_work_undecided),
    ("No pay under a pending withdrawal review released before its decision (unless a repair left "
     "it and listed it), none held with no review pending", audit_withdrawals.reviewed_pay_where_its_review_says),
    ("No pay an approved withdrawal review withdrew still pending, or released since the review "
     "opened beyond what the review records as left with the worker", audit_withdrawals.approved_reviews_took_their_pay),
    ("Every expert's pay matches one review they settled; every client's review hold and charge "
     "matches the reviews it asked for", audit_experts.expert_money_matches_reviews),
]
