"""Expert review money: what a client holds for the reviews it asks for, and what experts earn.

A client's request fixes each review's price and the expert's pay (ReviewCharge) and holds the
prices in the job's escrow; a review Quorum queued itself has no ReviewCharge and Quorum pays
it. An ExpertEarning is the worker expert's pay for one settled review: posted to their pending
account when they settle it, released after the hold period like judgment pay (billing/expert_pay.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from marketplace.billing.models.ledger import LedgerTransaction
from marketplace.billing.models.tiers import MONEY
from marketplace.jobs.models import Job
from marketplace.quality.models import ExpertReview


class ReviewCharge(models.Model):
    """A review the client asked for: its price, held in the job's escrow since the request."""

    review = models.OneToOneField(ExpertReview, on_delete=models.PROTECT, related_name="charge")
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="+")
    price = models.DecimalField(**MONEY)  # charged to the client if settled before the job settles
    pay = models.DecimalField(**MONEY)  # the worker expert's pay, out of the price
    # Set when the review is settled while the job's escrow is open (under the budget lock): the
    # settlement charges these. A review settled later is never charged: its hold was refunded.
    charged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["job"], condition=models.Q(charged_at__isnull=False),
                                name="review_charge_charged")]


class ExpertEarning(models.Model):
    """A worker expert's pay for one settled review (admins earn nothing)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (hold period)"
        AVAILABLE = "available", "Available"

    class Payer(models.TextChoices):
        CLIENT = "client", "The client's escrow (a review they asked for)"
        QUORUM = "quorum", "Quorum's revenue (a review Quorum queued, or settled after the job)"

    review = models.OneToOneField(ExpertReview, on_delete=models.PROTECT, related_name="earning")
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="+")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="expert_earnings")
    amount = models.DecimalField(**MONEY)
    paid_by = models.CharField(max_length=10, choices=Payer.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    pay_transaction = models.ForeignKey(  # into the worker's pending account, when settled
        LedgerTransaction, on_delete=models.PROTECT, related_name="+"
    )
    settled_transaction = models.ForeignKey(  # the release to available
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="expert_earning_positive")]
        indexes = [models.Index(fields=["created_at", "id"], condition=models.Q(status="pending"),
                                name="expert_earning_pending")]
