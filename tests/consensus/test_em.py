"""EM without a (workers, K, K) array a round: the pair-held Dawid-Skene confusions and the one-coin
accuracies give every vote the same log-likelihood the dense matrices gave, cell for cell, and a
fit over many occasional workers and many labels peaks near one set of dense matrices (the
results'), where it peaked at 4 to 6.5 times that (110 s and 2.7 GB for 20,000 workers x 50 labels).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from marketplace.consensus import aggregate
from marketplace.consensus.em import (
    DOMINANCE_MARGIN,
    EPS,
    Pairs,
    diagonal_dominant,
    normalize_rows,
    pair_confusions,
    soft_counts,
)
from marketplace.consensus.encode import Encoded, encode
from marketplace.consensus.onecoin import OneCoin, one_coin_accuracy, one_coin_matrices
from marketplace.consensus.types import Votes


def occasional_crowd(*, items: int, labels: int, workers: int, seed: int = 0) -> Votes:
    """Three votes an item from a large crowd of occasional workers, right 70 % of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, labels, items)
    item = np.repeat(np.arange(items), 3)
    worker = rng.integers(0, workers, len(item))
    answer = np.where(rng.random(len(item)) < 0.7, truth[item], rng.integers(0, labels, len(item)))
    return Votes.from_labels(item.astype(str), worker.astype(str), np.array([f"c{a}" for a in answer], dtype=object))


def dense_confusions(enc: Encoded, posteriors: np.ndarray, prior_strength: float) -> np.ndarray:
    """The (workers, K, K) formulation EM rounds used before (em.pair_confusions' docstring says
    what it computes): soft counts, the cells of labels a worker gave floored at EPS, the pooled
    diagonal-dominant prior added, rows normalised."""
    counts = soft_counts(enc, posteriors)
    gave = np.bincount(enc.worker_label, minlength=enc.n_workers * enc.n_labels).reshape(enc.n_workers, enc.n_labels) > 0
    counts = np.where(gave[:, np.newaxis, :], np.maximum(counts, EPS), counts)
    if prior_strength > 0:
        pooled = counts.sum(axis=0)
        per_label = pooled.sum(axis=1)
        share = per_label / max(per_label.sum(), EPS)
        centre = diagonal_dominant(normalize_rows(pooled), DOMINANCE_MARGIN)
        counts = counts + ((prior_strength * len(share) * share)[:, np.newaxis] * centre)[np.newaxis]
    return normalize_rows(counts)


def dense_vote_log(enc: Encoded, matrices: np.ndarray) -> np.ndarray:
    """What the E-step read before: log of the dense matrices, gathered at each vote's cell."""
    k = enc.n_labels
    with np.errstate(divide="ignore"):
        table = np.log(matrices.transpose(1, 0, 2).reshape(k, -1))
    return table[:, enc.worker_label]


@pytest.mark.parametrize("prior_strength", [0.0, 4.0])
def test_pair_held_confusions_are_the_dense_ones_cell_for_cell(prior_strength: float) -> None:
    enc = encode(occasional_crowd(items=400, labels=6, workers=150))
    posteriors = np.random.default_rng(1).dirichlet(np.ones(enc.n_labels), enc.n_items)

    model = pair_confusions(enc, Pairs.of(enc), posteriors, prior_strength)
    dense = dense_confusions(enc, posteriors, prior_strength)

    np.testing.assert_allclose(model.dense(), dense, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.vote_log(enc), dense_vote_log(enc, dense), rtol=1e-12)
    assert np.allclose(normalize_rows(model.dense()).sum(axis=-1), 1.0)


def test_one_coin_accuracies_give_each_vote_the_dense_matrices_likelihood() -> None:
    enc = encode(occasional_crowd(items=300, labels=5, workers=80, seed=2))
    posteriors = np.random.default_rng(3).dirichlet(np.ones(enc.n_labels), enc.n_items)
    accuracy = one_coin_accuracy(enc, posteriors, 5.0)
    accuracy[:3] = [0.0, 1.0, 0.5]  # the clipped extremes too

    model = OneCoin(accuracy, enc.n_labels)

    dense = one_coin_matrices(accuracy, enc.n_labels)
    np.testing.assert_array_equal(model.dense(), dense)
    np.testing.assert_allclose(model.vote_log(enc), dense_vote_log(enc, dense), rtol=1e-12)


@pytest.mark.parametrize("method", ["quorum-ds", "quorum-onecoin", "quorum"])
def test_many_occasional_workers_and_many_labels_fit_without_a_dense_array_a_round(method: str) -> None:
    votes = occasional_crowd(items=4_000, labels=40, workers=3_000)
    dense_bytes = 3_000 * 40 * 40 * 8  # one set of the workers' confusion matrices: 38 MB

    tracemalloc.start()
    try:
        result = aggregate(votes, method=method)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.confusions.shape == (len(result.workers), 40, 40)
    assert peak < 2.5 * dense_bytes, f"peak {peak / 2**20:.0f} MB for {dense_bytes / 2**20:.0f} MB of matrices"
    assert (result.label_index >= 0).all() and np.isfinite(result.probabilities).all()
