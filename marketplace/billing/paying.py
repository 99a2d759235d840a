"""Recording what one judgment earns: the Earning row a submit writes (services.judgment_pay).

On PostgreSQL the terms (the budget's pay, whether it is still open, the worker's last rank in
the job) are read and the Earning inserted in one statement, one round trip per judgment. The
remainder rule then runs in SQL (half to even, as pricing.rounded); pricing.judgment_pay_amount
stays the rule: every amount the statement writes is checked against it before the submit
commits, so the two can never disagree unnoticed. SQLite (no exact numeric type) reads the
terms, then inserts, with the amount computed in Python.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Subquery

from marketplace.billing.ledger import LedgerError
from marketplace.billing.models import Earning, JobBudget
from marketplace.billing.pricing import judgment_pay_amount


def _cents(amount: str) -> str:
    """SQL rounding a nonnegative numeric to cents, half to even like pricing.rounded (PostgreSQL's
    round() takes halves away from zero)."""
    hundredths = f"(({amount}) * 100)"
    return (
        f"(CASE WHEN {hundredths} - trunc({hundredths}) = 0.5 AND mod(trunc({hundredths}), 2) = 0 "
        f"THEN trunc({hundredths}) ELSE round({hundredths}) END / 100)"
    )


# The terms exist only while the job's budget is open; no row, no earning (FundsExhausted).
# The rank walks earning_rank_unique (job, worker, rank) backwards: one index probe. Ranks given
# up by undone answers (negative, models.Earning.rank) are not counted: the next answer takes theirs.
_EARNING_INSERT = f"""
WITH terms AS (
    SELECT b.pay_per_judgment AS pay, COALESCE((
        SELECT e.rank FROM billing_earning e
        WHERE e.job_id = %(job)s AND e.worker_id = %(worker)s AND e.rank > 0 ORDER BY e.rank DESC LIMIT 1
    ), 0) + 1 AS rank
    FROM billing_jobbudget b WHERE b.job_id = %(job)s AND b.settled_at IS NULL
), priced AS (
    SELECT pay, rank, {_cents("rank * pay")} - {_cents("(rank - 1) * pay")} AS amount FROM terms
), earning AS (
    INSERT INTO billing_earning
        (judgment_id, job_id, worker_id, rank, amount, status, kept_after_drop, created_at, posted_at)
    SELECT %(judgment)s, %(job)s, %(worker)s, rank, amount, 'pending', false, %(now)s,
        CASE WHEN amount > 0 THEN NULL ELSE %(now)s END
    FROM priced
    RETURNING id, rank, amount, posted_at
)
SELECT earning.id, earning.rank, earning.amount, earning.posted_at, priced.pay FROM earning, priced
"""

_FIELDS = ["id", "judgment_id", "job_id", "worker_id", "rank", "amount", "status", "kept_after_drop",
           "created_at", "posted_at", "pay_transaction_id", "settled_transaction_id"]


def earning_insert(*, judgment_id: int, job_id: int, worker_id: int, now: datetime) -> Earning | None:
    """Insert the worker's next Earning in the job at the budget's pay; None (nothing written)
    when the job has no open budget. Caller serializes this worker's pay in this job (their
    tally row, or sql_lock_worker_pay), so the next rank is theirs alone."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return _earning_insert_orm(judgment_id=judgment_id, job_id=job_id, worker_id=worker_id, now=now)
    with connection.cursor() as cursor:
        cursor.execute(_EARNING_INSERT, {
            "judgment": judgment_id, "job": job_id, "worker": worker_id, "now": now,
        })
        row = cursor.fetchone()
    if row is None:
        return None
    earning_id, rank, amount, posted_at, pay = row
    if amount != judgment_pay_amount(pay_per_judgment=pay, rank=rank):
        raise LedgerError(f"earning {earning_id}: {amount} is not what rank {rank} at {pay} pays")
    return Earning.from_db(connection.alias, _FIELDS, [
        earning_id, judgment_id, job_id, worker_id, rank, amount, Earning.Status.PENDING, False,
        now, posted_at, None, None,
    ])


def _earning_insert_orm(*, judgment_id: int, job_id: int, worker_id: int, now: datetime) -> Earning | None:
    last_rank = (
        Earning.objects.filter(job_id=job_id, worker_id=worker_id, rank__gt=0).order_by("-rank").values("rank")[:1]
    )
    terms = (
        JobBudget.objects.filter(job_id=job_id, settled_at__isnull=True)
        .annotate(last_rank=Subquery(last_rank))
        .values_list("pay_per_judgment", "last_rank").first()
    )
    if terms is None:
        return None
    pay: Decimal = terms[0]
    rank = (terms[1] or 0) + 1
    amount = judgment_pay_amount(pay_per_judgment=pay, rank=rank)
    return Earning.objects.create(
        judgment_id=judgment_id, job_id=job_id, worker_id=worker_id, rank=rank, amount=amount,
        created_at=now, posted_at=None if amount > 0 else now,  # a 0.00 earning has nothing to post
    )


def sql_lock_worker_pay(*, job_id: int, worker_id: int) -> None:
    """Serialize one worker's pay in one job until commit. PostgreSQL: a transaction-level
    advisory lock on the pair (ids folded into int4; a collision only makes two pairs queue).
    SQLite serializes writers already."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)",
            [int(job_id) % 2_147_483_647, int(worker_id) % 2_147_483_647],
        )
