"""Multi-label consensus by binary relevance: a yes/no crowd per label, each aggregated alone."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus.multilabel import (
    MultiVotes,
    aggregate_multi,
    binary_crowds,
    hamming_accuracy,
    multi_label_crowd,
)


def test_each_vote_says_yes_to_its_ticked_labels_and_no_to_the_rest() -> None:
    votes = MultiVotes.from_sets([1, 1, 2], ["a", "b", "a"], [["cat"], ["cat", "dog"], []],
                                 label_set=["cat", "dog", "bird"])
    crowds = binary_crowds(votes)
    assert list(crowds) == ["cat", "dog", "bird"]
    assert crowds["cat"].codes.tolist() == [1, 1, 0]
    assert crowds["dog"].codes.tolist() == [0, 1, 0]
    assert crowds["bird"].codes.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="zebra"):
        MultiVotes.from_sets([1], ["a"], [["zebra"]], label_set=["cat", "dog"])


def test_every_item_gets_every_labels_probability_and_gold_sets_are_kept() -> None:
    votes = MultiVotes.from_sets(
        [1, 1, 1, 2, 2, 2], ["a", "b", "c", "a", "b", "c"],
        [["cat", "dog"], ["cat", "dog"], ["cat"], [], [], ["dog"]], label_set=["cat", "dog"],
    )
    result = aggregate_multi(votes, gold={2: set()})
    assert result.probabilities.shape == (2, 2)
    assert result.set_of(1)[0] == "cat" and result.probabilities_of(1)["cat"] > 0.9
    assert result.set_of(2) == () and result.probabilities_of(2) == {"cat": 0.0, "dog": 0.0}
    assert set(result.per_label) == {"cat", "dog"}


def test_per_label_consensus_beats_per_label_majority_vote_on_a_crowd_with_bad_workers() -> None:
    rng = np.random.default_rng(11)
    n_labels, good, eager, careless = 6, 8, 4, 4
    # Good workers: sensitivity and specificity 0.8-0.95 per label. Eager ones tick nearly every
    # label (sensitivity 0.95, specificity 0.3); careless ones tick at random (0.5 / 0.5).
    sens = np.vstack([rng.uniform(0.8, 0.95, (good, n_labels)), np.full((eager, n_labels), 0.95),
                      np.full((careless, n_labels), 0.5)])
    spec = np.vstack([rng.uniform(0.8, 0.95, (good, n_labels)), np.full((eager, n_labels), 0.3),
                      np.full((careless, n_labels), 0.5)])
    crowd = multi_label_crowd(sensitivity=sens, specificity=spec, n_items=400, overlap=5, seed=3)
    truth = crowd.truth_sets()
    consensus = hamming_accuracy(aggregate_multi(crowd.votes), truth)
    majority = hamming_accuracy(aggregate_multi(crowd.votes, method="mv"), truth)
    assert consensus > majority + 0.03, (consensus, majority)
    # The same seed gives the same crowd.
    again = multi_label_crowd(sensitivity=sens, specificity=spec, n_items=400, overlap=5, seed=3)
    assert np.array_equal(again.votes.ticks, crowd.votes.ticks)
