"""item_posterior: one item's label probabilities from known workers (dynamic overlap)."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus import aggregate, item_posterior, one_coin_confusion
from marketplace.consensus.synthetic import adversarial_crowd

RELIABLE = np.array([[0.9, 0.1], [0.2, 0.8]])  # row = true label


def test_with_no_votes_the_posterior_is_the_prior() -> None:
    np.testing.assert_allclose(item_posterior({}, [3.0, 1.0], []), [0.75, 0.25])


def test_it_is_bayes_rule_over_the_workers_confusion_matrices() -> None:
    post = item_posterior({"ann": RELIABLE, "bo": RELIABLE}, [0.5, 0.5], [("ann", 0), ("bo", 1)])
    expected = np.array([0.9 * 0.1, 0.2 * 0.8])
    np.testing.assert_allclose(post, expected / expected.sum())


def test_a_worker_without_a_matrix_falls_back_to_their_gold_accuracy() -> None:
    post = item_posterior({}, [0.5, 0.5], [("new", 1)], gold_accuracy={"new": 0.8})
    np.testing.assert_allclose(post, [0.2, 0.8])


def test_an_unknown_worker_counts_only_with_a_default_accuracy() -> None:
    assert item_posterior({}, [0.5, 0.5], [("x", 1)]).tolist() == [0.5, 0.5]
    np.testing.assert_allclose(
        item_posterior({}, [0.5, 0.5], [("x", 1)], default_accuracy=0.7), [0.3, 0.7]
    )


def test_one_coin_spreads_errors_evenly_and_never_reaches_zero() -> None:
    matrix = one_coin_confusion(0.7, 4)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    assert matrix[0, 0] == pytest.approx(0.7) and matrix[0, 3] == pytest.approx(0.1)
    assert one_coin_confusion(1.0, 2)[0, 1] > 0


def test_it_reproduces_the_full_runs_posterior_for_an_item() -> None:
    crowd = adversarial_crowd(seed=6, n_workers=30, n_items=300, n_labels=3)
    result = aggregate(crowd.votes)
    votes = crowd.votes
    mine = votes.items == 17
    pairs = zip(votes.workers[mine].tolist(), votes.codes[mine].tolist(), strict=True)
    post = item_posterior(result.worker_confusions(), result.priors, pairs)
    np.testing.assert_allclose(post, list(result.probabilities_of(17).values()), atol=1e-6)


def test_a_label_index_outside_the_label_set_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        item_posterior({"ann": RELIABLE}, [0.5, 0.5], [("ann", 2)])
