"""The delivered-accuracy estimate behind the quality promise: honest on gold held back from the fit."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus import Votes, aggregate
from marketplace.consensus.delivered import delivered_accuracy, wilson_interval

LABELS = ["a", "b", "c"]


def _crowd(seed: int, *, regular: int = 1500, gold: int = 120, overlap: int = 3, gold_overlap: int = 15):
    """30 workers of accuracy 0.55..0.9 (errors uniform); regular items get `overlap` judgments,
    gold items `gold_overlap` (every worker meets gold, as in the marketplace)."""
    rng = np.random.default_rng(seed)
    accuracy = rng.uniform(0.55, 0.9, size=30)
    truth = rng.integers(0, 3, size=regular + gold)
    items, workers, codes = [], [], []
    for item in range(regular + gold):
        for worker in rng.choice(30, size=overlap if item < regular else gold_overlap, replace=False):
            right = rng.random() < accuracy[worker]
            wrong = (truth[item] + rng.integers(1, 3)) % 3
            items.append(item), workers.append(int(worker)), codes.append(truth[item] if right else wrong)
    votes = Votes(items=np.array(items), workers=np.array(workers), codes=np.array(codes), label_set=tuple(LABELS))
    gold_answers = {item: LABELS[truth[item]] for item in range(regular, regular + gold)}
    return votes, truth, gold_answers, regular


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimate_brackets_the_accuracy_regular_items_really_got(seed: int) -> None:
    votes, truth, gold, regular = _crowd(seed)
    delivered = aggregate(votes, gold=gold, labels=LABELS)
    real = np.mean([delivered.label_of(i) == LABELS[truth[i]] for i in range(regular)])
    estimate = delivered_accuracy(votes, gold=gold, labels=LABELS, regular_counts=[3] * regular, seed=seed)
    assert estimate is not None and estimate.gold_items == 120
    assert estimate.low <= real <= estimate.high
    assert abs(estimate.accuracy - real) < 0.06


def test_scoring_gold_on_all_its_judgments_would_flatter_the_job() -> None:
    """Gold items carry 15 judgments, regular items 3: without resampling the estimate is far too high."""
    votes, truth, gold, regular = _crowd(0)
    delivered = aggregate(votes, gold=gold, labels=LABELS)
    real = np.mean([delivered.label_of(i) == LABELS[truth[i]] for i in range(regular)])
    honest = delivered_accuracy(votes, gold=gold, labels=LABELS, regular_counts=[3] * regular)
    flattering = delivered_accuracy(votes, gold=gold, labels=LABELS, regular_counts=[])
    assert honest is not None and flattering is not None
    assert flattering.accuracy > real + 0.05 > honest.accuracy


def test_it_is_deterministic_for_a_seed_and_says_how_it_was_measured() -> None:
    votes, _, gold, regular = _crowd(3, regular=300, gold=30)
    first = delivered_accuracy(votes, gold=gold, labels=LABELS, regular_counts=[3] * regular, seed=7)
    again = delivered_accuracy(votes, gold=gold, labels=LABELS, regular_counts=[3] * regular, seed=7)
    assert first == again
    assert first is not None and "held-out gold" in first.method and "30 gold items" in first.method


def test_without_judged_gold_there_is_no_estimate() -> None:
    votes, _, _, regular = _crowd(4, regular=50, gold=0)
    assert delivered_accuracy(votes, gold={}, labels=LABELS, regular_counts=[3] * regular) is None


def test_wilson_interval_matches_the_textbook_figure() -> None:
    low, high = wilson_interval(0.9, 100)
    assert (round(low, 4), round(high, 4)) == (0.8256, 0.9448)
    assert wilson_interval(0.5, 0) == (0.0, 1.0)


def test_a_job_with_only_gold_items_still_gets_an_estimate() -> None:
    votes, _, gold, _ = _crowd(5, regular=0, gold=10)
    estimate = delivered_accuracy(votes, gold=gold, labels=LABELS, regular_counts=[])
    assert estimate is not None and estimate.gold_items == 10 and 0 <= estimate.low <= estimate.high <= 1
