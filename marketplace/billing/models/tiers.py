"""Tiers: the cost-quality terms a client buys; and the precision of every money field."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 14, "decimal_places": 2}  # currency units, 2 places
RATE = {"max_digits": 12, "decimal_places": 4}  # currency units (or a share), 4 places
SHARE = {"max_digits": 5, "decimal_places": 4}  # 0..1, 4 places


class Tier(models.Model):
    """A cost-quality tier. Admins edit them; a data migration seeds economy/standard/premium."""

    slug = models.SlugField(max_length=40, unique=True)  # matches Job.tier
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)  # order in quotes, cheapest first
    is_active = models.BooleanField(default=True)
    overlap = models.PositiveSmallIntegerField(default=3)  # fixed, or the minimum when dynamic
    max_overlap = models.PositiveSmallIntegerField(null=True, blank=True)
    target_confidence = models.DecimalField(**SHARE, null=True, blank=True)
    gold_rate = models.DecimalField(**SHARE, default=Decimal("0.1000"))
    # Workers below this smoothed gold accuracy are not admitted to the tier's jobs.
    worker_min_accuracy = models.DecimalField(**SHARE, default=Decimal(0))
    quality_rules = models.JSONField(default=dict, blank=True)  # Job.quality_rules keys
    price_per_item = models.DecimalField(**RATE)  # client, per completed regular item
    pay_per_judgment = models.DecimalField(**RATE)  # worker, per accepted judgment (gold too)
    platform_fee_rate = models.DecimalField(**SHARE, default=Decimal(0))  # informational
    promised_accuracy = models.DecimalField(**SHARE)  # minimum accuracy of delivered labels
    assumed_worker_accuracy = models.DecimalField(**SHARE)  # quotes without measured history
    seconds_per_judgment = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal(10))

    class Meta:
        ordering = ["position", "slug"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="tier_overlap_positive"),
            models.CheckConstraint(
                condition=Q(max_overlap__isnull=True) | Q(max_overlap__gte=models.F("overlap")),
                name="tier_max_overlap_ge_overlap",
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=Decimal("0.5")),
                name="tier_gold_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(price_per_item__gte=0) & Q(pay_per_judgment__gte=0),
                name="tier_prices_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name
