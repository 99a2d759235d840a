"""Planning the quality promise before publishing: will enough gold items be judged to measure it?"""

from __future__ import annotations

import numpy as np

from marketplace.quality.delivery import MIN_GOLD_ITEMS, promise_plan


def test_a_small_job_with_a_low_gold_rate_will_not_be_measured_and_more_gold_cannot_help() -> None:
    # The job from the issue: 20 items, 12 gold, overlap 3, 10 % gold: about 6.7 gold answers.
    plan = promise_plan(regular_items=20, gold_items=12, overlap=3, gold_rate=0.1)
    assert not plan.measured and plan.expected_gold_judged < MIN_GOLD_ITEMS
    assert plan.gold_items_to_add is None  # fewer gold answers than the ten it needs


def test_enough_gold_answers_over_too_few_gold_items_asks_for_more_gold_items() -> None:
    plan = promise_plan(regular_items=500, gold_items=8, overlap=3, gold_rate=0.1)
    assert not plan.measured and plan.gold_items_to_add == 2  # 8 can never make 10
    fixed = promise_plan(regular_items=500, gold_items=8 + plan.gold_items_to_add, overlap=3, gold_rate=0.1)
    assert fixed.measured


def test_a_large_job_with_plenty_of_gold_is_measured() -> None:
    plan = promise_plan(regular_items=1000, gold_items=50, overlap=3, gold_rate=0.1)
    assert plan.measured and plan.gold_items_to_add == 0 and plan.expected_gold_judged > 45


def test_the_expected_coverage_matches_random_draws() -> None:
    """G·(1 − e^(−E/G)) against a simulation of E gold answers landing on G items at random."""
    rng = np.random.default_rng(0)
    plan = promise_plan(regular_items=60, gold_items=15, overlap=3, gold_rate=0.1)
    answers = round(plan.expected_gold_answers)
    judged = [len(set(rng.integers(0, 15, size=answers))) for _ in range(2000)]
    assert abs(np.mean(judged) - plan.expected_gold_judged) < 0.6
