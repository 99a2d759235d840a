"""Posting workers' pay: from a job's escrow into their pending accounts, in batches.

A submit only records what its judgment earns (services.judgment_pay writes an Earning) and
touches no row another worker's submit touches: no budget lock, no escrow balance, so a job's
submits never queue behind each other for money. The money moves here, one ledger transaction
per worker per batch, each batch written in a fixed number of statements (ledger.post_new): on
a schedule (periodic.py, QUORUM_PAY_POST_SECONDS), before earnings are released
(payouts.earnings_release) and when the job settles (services.job_settle). Until then
the earning is owed from the escrow, and the selectors count it where people read money: the
worker's pending pay, the escrow a client has left (selectors.worker_money, job_escrow).

Publishing holds every item's worst-case pay (pricing.escrow_per_item), so the escrow pays for
the work its items can take. What it cannot pay (pay a blocked worker already kept, whose items
were then labeled again) Quorum covers from its revenue in the same batch (ESCROW_COVER), the
policy of services.DROPPED_JUDGMENT_PAY_POLICY: work done is always paid, and the client never
pays for dropped work.

Locks: the job's budget → its unposted earnings (SKIP LOCKED on the schedule, so a batch never
waits for a submit or a reversal holding some: those wait for the next batch; all of them at
settlement, when no submit is in flight) → the ledger accounts in pk order (ledger.accounts_lock).
Every escrow write holds the budget lock, so the escrow balance read under it is exact.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from marketplace.billing import ledger
from marketplace.billing.ledger import account_get
from marketplace.billing.windows import block_earnings
from marketplace.billing.models import (
    AccountKind,
    Earning,
    ExpertEarning,
    JobBudget,
    LedgerAccount,
    TransactionKind,
)
from marketplace.bulk_sql import update_from_values
from marketplace.jobs.models import Job
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality.appeals import review_block_id
from marketplace.quality.models import WithdrawalReview

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
BATCH = 5_000  # earnings per transaction: a long backlog posts in several, each short


@dataclass(frozen=True)
class Posted:
    earnings: int = 0
    workers: int = 0
    amount: Decimal = ZERO
    covered: Decimal = ZERO  # what Quorum put into the escrow to pay them

    def __add__(self, other: Posted) -> Posted:
        return Posted(
            earnings=self.earnings + other.earnings, workers=self.workers + other.workers,
            amount=self.amount + other.amount, covered=self.covered + other.covered,
        )


def unposted(*, job_id: int | None = None, worker_id: int | None = None) -> Decimal:
    """Pay owed but not yet posted: of a job (the escrow will pay it), or of a worker."""
    rows = Earning.objects.filter(posted_at__isnull=True, status=Earning.Status.PENDING)
    if job_id is not None:
        rows = rows.filter(job_id=job_id)
    if worker_id is not None:
        rows = rows.filter(worker_id=worker_id)
    return sum(rows.values_list("amount", flat=True), ZERO)


def job_pay_post(*, job_id: int, everything: bool = False, skip_busy: bool = False) -> Posted:
    """Post a batch of the job's unposted earnings (see the module docstring).

    `everything`: wait for every unposted earning and post them all (settlement, which runs
    after every submit of the job has committed); otherwise skip the rows others hold.
    `skip_busy`: leave the job alone if another transaction holds its budget (the schedule:
    every server process runs it, and another process's batch is most likely the holder)."""
    posted = Posted()
    while True:
        with transaction.atomic():
            batch = _batch_post(job_id=job_id, everything=everything, skip_busy=skip_busy)
        posted += batch
        if batch.earnings < BATCH:
            return posted


def job_pay_post_locked(*, budget: JobBudget) -> Posted:
    """Post every unposted earning of a job whose budget the caller holds locked (settlement),
    but those of a withdrawal still under review: earnings_hold holds them first."""
    earnings_hold(budget=budget)
    posted = Posted()
    while (batch := _rows_post(budget=budget, everything=True)).earnings:
        posted += batch
    return posted


def earnings_hold(*, budget: JobBudget) -> Decimal:
    """At settlement, before the job's pay is posted: hold the dropped judgments' pay of every
    withdrawal still under review (billing/holding.py says why and what the admin then
    decides). Caller holds the budget's lock; returns the amount held. A review decided while
    we run waits for the budget (its decision locks it), then finds the earnings HELD."""
    held = ZERO
    reviews = WithdrawalReview.objects.filter(job_id=budget.job_id, status=WithdrawalReview.Status.PENDING)
    for review in reviews.order_by("worker_id"):
        # A review opened before reviews named their block: the pair's latest block then.
        event_id = review_block_id(review=review)
        rows = Earning.objects.select_for_update(of=("self",))
        if event_id is not None:  # its own block's pay: another block's is withdrawn or reviewed apart
            rows = rows.filter(block_earnings(
                job_id=budget.job_id, worker_id=review.worker_id, block_event_id=event_id))
        earnings = list(
            rows
            .filter(job_id=budget.job_id, worker_id=review.worker_id, status=Earning.Status.PENDING,
                    judgment__status=JudgmentStatus.DROPPED, kept_after_drop=False)  # kept: decided already
            .order_by("id")
        )
        posted = [e for e in earnings if e.posted_at is not None]
        total = sum((e.amount for e in posted), ZERO)
        tx = None
        if total > 0:  # posted pay comes back into the escrow, which settles it to Quorum
            tx = ledger.transfer_new(
                kind=TransactionKind.JUDGMENT_PAY_REVERSE,
                reference=f"hold:{budget.job_id}:{review.worker_id}:{posted[0].pk}",
                source=account_get(kind=AccountKind.WORKER_PENDING, worker_id=review.worker_id),
                target=account_get(kind=AccountKind.CLIENT_ESCROW, job=budget.job),
                amount=total, memo=f"{len(posted)} dropped judgment(s) held: withdrawal {review.pk} under review",
                organization_id=budget.job.organization_id, job_id=budget.job_id, worker_id=review.worker_id,
            )
        for now_posted in (True, False):  # an unposted one names no transaction: none moved it
            Earning.objects.filter(pk__in=[e.pk for e in earnings if (e.posted_at is not None) == now_posted]).update(
                status=Earning.Status.HELD, withdrawn_by_id=event_id, settled_transaction=tx if now_posted else None,
            )
        held += sum((e.amount for e in earnings), ZERO)
    return held


def _batch_post(*, job_id: int, everything: bool, skip_busy: bool) -> Posted:
    # The budget first (the lock order): a settlement, escrow addition or reversal of this job
    # waits for the batch, so the escrow balance below cannot move under us. The schedule skips
    # a job whose budget another holds; whatever it leaves, its next tick posts.
    budget = (
        JobBudget.objects.select_for_update(of=("self",), skip_locked=skip_busy)
        .select_related("job").filter(job_id=job_id).first()
    )
    if budget is None:
        return Posted()
    if budget.settled_at is not None:
        # Settlement posts everything first; an earning written after it is a bug to hear about.
        if Earning.objects.filter(job_id=job_id, posted_at__isnull=True,
                                  status=Earning.Status.PENDING).exists():
            logger.error("job %s is settled but has unposted earnings", job_id)
        return Posted()
    return _rows_post(budget=budget, everything=everything)


def _rows_post(*, budget: JobBudget, everything: bool) -> Posted:
    rows = list(
        Earning.objects.select_for_update(skip_locked=not everything)
        .filter(job_id=budget.job_id, posted_at__isnull=True, status=Earning.Status.PENDING)
        .order_by("id")[:BATCH]
    )
    if not rows:
        return Posted()
    by_worker: dict[int, list[Earning]] = defaultdict(list)
    for earning in rows:
        by_worker[earning.worker_id].append(earning)
    total = sum((e.amount for e in rows), ZERO)
    job = budget.job
    escrow = account_get(kind=AccountKind.CLIENT_ESCROW, job=job)
    pending = ledger.worker_accounts(kind=AccountKind.WORKER_PENDING, worker_ids=by_worker)
    short = max(total - escrow.balance, ZERO)  # exact: we hold the budget lock (see above)
    accounts = [escrow, *pending.values()]
    if short:
        revenue = account_get(kind=AccountKind.PLATFORM_REVENUE)
        accounts.append(revenue)
    ledger.accounts_lock(accounts)
    if short:
        escrow_cover(job=job, budget=budget, escrow=escrow, revenue=revenue, amount=short,
                     reference=f"job:{job.pk}:cover:{rows[0].pk}", what="work")
        logger.warning("job %s: escrow short by %s; covered by Quorum", job.pk, short)
    workers = sorted(by_worker.items())
    postings = []
    for worker_id, earnings in workers:
        amount = sum((e.amount for e in earnings), ZERO)
        postings.append(ledger.Posting(
            kind=TransactionKind.JUDGMENT_PAY,
            # Each earning is posted once, so its first earning names the batch for good.
            reference=f"job:{job.pk}:pay:{worker_id}:{earnings[0].pk}",
            legs=[ledger.Leg(escrow, -amount), ledger.Leg(pending[worker_id], amount)],
            memo=f"{len(earnings)} judgment(s) paid",
            related={"organization_id": job.organization_id, "job_id": job.pk, "worker_id": worker_id,
                     "judgment_id": earnings[0].judgment_id if len(earnings) == 1 else None},
        ))
    # The whole batch in a few statements (ledger.post_new): one posting per worker each took
    # ten, and at a crowd of a thousand the batch held its transaction, and with it PostgreSQL's
    # cleanup horizon, for the whole run (every claim then stepped over more dead rows).
    # post_new: never mark earnings posted by money another batch moved.
    posted = ledger.post_new(postings)
    earnings_link(
        [(earning.pk, tx.pk) for tx, (_, earnings) in zip(posted, workers, strict=True) for earning in earnings],
        column="pay_transaction_id", posted_at=timezone.now(),
    )
    return Posted(earnings=len(rows), workers=len(by_worker), amount=total, covered=short)


def earnings_link(
    pairs: list[tuple[int, int]], *, column: str, model: type[Earning | ExpertEarning] = Earning, **fields: object,
) -> None:
    """Point each (earning, ledger transaction) pair's `column` at its transaction and set
    `fields` on them all, in one UPDATE per thousand pairs (bulk_sql.update_from_values), not one
    per worker. `model`: Earning (judgment pay) or ExpertEarning (expert review pay)."""
    names = [model._meta.get_field(name) for name in fields]
    fixed = [field.get_db_prep_save(value, connection) for field, value in zip(names, fields.values(), strict=True)]
    assignments = "".join(f"{field.column} = %s, " for field in names) + f"{column} = v.column2"
    update_from_values(model._meta.db_table, assignments, pairs, fixed)


Owed = tuple[int, "list[Earning] | list[ExpertEarning]", Decimal]  # worker, their earnings (id order), sum > 0


def earnings_release_post(*, owed: list[Owed], model: type[Earning | ExpertEarning], reference: str, memo: str) -> None:
    """Release each worker's earnings: their sum from the worker's pending account to available,
    one ledger transaction per worker (`reference` and `memo` formatted with worker, first, last,
    count), all in a few statements whatever the number of workers, then the earnings marked
    AVAILABLE with their transaction. Caller holds the earnings' row locks."""
    ids = [worker_id for worker_id, _, _ in owed]
    pending = ledger.worker_accounts(kind=AccountKind.WORKER_PENDING, worker_ids=ids)
    available = ledger.worker_accounts(kind=AccountKind.WORKER_AVAILABLE, worker_ids=ids)
    # Not ten statements per worker: a transaction held open that long keeps PostgreSQL from
    # cleaning up after everyone else (_rows_post). post_new: never mark earnings released by
    # money another release moved.
    posted = ledger.post_new([
        ledger.Posting(
            kind=TransactionKind.EARNINGS_RELEASE,
            reference=reference.format(worker=worker_id, first=earnings[0].pk, last=earnings[-1].pk),
            legs=[ledger.Leg(pending[worker_id], -amount), ledger.Leg(available[worker_id], amount)],
            memo=memo.format(count=len(earnings)),
            related={"worker_id": worker_id},
        )
        for worker_id, earnings, amount in owed
    ])
    earnings_link(
        [(e.pk, tx.pk) for tx, (_, earnings, _) in zip(posted, owed, strict=True) for e in earnings],
        column="settled_transaction_id", model=model, status=model.Status.AVAILABLE,
    )


def pay_post_tick() -> Posted:
    """The schedule's tick: post every job with pay owed. Safe anywhere at once: batches of one
    job queue on its budget, and each skips the earnings another holds."""
    jobs = (
        Earning.objects.filter(posted_at__isnull=True, status=Earning.Status.PENDING)
        .values_list("job_id", flat=True).distinct()
    )
    total = Posted()
    for job_id in sorted(set(jobs)):
        total += job_pay_post(job_id=job_id, skip_busy=True)
    return total


def escrow_cover(
    *, job: Job, budget: JobBudget, escrow: LedgerAccount, revenue: LedgerAccount, amount: Decimal,
    reference: str, what: str,
) -> None:
    """Quorum pays into a job's escrow what it cannot pay of `what` (pay posted, an expert review):
    an ESCROW_COVER from revenue, counted in the budget's `covered`. Caller holds the budget and
    both accounts' locks."""
    ledger.transfer(
        kind=TransactionKind.ESCROW_COVER, reference=reference, source=revenue, target=escrow,
        amount=amount, memo=f"Quorum pays {amount} of {what} the escrow of job {job.pk} could not",
        organization_id=job.organization_id, job_id=job.pk,
    )
    budget.covered += amount
    budget.save(update_fields=["covered"])
