"""Model predictions: a client organization's model versions, their label for each item, and
the pre-labels shown to workers (jobs.predictions imports them; labeling.prelabels shows them).
Imported by jobs/models.py, which the app's models are read from."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from marketplace.accounts.models import Organization
from marketplace.jobs.models import Item, Job


class PredictionModel(models.Model):
    """A model version of a client organization, named as its client names it ("spam-bert", "3").

    In consensus each model version is one more worker, under the pseudo-worker id `-pk`: user
    ids are positive, so no person's votes can ever be mixed with a model's.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name", "version"], name="one_model_per_name_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def worker_id(self) -> int:
        """Its id among a job's workers in consensus: negative, so never a user's."""
        return -self.pk


class Prediction(models.Model):
    """One model version's answer for one item: a label, and optionally every label's probability.

    Never shown to workers (it would anchor the independent judgments consensus relies on) unless
    the client turns pre-labels on for the job (Job.prelabel_model, labeling.prelabels); it is a
    vote in consensus and dynamic overlap, weighed by what the model's record earns it.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")  # for job-wide reads
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="predictions")
    model = models.ForeignKey(PredictionModel, on_delete=models.CASCADE, related_name="predictions")
    label = models.CharField(max_length=64)
    # {"label key": probability} summing to 1 (checked by jobs.predictions), or null.
    probabilities = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "model"], name="one_prediction_per_item_model")
        ]
        indexes = [models.Index(fields=["job", "model"], name="prediction_job_model")]


class PrelabelShown(models.Model):
    """A worker was shown a model's label of an item as a suggestion (a job with pre-labels).

    One row per item and worker, the pair a judgment is unique on, so every judgment made with a
    suggestion on screen is known; `label` is the suggestion last shown. Quality figures read it
    (quality.label_quality): a judgment that agrees with a shown pre-label may be anchored.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=64)
    shown_at = models.DateTimeField(auto_now=True)
    # True: the pair fell in the control group (QUORUM_PRELABEL_BLIND_SHARE) and `label` was
    # withheld, so the worker's judgment is blind to the model; once shown, a pair stays shown.
    blind = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "worker"], name="one_prelabel_per_item_worker")
        ]
        indexes = [models.Index(fields=["job", "worker"], name="prelabel_job_worker")]
