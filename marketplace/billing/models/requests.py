"""The first answer of each idempotent POST on a job, kept so a retry gets it again."""

from __future__ import annotations

from django.db import models

from marketplace.jobs.models import Job


class IdempotentRequest(models.Model):
    """One Idempotency-Key of a job: the request it named (operation and body) and what it
    answered. A key is the job's: the same key on another job is another request
    (billing/idempotency.py)."""

    class Operation(models.TextChoices):
        ESCROW_ADD = "escrow_add", "POST /jobs/<id>/escrow/"
        MORE_JUDGMENTS = "more_judgments", "POST /jobs/<id>/browse/more-judgments/"
        EXPERT_REVIEW = "expert_review", "POST /jobs/<id>/browse/expert-review/"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=64)
    operation = models.CharField(max_length=20, choices=Operation.choices)
    body = models.JSONField()  # the request as parsed (amounts as strings), compared on a retry
    response = models.JSONField()  # the first answer's body, given again to a retry
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Its index serves the lookup by (job, key) too.
            models.UniqueConstraint(fields=["job", "key"], name="idempotent_request_once"),
        ]
