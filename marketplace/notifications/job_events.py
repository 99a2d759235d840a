"""The events of a job's life, built from what the apps below recorded, queued in the caller's
transaction (outbox.event_record). flows.py calls these where the change happens; the completion
sweep (tasks.py) passes `job_ended_record` to billing's settlement as its callback.

What stops a client's job for money today: nothing, for a job published through Quorum. Publishing
escrows every item's worst-case pay and imports escrow their items or fail (402) without stopping
the job. Only a job with no open budget (published before billing existed) is paused by a refused
submit (flows._job_pause_exhausted): that is the one pause for funds, and it is e-mailed.

job.consensus_ready is the exception to "queued in the changing transaction": the completion run
executes in quality's runner (a thread or a Celery worker) below this layer, so the notifications
sweep finds succeeded completion runs not yet announced and announces each once (a unique
constraint), within one sweep period. The run is committed state, so nothing can be lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from marketplace.billing.models import JobBudget, QualityCredit
from marketplace.isotime import iso_utc
from marketplace.jobs.models import Job, JobStatus
from marketplace.quality.heartbeat import ended_with_judgments
from marketplace.quality.models import ConsensusRun
from marketplace.notifications.models import Event, EventType
from marketplace.notifications.outbox import event_record


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def api_url(path: str) -> str:
    """An absolute link a receiver can follow as is: the deployment's QUORUM_SITE_URL + path."""
    return f"{settings.QUORUM_SITE_URL}{path}"


def job_summary(job: Job) -> dict[str, Any]:
    """The `job` object every event's data carries."""
    return {"id": job.pk, "title": job.title, "status": job.status, "tier": job.tier,
            "url": api_url(f"/api/v1/jobs/{job.pk}/")}


def job_published_record(*, job: Job) -> Event:
    budget = JobBudget.objects.filter(job_id=job.pk).values_list("budget", flat=True).first()
    return event_record(job=job, event_type=EventType.JOB_PUBLISHED,
                        data={"job": job_summary(job), "escrow": _amount(budget)})


def job_paused_record(*, job: Job, reason: str) -> Event:
    """reason: "client" (someone paused it) or "funds" (no open budget: e-mailed)."""
    return event_record(job=job, event_type=EventType.JOB_PAUSED, data={"job": job_summary(job), "reason": reason},
                        mail=reason == "funds")


def job_resumed_record(*, job: Job) -> Event:
    return event_record(job=job, event_type=EventType.JOB_RESUMED, data={"job": job_summary(job)})


def job_ended_record(*, job_id: int) -> list[Event]:
    """A job just completed or was cancelled, and settled (billing.settlement.job_finalize): its
    end with the settlement's figures, then job.promise_missed if the promise check credited it.
    Call in the transaction that settled it, after the settlement."""
    job = Job.objects.get(pk=job_id)
    budget = JobBudget.objects.filter(job_id=job_id).first()
    settlement = None if budget is None else {
        "gross": _amount(budget.gross), "credits": _amount(budget.credits),
        "charged": _amount(budget.charged), "refunded": _amount(budget.refunded),
    }
    completed = job.status == JobStatus.COMPLETED
    # A job cancelled before any judgment gets no completion run, so no job.consensus_ready:
    # said here, a receiver knows whether to wait for final results.
    follows = Job.objects.filter(ended_with_judgments(), pk=job_id).exists()
    data = {"job": job_summary(job), "items_completed": job.completed_item_count,
            "finished_at": iso_utc(job.finished_at) if job.finished_at else None, "settlement": settlement,
            "consensus_ready_follows": follows}
    events = [event_record(job=job, event_type=EventType.JOB_COMPLETED if completed else EventType.JOB_CANCELLED,
                           data=data, mail=completed)]
    credit = QualityCredit.objects.filter(job_id=job_id).first()
    if credit is not None and credit.rate > 0:
        events.append(event_record(job=job, event_type=EventType.JOB_PROMISE_MISSED, mail=True, data={
            "job": job_summary(job),
            "promised_accuracy": str(credit.promised_accuracy),
            "delivered_accuracy": str(credit.delivered_accuracy),
            "interval": [str(credit.interval_low), str(credit.interval_high)],
            "method": credit.method,
            "credit_rate": str(credit.rate),
            "credit": _amount(budget.credits if budget is not None else None),
        }))
    return events


#: Completion runs older than this are not announced any more (a sweep down for a week).
CONSENSUS_READY_WINDOW = timedelta(days=7)


def consensus_ready_record_due(*, now: datetime, limit: int) -> int:
    """Announce ended jobs (completed, or cancelled after collecting judgments) whose completion
    consensus run succeeded (their results are final), each once; how many were announced by
    this call. It always follows the job's job.completed or job.cancelled event, which is
    recorded when the job ends, before its completion run starts."""
    announced = Event.objects.filter(type=EventType.JOB_CONSENSUS_READY, job_id=OuterRef("job_id"))
    runs = (
        ConsensusRun.objects.filter(
            trigger=ConsensusRun.Trigger.COMPLETION, status=ConsensusRun.Status.SUCCEEDED,
            job__status__in=[JobStatus.COMPLETED, JobStatus.CANCELLED], finished_at__gte=now - CONSENSUS_READY_WINDOW,
        )
        .exclude(Exists(announced)).select_related("job").order_by("pk")[:limit]
    )
    recorded = 0
    for run in runs:
        data = {
            "job": job_summary(run.job),
            "run": {"id": run.pk, "method": run.method, "items": run.items, "judgments": run.judgments,
                    "finished_at": iso_utc(run.finished_at) if run.finished_at else None},
            "results_url": api_url(f"/api/v1/jobs/{run.job_id}/results/"),
        }
        try:
            with transaction.atomic():
                event_record(job=run.job, event_type=EventType.JOB_CONSENSUS_READY, data=data)
        except IntegrityError:
            continue  # another sweep announced it meanwhile
        recorded += 1
    return recorded
