"""aggregate(): what each method returns, gold, rounds, and agreement with crowd-kit itself."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from marketplace.consensus import METHODS, ConsensusResult, Votes, aggregate
from marketplace.consensus.reference import crowdkit_ds_probabilities
from marketplace.consensus.synthetic import adversarial_crowd

# Three careful workers (1, 2, 3) and a contrarian (4) label four photos cat/dog.
PHOTOS = Votes.from_labels(
    [10, 10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13],
    [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4],
    ["cat", "cat", "cat", "dog", "dog", "dog", "dog", "cat",
     "cat", "cat", "dog", "dog", "dog", "dog", "cat", "cat"],
)  # fmt: skip


def small_crowd() -> Votes:
    return adversarial_crowd(seed=5, n_workers=20, n_items=60, n_labels=3, overlap=3).votes


def test_it_labels_items_and_reports_probabilities_and_worker_confusions() -> None:
    result = aggregate(PHOTOS)

    assert result.method == "quorum"
    assert result.labels == ("cat", "dog")
    assert result.items.tolist() == [10, 11, 12, 13]
    assert result.label_of(10) == "cat" and result.label_of(11) == "dog"
    assert result.item_labels() == {10: "cat", 11: "dog", 12: "cat", 13: "dog"}
    assert result.probabilities.shape == (4, 2)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)
    assert 0.5 < result.confidence_of(10) <= 1.0
    assert result.probabilities_of(10)["cat"] == pytest.approx(result.confidence_of(10))
    assert result.item_judgments.tolist() == [4, 4, 4, 4]
    assert result.workers.tolist() == [1, 2, 3, 4]
    assert result.worker_judgments.tolist() == [4, 4, 4, 4]
    assert result.confusion_of(1).shape == (2, 2)
    np.testing.assert_allclose(result.confusions.sum(axis=2), 1.0)  # rows: true label
    assert result.accuracy_of(4) < result.accuracy_of(1)
    assert set(result.worker_confusions()) == {1, 2, 3, 4}
    assert result.rounds >= 1 and result.seconds >= 0
    assert result.parameters["prior_strength"] == 5.0


def test_unknown_items_and_workers_raise_key_error() -> None:
    result = aggregate(PHOTOS)
    with pytest.raises(KeyError):
        result.label_of(99)
    with pytest.raises(KeyError):
        result.accuracy_of(99)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_returns_a_complete_result_without_pandas(method: str) -> None:
    k = 2 if method == "kos" else 3  # KOS takes two labels only
    crowd = adversarial_crowd(seed=5, n_workers=20, n_items=60, n_labels=k, overlap=3)
    gold = {item: label for item, label in crowd.truth_map().items() if item < 6}
    votes = crowd.votes
    result = aggregate(votes, method=method, max_rounds=5, gold=gold if method == "gmv" else None)

    assert result.method == method
    assert result.probabilities.shape == (60, k)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)
    assert result.confusions.shape == (len(result.workers), k, k)
    np.testing.assert_allclose(result.confusions.sum(axis=2), 1.0)
    assert ((0 <= result.worker_accuracy) & (result.worker_accuracy <= 1)).all()
    for value in dataclasses.asdict(result).values():
        assert not isinstance(value, pd.DataFrame | pd.Series | pd.Index)


def test_a_method_that_cannot_fit_the_job_says_why() -> None:
    with pytest.raises(ValueError, match="two labels"):
        aggregate(small_crowd(), method="kos")
    with pytest.raises(ValueError, match="no judged gold"):
        aggregate(small_crowd(), method="gmv")


def test_an_unknown_method_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="quorum"):
        aggregate(PHOTOS, method="magic")


def test_a_gold_item_gets_its_gold_label_with_full_confidence_even_against_the_votes() -> None:
    for method in ("quorum", "ds", "mv"):
        result = aggregate(PHOTOS, method=method, gold={12: "dog"})
        assert result.label_of(12) == "dog"
        assert result.confidence_of(12) == 1.0
        assert result.parameters["gold_items"] == 1


def test_gold_teaches_quorums_em_who_is_reliable() -> None:
    # Worker 9 disagrees with everybody but is right on both gold items; with gold, their
    # answer on the open item 3 outweighs two workers who were wrong on gold.
    votes = Votes.from_labels(
        [1, 1, 1, 2, 2, 2, 3, 3, 3],
        [7, 8, 9, 7, 8, 9, 7, 8, 9],
        ["a", "a", "b", "a", "a", "b", "a", "a", "b"],
    )
    without = aggregate(votes, method="quorum-ds", prior_strength=0)
    with_gold = aggregate(votes, method="quorum-ds", gold={1: "b", 2: "b"}, prior_strength=0)
    assert without.label_of(3) == "a"
    assert with_gold.label_of(3) == "b"
    assert with_gold.accuracy_of(9) == pytest.approx(1.0, abs=1e-3)
    assert with_gold.accuracy_of(7) < 0.5


def test_quorum_stops_when_no_posterior_moves_and_reports_the_rounds() -> None:
    votes = adversarial_crowd(seed=5).votes  # 2,000 items: EM settles well before 100 rounds
    settled = aggregate(votes, tol=1e-5)
    assert settled.converged and 10 <= settled.rounds < 100

    capped = aggregate(votes, max_rounds=2, tol=0.0)
    assert capped.rounds == 2 and not capped.converged
    assert capped.parameters["model"] != "weighted-vote"  # a cap asked for is not a failure


def test_a_job_too_small_to_learn_workers_from_gets_majority_vote_and_says_why() -> None:
    # Only item 1 was judged by more than one worker: nothing says how anyone errs.
    votes = Votes.from_labels([1, 1, 1, 2], [7, 8, 9, 7], ["no", "no", "yes", "yes"])
    result = aggregate(votes)

    assert result.parameters["model"] == "majority-vote"
    assert "too few" in result.parameters["why"]
    assert result.item_labels() == {1: "no", 2: "yes"}


def test_quorums_em_without_its_prior_is_crowd_kits_dawid_skene_round_for_round() -> None:
    votes = adversarial_crowd(seed=11, n_workers=30, n_items=300, n_labels=3).votes
    items, expected, rounds = crowdkit_ds_probabilities(votes, n_iter=15, tol=-np.inf)
    ours = aggregate(votes, method="quorum-ds", prior_strength=0, max_rounds=15, tol=0.0)

    assert rounds == ours.rounds == 15
    assert np.array_equal(items, ours.items)
    np.testing.assert_allclose(ours.probabilities, expected, atol=1e-8)


def test_ds_is_crowd_kit_as_it_is_including_its_early_stop() -> None:
    votes = adversarial_crowd(seed=11, n_workers=30, n_items=300, n_labels=3).votes
    _, expected, rounds = crowdkit_ds_probabilities(votes, n_iter=100, tol=1e-5)
    ours = aggregate(votes, method="ds")

    assert ours.rounds == rounds
    np.testing.assert_allclose(ours.probabilities, expected, atol=1e-8)


def test_the_result_is_a_frozen_value() -> None:
    result = aggregate(PHOTOS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.method = "mv"  # type: ignore[misc]
    assert isinstance(result, ConsensusResult)
