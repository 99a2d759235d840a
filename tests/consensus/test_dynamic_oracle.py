"""The replay's oracle (every worker's true confusion, the bound of a rule that knew its workers)
and the judgments it fills in for items the data set runs out of."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus.dynamic import Evidence
from marketplace.consensus.dynamic_crowd import history_skill
from marketplace.consensus.dynamic_oracle import fill_label, oracle_of, true_confusion
from marketplace.consensus.dynamic_replay import Crowdset, DynamicSettings, replay
from marketplace.consensus.posterior import one_coin_confusion
from marketplace.consensus.synthetic import synthetic_crowd


def crowd_of(accuracy: list[float], *, items: int = 400, overlap: int = 4) -> Crowdset:
    made = synthetic_crowd(
        confusions=np.stack([one_coin_confusion(a, 2) for a in accuracy]),
        n_items=items,
        overlap=overlap,
        seed=4,
    )
    return Crowdset.from_votes(made.votes, made.truth_map())


def test_the_oracle_knows_a_good_worker_from_a_coin_on_the_truth() -> None:
    crowd = crowd_of([0.95, 0.5, 0.8, 0.8])
    oracle = oracle_of(crowd)
    good, coin = oracle.accuracy[0], oracle.accuracy[1]
    assert good == pytest.approx(0.95, abs=0.03) and coin == pytest.approx(0.5, abs=0.05)
    assert np.allclose(oracle.confusions.sum(axis=2), 1.0)
    assert oracle.priors[1] == pytest.approx(np.mean(crowd.truth == 1), abs=0.01)


def test_a_filled_judgment_errs_like_the_average_worker() -> None:
    average = true_confusion(crowd_of([0.9, 0.7], overlap=2))  # about 0.8 right
    rng = np.random.default_rng(0)
    right = np.mean([fill_label(average, 1, rng) == 1 for _ in range(2000)])
    assert right == pytest.approx(0.8, abs=0.04)


def test_the_oracle_stops_items_sooner_than_the_rule_that_learns_its_workers() -> None:
    crowd = crowd_of([0.95, 0.95, 0.6, 0.6, 0.6, 0.6], items=300, overlap=6)
    learned = replay(crowd, DynamicSettings(min_overlap=1, max_overlap=6, target=0.95), seed=1)
    knowing = replay(
        crowd, DynamicSettings(min_overlap=1, max_overlap=6, target=0.95, oracle="stop"), seed=1
    )
    assert knowing.judgments < learned.judgments
    assert knowing.accuracy >= learned.accuracy - 0.02


def test_items_the_data_runs_out_of_are_filled_up_to_the_rule_and_charged() -> None:
    crowd = crowd_of([0.7] * 6, items=200, overlap=2)  # 2 judgments each: too few for 0.99
    settings = DynamicSettings(min_overlap=2, max_overlap=5, target=0.99)
    short = replay(crowd, settings, seed=0)
    filled = replay(crowd, DynamicSettings(**{**settings.__dict__, "fill": True}), seed=0)
    assert short.ran_out == 200 and short.judgments == 400 and short.filled == 0
    assert filled.filled > 0 and filled.judgments == 400 + filled.filled
    assert filled.at_maximum > 0  # filled items stop at the maximum like the rest
    # Fixed overlap is filled too: K judgments per item at every K up to the maximum.
    assert [round(j, 6) for j, _ in filled.fixed] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_an_oracle_part_the_replay_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="oracle"):
        DynamicSettings(min_overlap=1, max_overlap=3, target=0.9, oracle="everything")


def test_gold_in_the_workers_history_counts_each_of_their_answers_right_or_wrong() -> None:
    crowd = crowd_of([0.95, 0.5, 0.8, 0.8])
    everything = np.ones(len(crowd.items), dtype=bool)
    mine = crowd.workers == 1
    right = float(np.sum(crowd.codes[mine] == crowd.truth[crowd.items[mine]]))
    assert history_skill(crowd, everything, gold=1.0)[1] == Evidence(right, float(mine.sum()))
    # Without gold the run's posteriors stand in for the truth: the same answers, other credit.
    learned = history_skill(crowd, everything)[1]
    assert learned.seen == mine.sum() and learned.right != right
