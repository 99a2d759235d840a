"""Dynamic overlap's pure parts: the settle-or-continue rule, the worker model, the refit schedule,
the skill bookkeeping, and the replay that compares dynamic with fixed overlap on a crowd."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus import Votes, aggregate
from marketplace.consensus.dynamic import (
    Crowd,
    Decision,
    Evidence,
    WorkerModel,
    crowd_of,
    gold_evidence,
    overlap_decision,
    refit_due,
    run_evidence,
    skill_changes,
    worker_confusion,
)
from marketplace.consensus.dynamic_replay import (
    Crowdset,
    DynamicSettings,
    Outcome,
    compare,
    replay,
    replay_many,
)
from marketplace.consensus.posterior import one_coin_confusion
from marketplace.consensus.synthetic import synthetic_crowd


def decide(posterior: list[float], judgments: int) -> Decision:
    return overlap_decision(
        posterior=np.array(posterior), judgments=judgments, min_overlap=2, max_overlap=5, target=0.9
    )


def test_an_item_settles_once_its_expected_accuracy_reaches_the_target() -> None:
    assert decide([0.92, 0.08], 2) is Decision.SETTLED
    assert decide([0.9, 0.1], 3) is Decision.SETTLED  # reaching it is enough
    assert decide([0.89, 0.11], 3) is Decision.MORE


def test_an_item_below_the_minimum_takes_more_however_sure_it_looks() -> None:
    assert decide([0.999, 0.001], 1) is Decision.MORE


def test_an_item_at_the_maximum_below_the_target_is_left_to_an_expert() -> None:
    assert decide([0.6, 0.4], 5) is Decision.UNCERTAIN
    assert decide([0.95, 0.05], 5) is Decision.SETTLED


def test_the_model_is_refitted_after_100_judgments_then_each_time_they_double() -> None:
    due = [n for n in range(1, 3300) if refit_due(n)]
    assert due == [100, 200, 400, 800, 1600, 3200]
    assert [n for n in range(1, 20) if refit_due(n, first=2)] == [2, 4, 8, 16]
    assert not any(refit_due(n, first=0) for n in range(1, 500))


def test_a_worker_the_run_fitted_and_nobody_knows_elsewhere_is_weighed_by_the_run() -> None:
    fitted = np.array([[0.6, 0.4], [0.1, 0.9]])
    matrix = worker_confusion(
        n_labels=2, crowd=Crowd(accuracy=0.7), run_confusion=fitted, run_judgments=3
    )
    np.testing.assert_allclose(matrix, fitted)


def test_a_long_record_elsewhere_outweighs_a_run_that_saw_the_worker_twice() -> None:
    fitted = one_coin_confusion(0.5, 2)  # the run could not tell
    skill = Evidence(right=190.0, seen=200.0)  # right 95% of the time in other jobs
    matrix = worker_confusion(
        n_labels=2,
        crowd=Crowd(accuracy=0.7),
        skill=skill,
        run_confusion=fitted,
        run_judgments=2,
        model=WorkerModel(history_weight=50.0),
    )
    assert matrix[0, 0] > 0.85  # 50 pseudo-judgments of history against 2 of the run


def test_without_a_run_gold_in_the_job_and_the_skill_elsewhere_add_up() -> None:
    model = WorkerModel(crowd_accuracy=0.7, crowd_strength=4.0, history_weight=50.0)
    crowd = Crowd(accuracy=0.7)
    gold = Evidence(right=9.0, seen=10.0)
    # The skill holds the job's own gold too: only the other 20 answers count as history.
    skill = Evidence(right=9.0 + 10.0, seen=10.0 + 20.0)
    matrix = worker_confusion(
        n_labels=2, crowd=crowd, skill=skill, job=gold, job_gold=gold, model=model
    )
    assert matrix[1, 1] == pytest.approx((9 + 10 + 4 * 0.7) / (10 + 20 + 4))


def test_a_worker_nobody_knows_counts_as_the_crowd() -> None:
    matrix = worker_confusion(n_labels=3, crowd=Crowd(accuracy=0.6))
    np.testing.assert_allclose(matrix, one_coin_confusion(0.6, 3))


def test_a_known_worker_errs_the_way_the_crowd_errs() -> None:
    # This job's crowd mistakes label 1 for label 0, never the other way round.
    confusion = np.array([[0.9, 0.1], [0.5, 0.5]])
    crowd = Crowd(accuracy=0.7, confusion=confusion, priors=np.array([0.5, 0.5]))
    better = crowd.shaped(0.85, 2)
    assert float(np.mean(np.diag(better))) == pytest.approx(0.85)
    assert better[1, 0] > better[0, 1]  # still the crowd's kind of mistake
    np.testing.assert_allclose(crowd.shaped(0.7, 2), confusion)
    np.testing.assert_allclose(crowd.shaped(0.2, 2), np.full((2, 2), 0.5))  # below chance: noise


def test_a_runs_share_of_skill_is_the_posterior_of_the_labels_given_outside_gold() -> None:
    votes = Votes.from_labels(
        [1, 1, 2, 2, 3], ["ann", "bo", "ann", "bo", "ann"], ["a", "a", "a", "b", "b"]
    )
    result = aggregate(votes, gold={3: "a"})
    share = run_evidence(result, votes, gold_items=[3])
    assert share["ann"].seen == 2 and share["bo"].seen == 2  # ann's gold answer is left out
    expected = result.probabilities_of(1)["a"] + result.probabilities_of(2)["a"]
    assert share["ann"].right == pytest.approx(expected)


def test_a_new_run_replaces_the_previous_runs_share_instead_of_adding_to_it() -> None:
    previous = {"ann": Evidence(8.0, 10.0), "bo": Evidence(3.0, 4.0)}
    current = {"ann": Evidence(17.0, 20.0), "cy": Evidence(1.0, 1.0)}
    changes = skill_changes(previous, current)
    assert changes == {
        "ann": Evidence(9.0, 10.0),
        "cy": Evidence(1.0, 1.0),
        "bo": Evidence(-3.0, -4.0),
    }
    skill = Evidence(8.0, 10.0) + gold_evidence(correct=True) + changes["ann"]
    assert skill == Evidence(18.0, 21.0)  # latest run's 17/20 and one right gold answer


def test_the_crowd_of_a_run_is_its_judgment_weighted_average_worker() -> None:
    votes = Votes.from_labels(
        [1, 2, 3, 1, 2, 3], ["a"] * 3 + ["b"] * 3, ["x", "y", "x", "x", "y", "y"]
    )
    result = aggregate(votes)
    crowd = crowd_of(result)
    assert crowd.accuracy == pytest.approx(float(np.mean(result.worker_accuracy)))
    assert crowd.confusion is not None and crowd.confusion.shape == (2, 2)


def mixed_crowd(*, items: int, overlap: int = 12, seed: int = 2) -> Crowdset:
    """30 workers right 55% to 95% of the time, 3 labels, every item judged `overlap` times."""
    accuracy = np.random.default_rng(seed).uniform(0.55, 0.95, 30)
    made = synthetic_crowd(
        confusions=np.stack([one_coin_confusion(a, 3) for a in accuracy]),
        n_items=items,
        overlap=overlap,
        seed=seed,
    )
    return Crowdset.from_votes(made.votes, made.truth_map())


def test_dynamic_overlap_with_an_unreachable_target_is_fixed_overlap() -> None:
    crowd = mixed_crowd(items=150, overlap=6)
    outcome = replay(crowd, DynamicSettings(min_overlap=4, max_overlap=4, target=1.0), seed=3)
    assert outcome.judgments == 4 * 150 and outcome.at_maximum == 150
    assert outcome.fixed[3] == (4.0, outcome.accuracy)  # the same judgments, the same labels


def test_on_a_mixed_crowd_dynamic_overlap_saves_a_quarter_of_the_judgments_at_equal_accuracy() -> (
    None
):
    crowd = mixed_crowd(items=600)
    result = replay_many(
        crowd, DynamicSettings(min_overlap=2, max_overlap=10, target=0.95), seeds=[0, 1]
    )
    # Measured: 3.7 judgments per item for 0.943, where fixed overlap needs 5.5 (0.882 at 3.7).
    assert result.accuracy >= result.fixed_accuracy_same_judgments + 0.03
    assert result.saving is not None and result.saving >= 0.25
    assert result.at_maximum <= 0.02
    assert result.refits == 5  # some 2,250 judgments: refitted after 100, 200, 400, 800 and 1,600


def outcome(judgments: int, accuracy: float) -> Outcome:
    """100 items; fixed overlap 1..4 reaches 0.6, 0.7, 0.8, 0.9."""
    fixed = [(1.0, 0.6), (2.0, 0.7), (3.0, 0.8), (4.0, 0.9)]
    return Outcome(100, judgments, accuracy, at_maximum=0, ran_out=0, refits=1, fixed=fixed)


def test_the_comparison_names_the_fixed_overlap_matched_and_the_savings_spread() -> None:
    result = compare([outcome(220, 0.84), outcome(260, 0.86)])
    assert result.judgments_per_item == pytest.approx(2.4)
    assert result.matched_overlap == pytest.approx(3.5)  # 0.85 lies half-way from K 3 to 4
    assert result.saving == pytest.approx(1 - 2.4 / 3.5)
    # Drawn again, the replays give savings from 1 - 2.2/3.4 to 1 - 2.6/3.6.
    assert result.saving_se is not None and 0.005 < result.saving_se < 0.03
    assert compare([outcome(220, 0.84)]).saving_se is None  # one replay has no spread
