"""What Quorum tells a client about its jobs: events (the outbox), webhook endpoints, deliveries.

An Event row is written in the transaction that changes the job, with one Delivery row per
endpoint that wants it, so a crash between the commit and the send loses nothing: the sweep
(tasks.py) sends whatever is still pending. E-mail rides on the same row (mail_* fields).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from marketplace.accounts.models import Organization, User
from marketplace.jobs.models import Job


class EventType(models.TextChoices):
    JOB_PUBLISHED = "job.published", "A job was published"
    JOB_PAUSED = "job.paused", "A job was paused (by a client, or for want of a budget)"
    JOB_RESUMED = "job.resumed", "A paused job was resumed"
    JOB_COMPLETED = "job.completed", "A job completed and was settled"
    JOB_CANCELLED = "job.cancelled", "A job was cancelled and settled"
    JOB_PROMISE_MISSED = "job.promise_missed", "A job missed its quality promise (a credit)"
    JOB_CONSENSUS_READY = "job.consensus_ready", "An ended job's final consensus run succeeded"


class WebhookEndpoint(models.Model):
    """A client's URL and the events it wants. The secret signs every delivery; the API shows it
    once, at creation. Signing needs the secret itself (a hash could not sign), so it is stored
    sealed under a key derived from SECRET_KEY (sealing.py), never as typed."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # EventType values
    description = models.CharField(max_length=200, blank=True, default="")
    secret = models.CharField(max_length=300)  # sealing.secret_seal's output, never the secret
    # After a rotation (services.webhook_endpoint_secret_rotate) the secret it replaced, sealed the
    # same way, still signs beside the new one until `previous_secret_until`: the client's
    # receivers move to the new secret with no delivery failing verification meanwhile.
    previous_secret = models.CharField(max_length=300, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]


class Event(models.Model):
    """One thing that happened to a job, with the payload every delivery of it sends."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(Job, null=True, on_delete=models.SET_NULL, related_name="+")
    type = models.CharField(max_length=40, choices=EventType.choices)
    data = models.JSONField()  # the body sent is {"id", "type", "created_at", "sequence", "data": this}
    created_at = models.DateTimeField()
    # 1, 2, 3… per job, in the order the job's events were recorded (outbox.event_record): deliveries
    # may arrive out of order (a retry overtakes nothing, but a later event may beat it), so a
    # receiver orders by this.
    sequence = models.PositiveIntegerField(default=0)
    # E-mail to the organization's clients, for the events a person should hear of.
    mail_wanted = models.BooleanField(default=False)
    mail_sent_at = models.DateTimeField(null=True, blank=True)
    mail_claimed_at = models.DateTimeField(null=True, blank=True)  # a sender holds it until then + lease
    mail_attempts = models.PositiveSmallIntegerField(default=0)
    mail_error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["created_at"], name="event_mail_due",
                         condition=Q(mail_wanted=True, mail_sent_at__isnull=True)),
        ]
        constraints = [
            # Found by the sweep, which may run in several processes at once: announced once.
            models.UniqueConstraint(fields=["job", "type"], condition=Q(type="job.consensus_ready"),
                                    name="event_consensus_ready_once"),
        ]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its next attempt
    SUCCEEDED = "succeeded", "Delivered"  # the receiver answered 2xx
    FAILED = "failed", "Failed"  # every attempt failed; a redelivery starts it again


class Delivery(models.Model):
    """One event to one endpoint: sent, retried with backoff until it succeeds or gives up."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    redelivery_asked = models.BooleanField(default=False)  # a person asked: one attempt, no retries
    attempts = models.PositiveSmallIntegerField(default=0)
    # Due when pending and this is past; a sender moves it ahead while it sends (its claim).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="delivery_due",
                         condition=Q(status="pending")),
        ]


class DeliveryAttempt(models.Model):
    """The log: one row per request Quorum made (or refused to make) for a delivery."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    redelivery = models.BooleanField(default=False)  # asked for by a person

    class Meta:
        ordering = ["pk"]
