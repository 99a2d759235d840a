"""A model's predictions as one more worker: measured against the people, never trusted for its
name. A good model raises accuracy and saves judgments; a bad one is down-weighted and costs
nothing beyond one standard error."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus import Votes, aggregate
from marketplace.consensus.dynamic import Decision, overlap_decision
from marketplace.consensus.dynamic_replay import (
    Crowdset,
    DynamicSettings,
    replay_many,
    simulated_model,
)
from marketplace.consensus.model_worker import chance_fit, combine, model_fit, trusted, with_models
from marketplace.consensus.posterior import one_coin_confusion
from marketplace.consensus.synthetic import synthetic_crowd

SETTINGS = DynamicSettings(min_overlap=2, max_overlap=8, target=0.9)
SEEDS = [0, 1, 2]


def crowd(*, items: int = 400, seed: int = 5) -> Crowdset:
    """25 workers right 60% to 85% of the time, 3 labels, every item judged 8 times."""
    accuracy = np.random.default_rng(seed).uniform(0.6, 0.85, 25)
    made = synthetic_crowd(
        confusions=np.stack([one_coin_confusion(a, 3) for a in accuracy]),
        n_items=items,
        overlap=8,
        seed=seed,
    )
    return Crowdset.from_votes(made.votes, made.truth_map())


def test_the_simulated_model_is_right_as_often_as_asked_and_seeded() -> None:
    people = crowd(items=2000)
    model = simulated_model(people, 0.85, seed=3)
    assert np.mean(model == people.truth) == pytest.approx(0.85, abs=0.02)
    assert np.array_equal(model, simulated_model(people, 0.85, seed=3))
    assert not np.array_equal(model, simulated_model(people, 0.85, seed=4))


def test_a_model_is_measured_against_the_people_not_against_itself() -> None:
    people = crowd(items=1000)
    result = aggregate(people.subset(np.ones(len(people.items), dtype=bool)))
    truth = people.truth[result.items]
    for accuracy in (0.9, 0.55, 0.34):
        answers = simulated_model(people, accuracy, seed=1)[result.items]
        fit = model_fit(result.probabilities, answers, result.priors)
        assert fit.accuracy == pytest.approx(np.mean(answers == truth), abs=0.05)
    # With no evidence a model counts as chance: its votes move nothing.
    assert np.allclose(chance_fit(3).confusion, 1 / 3) and not trusted(chance_fit(3), crowd_accuracy=0.7)


def test_a_models_vote_moves_an_item_by_what_it_is_worth() -> None:
    people = np.array([[0.6, 0.4], [0.6, 0.4]])
    good, bad = one_coin_confusion(0.9, 2), one_coin_confusion(0.5, 2)
    assert combine(people, [1, -1], good)[0, 1] == pytest.approx(0.4 * 0.9 / (0.4 * 0.9 + 0.6 * 0.1))
    assert np.allclose(combine(people, [1, -1], good)[1], people[1])  # no prediction: unchanged
    assert np.allclose(combine(people, [1, 1], bad), people)  # a coin flip says nothing


def test_a_trusted_model_and_one_person_can_settle_an_item_but_never_the_model_alone() -> None:
    def decide(judgments: int, models: int) -> Decision:
        return overlap_decision(
            posterior=[0.95, 0.05], judgments=judgments, min_overlap=2, max_overlap=5,
            target=0.9, model_votes=models,
        )

    assert decide(1, 1) is Decision.SETTLED
    assert decide(1, 0) is Decision.MORE
    assert decide(0, 3) is Decision.MORE


def test_a_good_model_raises_accuracy_and_saves_judgments() -> None:
    people = crowd()
    alone = replay_many(people, SETTINGS, seeds=SEEDS)
    helped = replay_many(people, SETTINGS, seeds=SEEDS, model_accuracy=0.85)
    assert helped.judgments_per_item <= 0.85 * alone.judgments_per_item
    assert helped.accuracy >= alone.accuracy
    assert helped.model_accuracy is not None and helped.model_accuracy > 0.75


def test_a_bad_model_is_down_weighted_and_costs_nothing_beyond_one_standard_error() -> None:
    people = crowd()
    alone = replay_many(people, SETTINGS, seeds=SEEDS)
    hindered = replay_many(people, SETTINGS, seeds=SEEDS, model_accuracy=0.4)  # 3 labels: near chance
    assert hindered.model_accuracy is not None and hindered.model_accuracy < 0.5
    assert alone.accuracy_se is not None
    assert hindered.accuracy >= alone.accuracy - alone.accuracy_se
    assert hindered.judgments_per_item == pytest.approx(alone.judgments_per_item, rel=0.05)


def test_gold_items_nobody_judged_still_measure_a_model_but_a_model_alone_labels_nothing() -> None:
    votes = Votes.from_labels([1, 1, 2, 2], [10, 11, 10, 11], ["a", "a", "b", "b"])
    result = aggregate(votes)
    # The model answers the two judged items and two gold items nobody judged (wrong on item 3).
    combined, fits = with_models(result, [1, 2, 3, 4], [7, 7, 7, 7], [0, 1, 1, 1], gold={3: 0, 4: 1})
    assert fits[7].items == 4 and fits[7].agreement == pytest.approx(0.75)
    assert combined.items.tolist() == [1, 2] and combined.label_index.tolist() == [0, 1]
