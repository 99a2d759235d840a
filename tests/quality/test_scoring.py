"""Gold scoring: smoothed accuracy, its Beta credible interval, the floor test, answer speed."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from marketplace.quality import scoring


def test_the_smoothed_accuracy_starts_at_one_half_and_never_reaches_zero_or_one() -> None:
    assert scoring.smoothed_accuracy(correct=0, seen=0) == 0.5
    assert scoring.smoothed_accuracy(correct=0, seen=8) == 0.1
    assert scoring.smoothed_accuracy(correct=8, seen=8) == 0.9


def test_the_interval_is_the_central_90_percent_of_the_beta_posterior() -> None:
    # Beta(1, 5): the 5% quantile is 1 - 0.95 ** (1/5), the 95% one 1 - 0.05 ** (1/5).
    low, high = scoring.credible_interval(correct=0, seen=4)
    assert low == pytest.approx(1 - 0.95 ** 0.2) and high == pytest.approx(1 - 0.05 ** 0.2)
    # More evidence, a narrower interval around the same accuracy.
    narrow = scoring.credible_interval(correct=80, seen=100)
    wide = scoring.credible_interval(correct=8, seen=10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0] and narrow[0] < 0.8 < narrow[1]


def test_the_gold_estimate_bundles_counts_mean_and_interval() -> None:
    estimate = scoring.gold_estimate(correct=15, seen=18)
    assert (estimate.seen, estimate.correct, estimate.wrong) == (18, 15, 3)
    assert estimate.low < estimate.smoothed == 0.8 < estimate.high
    assert estimate.as_dict()["interval_90"] == [round(estimate.low, 4), round(estimate.high, 4)]


def test_the_floor_applies_only_after_enough_answers_and_is_exact_at_the_boundary() -> None:
    assert not scoring.below_floor(correct=0, seen=4, min_seen=5, floor=Decimal("0.5"))
    assert scoring.below_floor(correct=0, seen=5, min_seen=5, floor=Decimal("0.5"))
    # (4 + 1) / (8 + 2) is exactly 0.5: at the floor is not under it.
    assert not scoring.below_floor(correct=4, seen=8, min_seen=5, floor=Decimal("0.5"))
    assert scoring.below_floor(correct=3, seen=8, min_seen=5, floor="0.5")


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        scoring.smoothed_accuracy(correct=3, seen=2)
    with pytest.raises(ValueError):
        scoring.gold_estimate(correct=-1, seen=2)


def test_block_probability_matches_a_hand_computed_case() -> None:
    # Checked once after 2 answers with floor 0.5: blocked iff (c + 1) / 4 < 0.5, i.e. c = 0.
    assert scoring.block_probability(accuracy=0.3, min_seen=2, floor=0.5, horizon=2) == pytest.approx(0.49)
    assert scoring.block_probability(accuracy=1.0, min_seen=2, floor=0.5, horizon=50) == 0.0
    assert scoring.block_probability(accuracy=0.0, min_seen=2, floor=0.5, horizon=2) == 1.0


def test_the_median_answer_time_skips_missing_times() -> None:
    assert scoring.median_seconds([Decimal("1.5"), None, 3, Decimal("10")]) == 3.0
    assert scoring.median_seconds([1, 2]) == 1.5
    assert scoring.median_seconds([None]) is None


def test_a_share_from_few_trials_gets_a_wide_interval_not_a_certainty() -> None:
    low, high = scoring.share_interval(successes=2, trials=2)
    assert high == 1.0 and 0.3 < low < 0.5  # "100 %" from two items: 90 % interval about 42–100 %
    low, high = scoring.share_interval(successes=950, trials=1000)
    assert 0.93 < low < 0.95 < high < 0.965
    low, high = scoring.share_interval(successes=0, trials=5)
    assert low == 0.0 and high < 0.5
    assert scoring.share_interval(successes=1.6, trials=2)[0] < 0.8 < scoring.share_interval(successes=1.6, trials=2)[1]
    with pytest.raises(ValueError):
        scoring.share_interval(successes=3, trials=2)


def test_balanced_accuracy_scores_a_constant_answer_at_one_half_whatever_gold_ticks() -> None:
    # 100 label decisions, 30 of them on labels gold ticked.
    nothing = scoring.balanced_smoothed(right=70, seen=100, pos_right=0, pos_seen=30)
    everything = scoring.balanced_smoothed(right=30, seen=100, pos_right=30, pos_seen=30)
    assert nothing == (Fraction(1, 32) + Fraction(71, 72)) / 2
    assert 0.49 < nothing < 0.52 and 0.49 < everything < 0.52
    assert scoring.balanced_below_floor(right=70, seen=100, pos_right=0, pos_seen=30, floor=Decimal("0.60"))
    good = scoring.balanced_estimate(right=90, seen=100, pos_right=27, pos_seen=30)
    assert good.smoothed == pytest.approx((28 / 32 + 64 / 72) / 2) and good.low < good.smoothed < good.high


def test_balanced_accuracy_leaves_out_a_side_gold_has_not_decided_yet() -> None:
    assert scoring.balanced_smoothed(right=0, seen=0, pos_right=0, pos_seen=0) == Fraction(1, 2)
    assert scoring.balanced_smoothed(right=10, seen=10, pos_right=0, pos_seen=0) == Fraction(11, 12)
