"""Quality rules: tier defaults, job overrides, and the standard tier's error rates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.jobs.fields import QUALITY_RULE_BOUNDS, quality_rules_validate
from marketplace.quality.rules import TIER_DEFAULTS, rules_merge
from marketplace.quality.scoring import block_probability


def test_every_tier_defines_every_rule_the_jobs_app_bounds() -> None:
    assert set(TIER_DEFAULTS) == {"economy", "standard", "premium"}
    for rules in TIER_DEFAULTS.values():
        assert set(rules.as_dict()) == set(QUALITY_RULE_BOUNDS)
        quality_rules_validate(rules.as_dict())  # the defaults lie inside the client's bounds


def test_a_job_overrides_its_tier_key_by_key() -> None:
    overrides = quality_rules_validate({"min_gold_answers": 5, "gold_accuracy_floor": 0.7, "gold_feedback": False})
    rules = rules_merge(tier="premium", overrides=overrides)
    assert (rules.min_gold_answers, rules.gold_accuracy_floor, rules.gold_feedback) == (5, Decimal("0.7"), False)
    assert rules.fast_seconds == TIER_DEFAULTS["premium"].fast_seconds


def test_an_unknown_tier_gets_the_standard_defaults() -> None:
    assert rules_merge(tier="bespoke", overrides={}) == TIER_DEFAULTS["standard"]


def test_stricter_tiers_have_higher_floors() -> None:
    floors = [TIER_DEFAULTS[t].gold_accuracy_floor for t in ("economy", "standard", "premium")]
    assert floors == sorted(floors) and len(set(floors)) == 3


@pytest.mark.parametrize("accuracy", [1 / 3])
def test_the_standard_tier_catches_a_three_label_spammer_within_20_gold_answers(accuracy: float) -> None:
    rules = TIER_DEFAULTS["standard"]
    caught = block_probability(
        accuracy=accuracy, min_seen=rules.min_gold_answers, floor=rules.gold_accuracy_floor, horizon=20
    )
    assert caught > 0.995


def test_the_standard_tier_rarely_blocks_a_good_worker() -> None:
    rules = TIER_DEFAULTS["standard"]
    false_block = block_probability(
        accuracy=0.85, min_seen=rules.min_gold_answers, floor=rules.gold_accuracy_floor, horizon=500
    )
    assert false_block == pytest.approx(0.0069, abs=0.0002)  # the figure stated in quality/rules.py
