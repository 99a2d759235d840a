"""Seed the three default tiers. Admins edit them afterwards; this never overwrites an edit.

Quality rules mirror quality.rules.TIER_DEFAULTS. Each price exceeds the expected worker cost
per item, overlap / (1 − gold_rate) × pay (premium: midpoint of 5..9), and even the worst case
at maximum overlap, so a job's escrow pays for all its judgments:
    economy   3 / 0.95 × 0.015 = 0.0474 per item, price 0.07 (fee ≈ 32%)
    standard  3 / 0.90 × 0.020 = 0.0667 per item, price 0.10 (fee ≈ 33%)
    premium   7 / 0.85 × 0.040 = 0.3294 per item (at 9: 0.4235), price 0.45 (fee ≈ 27%)
Promises sit under the majority-vote accuracy of the assumed worker accuracy at that overlap
(economy 0.876 ≥ 0.85, standard 0.914 ≥ 0.90, premium 0.988 ≥ 0.95).
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from django.db import migrations

TIERS: list[dict[str, Any]] = [
    {
        "slug": "economy",
        "name": "Economy",
        "position": 0,
        "description": "Three judgments per item, light gold checks: cheapest, for forgiving data.",
        "overlap": 3,
        "max_overlap": None,
        "target_confidence": None,
        "gold_rate": D("0.0500"),
        "worker_min_accuracy": D("0.5000"),
        "quality_rules": {
            "min_gold_answers": 20,
            "gold_accuracy_floor": "0.50",
            "fast_window": 10,
            "fast_seconds": "1.5",
            "gold_feedback": True,
        },
        "price_per_item": D("0.0700"),
        "pay_per_judgment": D("0.0150"),
        "platform_fee_rate": D("0.3233"),
        "promised_accuracy": D("0.8500"),
        "assumed_worker_accuracy": D("0.7800"),
        "seconds_per_judgment": D("8.00"),
    },
    {
        "slug": "standard",
        "name": "Standard",
        "position": 1,
        "description": "Three judgments per item, one assignment in ten is gold.",
        "overlap": 3,
        "max_overlap": None,
        "target_confidence": None,
        "gold_rate": D("0.1000"),
        "worker_min_accuracy": D("0.6000"),
        "quality_rules": {
            "min_gold_answers": 18,
            "gold_accuracy_floor": "0.60",
            "fast_window": 10,
            "fast_seconds": "2",
            "gold_feedback": True,
        },
        "price_per_item": D("0.1000"),
        "pay_per_judgment": D("0.0200"),
        "platform_fee_rate": D("0.3333"),
        "promised_accuracy": D("0.9000"),
        "assumed_worker_accuracy": D("0.8200"),
        "seconds_per_judgment": D("10.00"),
    },
    {
        "slug": "premium",
        "name": "Premium",
        "position": 2,
        "description": "Five to nine judgments until consensus is 98% sure, vetted workers, strict gold.",
        "overlap": 5,
        "max_overlap": 9,
        "target_confidence": D("0.9800"),
        "gold_rate": D("0.1500"),
        "worker_min_accuracy": D("0.7500"),
        "quality_rules": {
            "min_gold_answers": 20,
            "gold_accuracy_floor": "0.65",
            "fast_window": 10,
            "fast_seconds": "3",
            "gold_feedback": True,
        },
        "price_per_item": D("0.4500"),
        "pay_per_judgment": D("0.0400"),
        "platform_fee_rate": D("0.2680"),
        "promised_accuracy": D("0.9500"),
        "assumed_worker_accuracy": D("0.8500"),
        "seconds_per_judgment": D("15.00"),
    },
]


def seed(apps: Any, schema_editor: Any) -> None:
    Tier = apps.get_model("billing", "Tier")
    for fields in TIERS:
        Tier.objects.get_or_create(slug=fields["slug"], defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
