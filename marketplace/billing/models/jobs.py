"""A published job's escrow terms and charge, and the quality promise's evidence."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from marketplace.billing.models.tiers import MONEY, RATE, SHARE, Tier
from marketplace.jobs.models import Job


class JobBudget(models.Model):
    """A published job's escrow terms (fixed at publish) and, once settled, its charge."""

    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="budget")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    price_per_item = models.DecimalField(**RATE)
    pay_per_judgment = models.DecimalField(**RATE)
    # Held per item at publish (pricing.escrow_per_item); null on budgets opened before it: the price.
    escrow_per_item = models.DecimalField(**RATE, null=True, blank=True)
    items = models.PositiveIntegerField(default=0)  # regular items escrowed for
    budget = models.DecimalField(
        **MONEY, default=Decimal("0.00")
    )  # Σ escrowed at publish (+ later imports) + added
    added = models.DecimalField(**MONEY, default=Decimal("0.00"))  # added by hand (billing/escrow.py)
    # Put in by Quorum when the escrow could not pay work already done (pay kept by a worker whose
    # judgments were dropped, then relabeled): never the client's money, never refunded to them.
    covered = models.DecimalField(**MONEY, default=Decimal("0.00"))
    opened_at = models.DateTimeField(auto_now_add=True)
    # Filled once by job_settle.
    settled_at = models.DateTimeField(null=True, blank=True)
    completed_items = models.PositiveIntegerField(null=True, blank=True)
    gross = models.DecimalField(**MONEY, null=True, blank=True)  # completed items × price
    # Σ price of the expert reviews the client asked for and an expert settled before settlement.
    reviews_charged = models.DecimalField(**MONEY, null=True, blank=True)
    credits = models.DecimalField(**MONEY, null=True, blank=True)  # quality credit
    # The more judgments the client asked for and got (Item.asked_judgments given), and their pay.
    extra_judgments = models.PositiveIntegerField(null=True, blank=True)
    extras_charged = models.DecimalField(**MONEY, null=True, blank=True)  # extra_judgments × pay
    # gross − credits + reviews_charged + extras_charged
    charged = models.DecimalField(**MONEY, null=True, blank=True)
    spent = models.DecimalField(**MONEY, null=True, blank=True)  # worker (and expert) pay from this escrow
    revenue = models.DecimalField(**MONEY, null=True, blank=True)  # charged − spent (may be < 0)
    refunded = models.DecimalField(**MONEY, null=True, blank=True)  # back to the client balance

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(charged__isnull=True) | Q(charged__lte=models.F("budget")),
                name="job_budget_charge_within_budget",
            ),
        ]


class QualityCredit(models.Model):
    """The evidence of a missed quality promise; job_settle turns `rate` into an amount."""

    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="quality_credit")
    promised_accuracy = models.DecimalField(**SHARE)
    delivered_accuracy = models.DecimalField(**SHARE)
    interval_low = models.DecimalField(**SHARE)
    interval_high = models.DecimalField(**SHARE)
    method = models.TextField()  # how delivered accuracy was estimated, for the invoice
    rate = models.DecimalField(**SHARE)  # share of the charge credited (pricing.credit_rate)
    created_at = models.DateTimeField(auto_now=True)
