"""The release schedule: earnings past the hold period become available every few minutes.

Nothing else releases earnings, and a payout draws only on available ones, so this schedule is
what lets workers be paid. It is one of marketplace/periodic.py's jobs, every
QUORUM_EARNINGS_RELEASE_MINUTES: Celery beat sends `billing.earnings_release` under
QUORUM_TASKS=celery; a timer thread in each server process calls `earnings_release_tick` in the
embedded default; tests call either themselves.

Any number of runs may overlap (several server processes, a beat and a timer): each run claims
its rows with SKIP LOCKED and a released earning is no longer pending, so no earning moves twice.
Each release is one ledger transaction per worker, referenced by the earnings it moves.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from marketplace.billing import posting
from marketplace.billing.payouts import Released, earnings_release
from marketplace.tasking import db_task

logger = logging.getLogger(__name__)

CELERY_TASK = "billing.earnings_release"
BATCH = 5_000  # earnings per database transaction: short locks, bounded memory


def earnings_release_due(*, now: datetime | None = None) -> Released:
    """Release every earning past the hold, BATCH at a time, each batch its own transaction."""
    earnings, workers, amount = 0, 0, Decimal("0.00")
    while True:
        batch = earnings_release(now=now, limit=BATCH)
        earnings, workers, amount = earnings + batch.earnings, workers + batch.workers, amount + batch.amount
        if batch.earnings < BATCH:  # the rest is released, or held by a concurrent run
            return Released(earnings=earnings, workers=workers, amount=amount)


def earnings_release_tick() -> None:
    """One tick of the schedule (the task's body, and what the embedded timer calls)."""
    released = earnings_release_due()
    if released.earnings:
        logger.info("released %s earnings (%s) of %s workers",
                    released.earnings, released.amount, released.workers)


PAY_POST_TASK = "billing.pay_post"


def pay_post_tick() -> None:
    """One tick of the pay posting schedule: every job's owed pay moves into pending accounts."""
    posted = posting.pay_post_tick()
    if posted.earnings:
        logger.info("posted %s earnings (%s) in %s worker batches", posted.earnings, posted.amount, posted.workers)


# The Celery entry points that beat schedules (marketplace/periodic.py).
earnings_release_task = db_task(CELERY_TASK)(earnings_release_tick)
pay_post_task = db_task(PAY_POST_TASK)(pay_post_tick)
