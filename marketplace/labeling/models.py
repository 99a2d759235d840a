"""Leases (who holds which item until when), judgments, and per-job worker blocks.

A lease's slot is live while status is ACTIVE and expires_at is in the future. Expiry needs no
cron: every claim counts only unexpired leases, so an abandoned slot frees itself by time.
A RETURNED lease (its labeling page closed or reloaded) holds no slot either; its worker's next
claim in the job takes it back while its time lasts and a slot is free (labeling/returning.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.jobs.models import Item, Job


class LeaseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUBMITTED = "submitted", "Submitted"
    RELEASED = "released", "Released"
    LOST = "lost", "Lost (expired and its slot was taken)"
    # Given back by the worker's labeling page as it closed or reloaded: free for others, and
    # the same worker's next claim takes it back while it lasts (labeling/returning.py).
    RETURNED = "returned", "Returned (its page closed)"


class Lease(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="leases")
    # No single-column index on item or worker: lease_item_worker and lease_worker_status lead
    # with them (every index is written by each claim and again by each submit).
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases", db_index=False)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases", db_index=False
    )
    status = models.CharField(max_length=10, choices=LeaseStatus.choices, default=LeaseStatus.ACTIVE)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The job's instructions_version when claimed: what the worker was shown (null before versions).
    instructions_version = models.PositiveIntegerField(null=True, blank=True)
    # The labeling page load the lease was last handed to (its random id; null: an API client's).
    # A closing page gives back only the leases it shows last, never one a newer page took over.
    page = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        constraints = [
            # A worker holds at most one live lease on an item.
            models.UniqueConstraint(
                fields=["item", "worker"], condition=Q(status="active"), name="one_active_lease_per_item_worker"
            ),
        ]
        indexes = [
            # Counting live slots of an item, and active leases of a job, touch only active rows.
            models.Index(fields=["item", "expires_at"], condition=Q(status="active"), name="lease_active_item"),
            models.Index(fields=["job", "expires_at"], condition=Q(status="active"), name="lease_active_job"),
            models.Index(fields=["worker", "status"], name="lease_worker_status"),
            # A worker's live lease in one job (the claim's `own_lease_id`, the lease fetched
            # ahead): equality on worker and job, a backward walk of expires_at. Through
            # lease_active_job that lookup read every active lease of the job (and the entries of
            # those just submitted): 24-180 a claim at 8 workers, none of them the worker's after a
            # submit with next. Partial like lease_active_job, so the planner prefers it even
            # before the table's first ANALYZE (a full (worker, status, job, ...) index lost that tie).
            models.Index(fields=["worker", "job", "expires_at"], condition=Q(status="active"),
                         name="lease_active_worker"),
            # "Has this worker met the item?" (labeling/sql.py, _NEVER_MET): one probe. With an index
            # per column the planner, before the table's first ANALYZE, ANDed both bitmaps and read
            # every lease the worker ever had for each candidate item.
            models.Index(fields=["item", "worker"], name="lease_item_worker"),
            # The worker's returned leases in a job that still last (job_for_claim's
            # `returned_lease_id`, on every claim): lease_active_worker's twin.
            models.Index(fields=["worker", "job", "expires_at"], condition=Q(status="returned"),
                         name="lease_returned_worker"),
        ]


class JudgmentStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    DROPPED = "dropped", "Dropped (worker blocked for quality)"
    # Undone by its worker within QUORUM_UNDO_SECONDS (labeling/undoing.py): counts for nothing.
    WITHDRAWN = "withdrawn", "Withdrawn (undone by the worker)"


class Judgment(models.Model):
    # No single-column indexes on the foreign keys: judgment_job_id, judgment_item_worker and
    # judgment_worker_recent lead with them, and every index costs each submit an insertion.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="judgments", db_index=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="judgments", db_index=False)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgments", db_index=False
    )
    lease = models.OneToOneField(
        Lease, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgment"
    )
    label = models.CharField(max_length=64)  # single-label jobs; "" on multi-label ones
    # Multi-label jobs: the label keys the worker ticked, in the job's label order (may be
    # empty); null on single-label jobs, whose answer is `label`.
    labels = models.JSONField(null=True, blank=True)
    is_gold = models.BooleanField(default=False)
    is_correct = models.BooleanField(null=True, blank=True)  # gold only: scored at submit
    status = models.CharField(max_length=10, choices=JudgmentStatus.choices, default=JudgmentStatus.ACCEPTED)
    seconds_spent = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The instructions version the judgment was made under (its lease's); null before versions.
    instructions_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # Withdrawn ones aside: a worker who undid an answer answers the same item again.
            models.UniqueConstraint(
                fields=["item", "worker"], condition=~Q(status="withdrawn"), name="one_judgment_per_item_worker"
            ),
        ]
        indexes = [
            models.Index(fields=["job", "id"], name="judgment_job_id"),
            models.Index(fields=["worker", "-created_at"], name="judgment_worker_recent"),
            # Quality rules read a worker's latest judgments in one job (median answer time).
            models.Index(fields=["job", "worker", "-id"], name="judgment_job_worker_recent"),
            # Any judgment of an item, and _NEVER_MET's probe (withdrawn ones included, which the
            # partial unique constraint leaves out): see lease_item_worker.
            models.Index(fields=["item", "worker"], name="judgment_item_worker"),
        ]


class JobBlock(models.Model):
    """A worker stopped from one job (by a quality rule or an admin); lifted by deleting the row."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="blocks")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_blocks")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "worker"], name="one_block_per_job_worker")]
