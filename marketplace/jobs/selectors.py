"""Reads of jobs and items, always scoped to the requester.

A lookup by bare id is a bug: every function here starts from what the user may see, and an id
outside that set raises NotFound, so another tenant's job looks exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.jobs.models import Item, Job, JobStaffView, JobStatus


# Lists of jobs never read the instructions: up to MAX_INSTRUCTIONS_CHARS each, twice (text, HTML).
LIST_DEFERRED = ("instructions", "instructions_html")


def jobs_for_owner(*, user: User) -> QuerySet[Job]:
    """Jobs a client (its organization's) or an admin (all) may manage."""
    if user.is_admin:
        return Job.objects.all()
    if user.is_client:
        return Job.objects.filter(organization_id=user.organization_id)
    return Job.objects.none()


def job_get_for_owner(*, user: User, job_id: int, lock: bool = False) -> Job:
    qs = jobs_for_owner(user=user)
    if lock:
        qs = qs.select_for_update()
    job = qs.filter(pk=job_id).first()
    if job is None:
        raise NotFound("Job not found.")
    return job


def items_for_owner(*, user: User, job_id: int) -> QuerySet[Item]:
    job = job_get_for_owner(user=user, job_id=job_id)
    return Item.objects.filter(job=job).select_related("gold")


def item_get_for_owner(*, user: User, job_id: int, item_id: int) -> Item:
    item = items_for_owner(user=user, job_id=job_id).filter(pk=item_id).first()
    if item is None:
        raise NotFound("Item not found.")
    return item


@dataclass(frozen=True)
class JobCounts:
    items: int
    gold_items: int
    judgments: int
    gold_judgments: int
    completed_items: int
    active_leases: int

    @property
    def progress(self) -> float:
        return self.completed_items / self.items if self.items else 0.0


def job_counts(*, job: Job) -> JobCounts:
    """Cheap at any size: cached counters plus an indexed count of live leases (few rows)."""
    active = job.leases.filter(status="active", expires_at__gt=timezone.now()).count()
    return JobCounts(
        items=job.item_count,
        gold_items=job.gold_item_count,
        judgments=job.judgment_count,
        gold_judgments=job.gold_judgment_count,
        completed_items=job.completed_item_count,
        active_leases=active,
    )


def jobs_for_dashboard(*, user: User, status: str | None = None) -> QuerySet[Job]:
    """The client's jobs for the portal's list, newest first (index organization, -created_at);
    `status` narrows to one JobStatus value, anything else is ignored."""
    jobs = jobs_for_owner(user=user).defer(*LIST_DEFERRED).order_by("-created_at", "-id")
    if status in JobStatus.values:
        jobs = jobs.filter(status=status)
    return jobs


def job_status_counts(*, user: User) -> dict[str, int]:
    """How many of the client's jobs are in each status (one grouped query)."""
    rows = jobs_for_owner(user=user).values("status").annotate(n=Count("id"))
    counts = {status: 0 for status in JobStatus.values}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


# Staff looks listed on a client's job page (the latest; the count covers them all).
STAFF_VIEWS_SHOWN = 10


@dataclass(frozen=True)
class StaffViews:
    total: int
    latest: list[JobStaffView]


def job_staff_views(*, job: Job) -> StaffViews:
    """Who at Quorum looked at this job, and when: the client's record of staff access."""
    qs = JobStaffView.objects.filter(job=job)
    return StaffViews(total=qs.count(), latest=list(qs.select_related("viewer").order_by("-viewed_at")[:STAFF_VIEWS_SHOWN]))


def job_staff_looked_since(*, job: Job, viewer_id: int, since: datetime) -> bool:
    """Has this admin a look at the job on record since `since` (the page they opened a moment ago)?"""
    return JobStaffView.objects.filter(job=job, viewer_id=viewer_id, viewed_at__gte=since).exists()
