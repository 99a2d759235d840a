"""Reads for workers: the jobs open to them, their own leases and judgments.

Everything starts from the worker. Another worker's lease looks exactly like a missing one
(NotFound), and nothing here ever selects a GoldAnswer, `is_gold` or `is_correct` for a worker.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from marketplace.accounts.models import User, WorkerQualification
from marketplace.errors import NotFound
from marketplace.jobs.models import Job, JobQualification, JobStatus
from marketplace.labeling.models import JobBlock, Judgment, Lease, LeaseStatus


def live_lease_q(*, now: datetime, prefix: str = "") -> Q:
    """A lease holds its slot while active and unexpired; nothing else counts."""
    return Q(**{f"{prefix}status": LeaseStatus.ACTIVE, f"{prefix}expires_at__gt": now})


def job_blocked_for(*, worker: User) -> Exists:
    """For a Job queryset: true where the job has a block on this worker."""
    return Exists(JobBlock.objects.filter(job=OuterRef("pk"), worker=worker))


def job_unqualified_for(*, worker: User) -> Exists:
    """For a Job queryset: true where a requirement is not met (no grant, or a lower score)."""
    meets = WorkerQualification.objects.filter(
        worker=worker, qualification=OuterRef("qualification"), score__gte=OuterRef("min_score")
    )
    return Exists(JobQualification.objects.filter(job=OuterRef("pk")).exclude(Exists(meets)))


def jobs_open_to(*, worker: User) -> QuerySet[Job]:
    """Open jobs the worker may take items from: qualified, not blocked, account not suspended.

    Ordered as "next item across all jobs" tries them: job priority first, then the oldest.
    """
    if not worker.is_worker or worker.suspended_at is not None:
        return Job.objects.none()
    return (
        Job.objects.filter(status=JobStatus.OPEN)
        .exclude(job_blocked_for(worker=worker))
        .exclude(job_unqualified_for(worker=worker))
        .order_by("-priority", "id")
    )


def job_missing_requirements(*, worker: User, job: Job) -> list[str]:
    """Human-readable requirements the worker does not meet, for the refusal message."""
    held = dict(
        WorkerQualification.objects.filter(worker=worker).values_list("qualification_id", "score")
    )
    missing = []
    for req in JobQualification.objects.filter(job=job).select_related("qualification"):
        score = held.get(req.qualification_id)
        if score is None or score < req.min_score:
            missing.append(f"{req.qualification.name} (score {req.min_score} or more)")
    return missing


def leases_of(*, worker: User) -> QuerySet[Lease]:
    return Lease.objects.filter(worker=worker)


def lease_get_for_worker(*, worker: User, lease_id: int) -> Lease:
    """The worker's own lease with its job and item loaded; anyone else's is NotFound."""
    lease = leases_of(worker=worker).select_related("job", "item").filter(pk=lease_id).first()
    if lease is None:
        raise NotFound("Lease not found.")
    return lease


def judgments_of(*, worker: User, job_id: int | None = None) -> QuerySet[Judgment]:
    """The worker's own judgments, newest first (never anyone else's)."""
    qs = Judgment.objects.filter(worker=worker)
    if job_id is not None:
        qs = qs.filter(job_id=job_id)
    return qs.order_by("-created_at", "-id")
