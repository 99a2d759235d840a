"""Gold feedback on in every seeded tier (issue 15): workers who miss a check item see the right
answer and its explanation. 0002 now seeds it on (it mirrors quality.rules.TIER_DEFAULTS, and
tests reseed from it); this turns it on where 0002 ran before. A job turns feedback off with
quality_rules.gold_feedback = false. Reversing restores false."""

from __future__ import annotations

from typing import Any

from django.db import migrations

SEEDED = ("economy", "standard", "premium")


def _set(apps: Any, value: bool) -> None:
    Tier = apps.get_model("billing", "Tier")
    for tier in Tier.objects.filter(slug__in=SEEDED):
        rules = dict(tier.quality_rules or {})
        if rules.get("gold_feedback") is (not value):
            rules["gold_feedback"] = value
            tier.quality_rules = rules
            tier.save(update_fields=["quality_rules"])


def turn_on(apps: Any, schema_editor: Any) -> None:
    _set(apps, True)


def turn_off(apps: Any, schema_editor: Any) -> None:
    _set(apps, False)


class Migration(migrations.Migration):

    dependencies = [("billing", "0008_pay_posted_in_batches")]

    operations = [migrations.RunPython(turn_on, turn_off)]
