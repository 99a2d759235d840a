"""A job's end: the quality promise checked, then settled; and completing jobs the submits left.

Submits complete a job in their own transaction when they can see it is done. Two submits that
complete the job's last two items at once cannot (each misses the other's uncommitted item), so
the submit flow checks again after commit (`job_complete_if_done`), and a periodic sweep
(`jobs_complete_sweep`, marketplace/periodic.py) catches what a crash between the commit and
that check would leave open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction

from marketplace.billing import selectors as billing_selectors
from marketplace.billing import services as billing
from marketplace.jobs.models import Job
from marketplace.jobs.services import job_complete_if_done as job_close_if_done
from marketplace.jobs.services import jobs_complete_due
from marketplace.quality import delivery

logger = logging.getLogger(__name__)

#: Jobs one sweep completes at most; the next tick takes the rest.
SWEEP_BATCH = 50


def job_finalize(*, job: Job) -> None:
    """A job ends (completed or cancelled): check the tier's quality promise on gold held back
    from the fit, record the evidence (and the credit a shortfall earns), then settle. Inside the
    ending transaction, so the charge and its evidence commit together. A job with too little gold
    to measure is settled without a credit; its invoice says the promise was not measured, and why."""
    if billing_selectors.job_budget_open(job_id=job.pk):
        check = delivery.job_delivered_accuracy(job_id=job.pk)
        if check.estimate is not None:
            estimate = check.estimate
            billing.job_quality_credit(
                job=job,
                delivered_accuracy=Decimal(str(estimate.accuracy)),
                interval=(Decimal(str(estimate.low)), Decimal(str(estimate.high))),
                method=estimate.method,
            )
    billing.job_settle(job=job)


#: Called with job_id= in the transaction that completed and settled a job: the layer above queues
#: what it tells the client there (notifications.job_events.job_ended_record), so the news commits
#: with the completion or not at all.
Then = Callable[..., Any] | None


@transaction.atomic
def job_complete_if_done(*, job_id: int, then: Then = None) -> bool:
    """Complete and settle an open job whose every item is complete; True if this call did.

    Safe to call any number of times at once: the job lock (jobs.services.job_complete_if_done)
    lets one caller complete it; the others find it completed and do nothing.
    """
    if not job_close_if_done(job_id=job_id):
        return False
    job_finalize(job=Job.objects.get(pk=job_id))
    if then is not None:
        then(job_id=job_id)
    return True


def jobs_complete_sweep(*, limit: int = SWEEP_BATCH, then: Then = None) -> list[int]:
    """Complete and settle open jobs whose tallies say they are done; the ids it completed."""
    completed = [
        job_id for job_id in jobs_complete_due(limit=limit) if job_complete_if_done(job_id=job_id, then=then)
    ]
    if completed:
        logger.info("completed %s jobs a submit left open: %s", len(completed), completed)
    return completed
