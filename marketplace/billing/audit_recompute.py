"""Audit checks that recompute the ledger from what caused it (billing/audit.py runs them).

Sums that balance prove little on their own: a balanced pair of entries slipped into an old
transaction, with the cached balances moved to match, leaves every total agreeing. So each
transaction is held to the shape its kind allows (which accounts, which sign, one entry per
account, owners matching its job or worker), and each is recomputed from its cause: a settlement
from its budget, a release or reversal from the earnings it settled, a payout from its request.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Max, Sum

from marketplace.billing.models import (
    AccountKind,
    Earning,
    ExpertEarning,
    JobBudget,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutBatch,
    TransactionKind,
)
from marketplace.billing.pricing import money
from marketplace.labeling.models import JudgmentStatus
from marketplace.wording import a_or_an

if TYPE_CHECKING:
    from marketplace.billing.audit import AuditReport

ZERO = Decimal("0.00")
K, T = AccountKind, TransactionKind
OUT, IN, EITHER = -1, 1, 0
# The accounts each kind of transaction may touch, and which way money goes on each.
SHAPES: dict[str, dict[str, int]] = {
    T.TOPUP: {K.WORLD: OUT, K.CLIENT_BALANCE: IN},
    T.ESCROW_OPEN: {K.CLIENT_BALANCE: OUT, K.CLIENT_ESCROW: IN},
    T.ESCROW_ADD: {K.CLIENT_BALANCE: OUT, K.CLIENT_ESCROW: IN},
    T.JUDGMENT_PAY: {K.CLIENT_ESCROW: OUT, K.WORKER_PENDING: IN},
    T.JUDGMENT_PAY_REVERSE: {K.WORKER_PENDING: OUT, K.CLIENT_ESCROW: IN},
    T.JUDGMENT_PAY_RESTORE: {K.PLATFORM_REVENUE: OUT, K.WORKER_AVAILABLE: IN},
    T.ESCROW_COVER: {K.PLATFORM_REVENUE: OUT, K.CLIENT_ESCROW: IN},
    T.HELD_PAY_RECLAIM: {K.WORKER_PENDING: OUT, K.PLATFORM_REVENUE: IN},
    T.EXPERT_PAY: {K.CLIENT_ESCROW: OUT, K.WORKER_PENDING: IN},
    T.EXPERT_PAY_QUORUM: {K.PLATFORM_REVENUE: OUT, K.WORKER_PENDING: IN},
    T.JOB_SETTLE: {K.CLIENT_ESCROW: OUT, K.PLATFORM_REVENUE: EITHER, K.CLIENT_BALANCE: IN},
    T.EARNINGS_RELEASE: {K.WORKER_PENDING: OUT, K.WORKER_AVAILABLE: IN},
    T.PAYOUT_REQUEST: {K.WORKER_AVAILABLE: OUT, K.PAYOUTS_IN_FLIGHT: IN},
    T.PAYOUT_REJECT: {K.PAYOUTS_IN_FLIGHT: OUT, K.WORKER_AVAILABLE: IN},
    T.PAYOUT_PAID: {K.PAYOUTS_IN_FLIGHT: OUT, K.PAYOUTS_PAID: IN},
}
# A rejected batch returns money to each of its workers; every other kind touches one account
# of each kind it allows.
MANY_OF = {(T.PAYOUT_REJECT, K.WORKER_AVAILABLE)}


def _cents(value: Decimal | float | None) -> Decimal:
    return money(Decimal(str(value))) if value is not None else ZERO


def transactions_shaped(report: AuditReport) -> None:
    """Every entry sits on an account its transaction's kind may touch, moving money the right
    way, on the transaction's own job, organization or worker, one entry per account."""
    rows = LedgerEntry.objects.order_by("transaction_id", "id").values_list(
        "transaction_id", "transaction__kind", "transaction__job_id",
        "transaction__organization_id", "transaction__worker_id",
        "account_id", "account__kind", "account__job_id", "account__organization_id",
        "account__worker_id", "amount",
    )
    current, accounts, kinds = None, set(), set()  # one transaction at a time: rows come in order
    for (tx_id, kind, job_id, organization_id, worker_id, account_id, account_kind,
         account_job, account_organization, account_worker, amount) in rows.iterator(chunk_size=5000):
        if tx_id != current:
            current, accounts, kinds = tx_id, set(), set()
        where, account = f"transaction {tx_id} ({kind})", f"account {account_id} ({account_kind})"
        shape = SHAPES.get(kind)
        if shape is None:
            report.violations.append(f"{where} is of a kind the audit does not know")
            continue
        if account_id in accounts:
            report.violations.append(f"{where} has two entries on {account}")
        if account_kind in kinds and (kind, account_kind) not in MANY_OF:
            report.violations.append(f"{where} touches more than one {account_kind} account")
        accounts.add(account_id)
        kinds.add(account_kind)
        if account_kind not in shape:
            report.violations.append(f"{where} has an entry on {account}, which {a_or_an(kind)} never touches")
            continue
        if shape[account_kind] and (amount > 0) != (shape[account_kind] > 0):
            report.violations.append(f"{where} moves {amount} on {account}: the wrong way")
        owner_ok = (
            (account_job is None or account_job == job_id)
            and (account_worker is None or worker_id is None or account_worker == worker_id)
            and (account_kind != K.CLIENT_BALANCE or organization_id is None
                 or account_organization == organization_id)
        )
        if not owner_ok:
            report.violations.append(f"{where} has an entry on {account}, another owner's account")


def _legs(kinds: tuple[str, ...]) -> dict[int, dict[str, Decimal]]:
    """{transaction id: {account kind: Σ amount}} for the transactions of these kinds."""
    legs: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rows = LedgerEntry.objects.filter(transaction__kind__in=kinds).values_list(
        "transaction_id", "account__kind", "amount"
    )
    for tx_id, account_kind, amount in rows.iterator(chunk_size=5000):
        legs[tx_id][account_kind] += _cents(amount)
    return legs


def budgets_match_escrow_and_settlement(report: AuditReport) -> None:
    """An open job's escrow holds its budget less the pay it made (judgments and the client's
    expert reviews); a settled one holds nothing,
    and its charge, spend, revenue and refund are those its settlement entries moved."""
    held = dict(
        LedgerAccount.objects.filter(kind=K.CLIENT_ESCROW).values_list("job_id", "balance")
    )
    spent = {  # pay out of the escrow, less pay that came back
        row["account__job_id"]: -_cents(row["s"])
        for row in LedgerEntry.objects.filter(
            account__kind=K.CLIENT_ESCROW,
            transaction__kind__in=(T.JUDGMENT_PAY, T.JUDGMENT_PAY_REVERSE, T.EXPERT_PAY),
        ).values("account__job_id").annotate(s=Sum("amount"))
    }
    covered = {  # what Quorum put in to pay work the escrow could not (billing/posting.py)
        row["account__job_id"]: _cents(row["s"])
        for row in LedgerEntry.objects.filter(
            account__kind=K.CLIENT_ESCROW, transaction__kind=T.ESCROW_COVER
        ).values("account__job_id").annotate(s=Sum("amount"))
    }
    settle_tx = dict(
        LedgerTransaction.objects.filter(kind=T.JOB_SETTLE).values_list("job_id", "pk")
    )
    settle_legs = _legs((T.JOB_SETTLE,))
    for budget in JobBudget.objects.order_by("job_id").iterator(chunk_size=2000):
        job, paid = budget.job_id, spent.get(budget.job_id, ZERO)
        escrow = _cents(held.get(job, ZERO))
        cover = covered.get(job, ZERO)
        if cover != budget.covered:
            report.violations.append(f"job {job}: covered {budget.covered}, its escrow took {cover}")
        if budget.settled_at is None:
            left = budget.budget + cover - paid
            if escrow > left:
                report.violations.append(
                    f"job {job}: budget {budget.budget} is below what its escrow holds "
                    f"({escrow}, where the budget less {paid} paid leaves {left})"
                )
            elif escrow < left:
                report.violations.append(
                    f"job {job}: its escrow holds {escrow}, less than its budget leaves ({left})"
                )
            continue
        if escrow:
            report.violations.append(f"job {job} is settled, yet its escrow still holds {escrow}")
        legs = settle_legs.get(settle_tx.get(job, -1), {})
        refund = legs.get(K.CLIENT_BALANCE, ZERO)
        charged = budget.budget - refund  # a settlement refunds the budget less the charge
        revenue = legs.get(K.PLATFORM_REVENUE, ZERO)
        if revenue != charged - paid + cover:  # the cover comes back to Quorum
            report.violations.append(
                f"job {job}: its settlement's revenue {revenue} ≠ charge − pay + cover"
            )
        if budget.charged != charged:
            report.violations.append(
                f"job {job}: charged {budget.charged}, but its settlement charged {charged}"
            )
        for name, moved in (("spent", paid), ("revenue", revenue - cover), ("refunded", refund)):
            if getattr(budget, name) != moved:
                report.violations.append(
                    f"job {job}: {name} {getattr(budget, name)}, but its settlement moved {moved}"
                )


def earnings_settled_by_their_transactions(report: AuditReport) -> None:
    """Each release or reversal moved out of pending exactly what the earnings it settled sum
    to; an earning released or reversed names the transaction that moved its money."""
    named: dict[int, Decimal] = defaultdict(Decimal)
    workers: dict[int, int] = {}
    rows = Earning.objects.exclude(status=Earning.Status.PENDING).values_list(
        "pk", "status", "amount", "worker_id", "settled_transaction_id", "posted_at",
        "settled_transaction__kind",
    )
    released = ExpertEarning.objects.filter(status=ExpertEarning.Status.AVAILABLE).values_list(
        "pk", "amount", "worker_id", "settled_transaction_id"
    )
    for pk, amount, worker_id, tx_id in released.iterator(chunk_size=5000):  # expert pay, released
        if tx_id is None:
            report.violations.append(f"expert earning {pk} is available, but no release moved its {amount}")
            continue
        named[tx_id] += amount
        workers[tx_id] = worker_id
    for pk, status, amount, worker_id, tx_id, posted_at, tx_kind in rows.iterator(chunk_size=5000):
        if tx_kind == T.JUDGMENT_PAY_RESTORE:
            continue  # paid by a restore: restores_match_earnings checks it
        if status == Earning.Status.AVAILABLE and posted_at is None:
            report.violations.append(f"earning {pk} was released before it was posted")
        if tx_id is None:
            if amount and posted_at is not None:  # an unposted reversal never moved money
                report.violations.append(
                    f"earning {pk} is {status} but no transaction moved its {amount}: "
                    f"{amount} stranded in worker {worker_id}'s pending account"
                )
            continue
        named[tx_id] += amount
        workers[tx_id] = worker_id
    kinds = (T.EARNINGS_RELEASE, T.JUDGMENT_PAY_REVERSE, T.HELD_PAY_RECLAIM)
    legs = _legs(kinds)
    tx_kinds = dict(LedgerTransaction.objects.filter(kind__in=kinds).values_list("pk", "kind"))
    for tx_id, kind in sorted(tx_kinds.items()):
        moved = -legs.get(tx_id, {}).get(K.WORKER_PENDING, ZERO)
        settled = named.pop(tx_id, ZERO)
        if settled > moved:
            report.violations.append(
                f"transaction {tx_id} ({kind}) moved {moved} out of pending, but the earnings "
                f"that name it total {settled}: {settled - moved} stranded in worker "
                f"{workers[tx_id]}'s pending account"
            )
        elif settled < moved:
            report.violations.append(
                f"transaction {tx_id} ({kind}) moved {moved} out of pending for earnings of {settled}"
            )
    for tx_id, amount in sorted(named.items()):
        report.violations.append(
            f"earnings of {amount} name transaction {tx_id}, which is no release or reversal"
        )


def payouts_match_their_transactions(report: AuditReport) -> None:
    """A request moved its payout's amount into flight; a paid or rejected batch moved its total
    out, and the total is the sum of its payouts."""
    legs = _legs((T.PAYOUT_REQUEST, T.PAYOUT_PAID, T.PAYOUT_REJECT))
    by_reference = dict(
        LedgerTransaction.objects.filter(
            kind__in=(T.PAYOUT_REQUEST, T.PAYOUT_PAID, T.PAYOUT_REJECT)
        ).values_list("reference", "pk")
    )
    for payout in Payout.objects.order_by("id").iterator(chunk_size=5000):
        tx_id = by_reference.get(f"payout:{payout.pk}:request")
        moved = legs.get(tx_id, {}).get(K.PAYOUTS_IN_FLIGHT, ZERO) if tx_id else ZERO
        if moved != payout.amount:
            report.violations.append(f"payout {payout.pk} of {payout.amount} moved {moved} into flight")
    sums = dict(
        Payout.objects.filter(batch__isnull=False).values("batch_id").annotate(s=Sum("amount"))
        .values_list("batch_id", "s")
    )
    for batch in PayoutBatch.objects.order_by("id"):
        if _cents(sums.get(batch.pk)) != batch.total:
            report.violations.append(f"payout batch {batch.pk}: total {batch.total} ≠ its payouts")
        action = {PayoutBatch.Status.PAID: "paid", PayoutBatch.Status.REJECTED: "reject"}.get(
            batch.status  # type: ignore[call-overload]
        )
        if action is None:
            continue
        tx_id = by_reference.get(f"payout_batch:{batch.pk}:{action}")
        moved = -legs.get(tx_id, {}).get(K.PAYOUTS_IN_FLIGHT, ZERO) if tx_id else ZERO
        if moved != batch.total:
            report.violations.append(
                f"payout batch {batch.pk} is {batch.status} for {batch.total}, but {moved} left flight"
            )


def restores_match_earnings(report: AuditReport) -> None:
    """Pay an upheld appeal restored (billing/restoring.py) moved into each worker's available
    account exactly what the earnings it gave back sum to, per job and worker: those are the
    available earnings still naming their reversal, and those its restore paid itself."""
    moved: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    rows = LedgerEntry.objects.filter(
        transaction__kind=T.JUDGMENT_PAY_RESTORE, account__kind=K.WORKER_AVAILABLE
    ).values_list("transaction__job_id", "transaction__worker_id", "amount")
    for job_id, worker_id, amount in rows.iterator(chunk_size=5000):
        moved[(job_id, worker_id)] += _cents(amount)
    restored: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    earnings = Earning.objects.filter(
        status=Earning.Status.AVAILABLE,
        settled_transaction__kind__in=(T.JUDGMENT_PAY_REVERSE, T.JUDGMENT_PAY_RESTORE, T.HELD_PAY_RECLAIM),
    ).values_list("job_id", "worker_id", "amount")
    for job_id, worker_id, amount in earnings.iterator(chunk_size=5000):
        restored[(job_id, worker_id)] += _cents(amount)
    for key in sorted(set(moved) | set(restored)):
        if moved.get(key, ZERO) != restored.get(key, ZERO):
            report.violations.append(
                f"job {key[0]}, worker {key[1]}: restores moved {moved.get(key, ZERO)} into available, "
                f"but the earnings given back total {restored.get(key, ZERO)}"
            )


def pay_follows_the_remainder_rule(report: AuditReport) -> None:
    """Recompute each worker's pay in each job from the rule (pricing.judgment_pay_amount): their
    ranked earnings are 1..n, one each, and together exactly n × the job's pay rounded to the
    cent (dropped ones included: a drop withdraws the money, not the rank). An answer its worker
    undid holds no rank (models.Earning.rank), or answering again would be paid by a new rank."""
    pay = dict(JobBudget.objects.values_list("job_id", "pay_per_judgment"))
    rows = (
        Earning.objects.filter(rank__gt=0).values("job_id", "worker_id")
        .annotate(n=Count("id"), top=Max("rank"), total=Sum("amount"))
    )
    for row in rows.iterator(chunk_size=5000):
        job_id, worker_id, n, top = row["job_id"], row["worker_id"], row["n"], row["top"]
        if n != top:
            report.violations.append(
                f"worker {worker_id} in job {job_id}: {n} ranked earnings, yet ranks up to {top}")
            continue
        rule = money(top * pay[job_id]) if job_id in pay else None
        if rule is not None and _cents(row["total"]) != rule:
            report.violations.append(
                f"worker {worker_id} in job {job_id}: {top} judgments paid {_cents(row['total'])}, "
                f"the rule pays {rule} ({top} × {pay[job_id]} rounded)")
    undone = Earning.objects.filter(rank__gt=0, judgment__status=JudgmentStatus.WITHDRAWN).values_list("pk", flat=True)[:20]
    if undone:
        report.violations.append(f"earnings of undone answers still hold a rank: {list(undone)}")
