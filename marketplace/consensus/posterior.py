"""One item's posterior from already-estimated workers: a single cheap E-step.

Dynamic overlap asks, after each new judgment, "is this item settled?" without re-running EM
over the job. Given the confusion matrices from the last `aggregate` run (or, for a worker it
has not seen, their accuracy on gold as a one-coin model), this is Bayes' rule over a handful
of votes.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from marketplace.consensus.em import EPS
from marketplace.consensus.onecoin import one_coin_matrices
from marketplace.consensus.types import FloatArray


def one_coin_confusion(accuracy: float, n_labels: int) -> FloatArray:
    """Right with probability `accuracy`, otherwise any other label alike."""
    if n_labels < 2:
        return np.ones((n_labels, n_labels))
    return one_coin_matrices(np.array([accuracy], dtype=np.float64), n_labels, floor=EPS)[0]


def item_posterior(
    worker_confusions: Mapping[Hashable, npt.ArrayLike],
    priors: Sequence[float] | npt.ArrayLike,
    votes_for_item: Iterable[tuple[Hashable, int]],
    *,
    gold_accuracy: Mapping[Hashable, float] | None = None,
    default_accuracy: float | None = None,
) -> FloatArray:
    """P(true label = k | this item's votes), for k in the label order of `priors`.

    `votes_for_item` holds (worker, label index) pairs. Each worker's evidence comes from, in
    order: their confusion matrix (row = true label) in `worker_confusions`; else a one-coin
    matrix from their accuracy in `gold_accuracy`; else one from `default_accuracy` if given;
    otherwise the vote is ignored (nothing known about the worker). With no usable vote the
    answer is the normalised priors.
    """
    prior = np.maximum(np.asarray(priors, dtype=np.float64), EPS)
    k = len(prior)
    log_post = np.log(prior / prior.sum())
    for worker, label in votes_for_item:
        if not 0 <= label < k:
            raise ValueError(f"label index {label} outside 0..{k - 1}")
        matrix = _matrix_for(worker, k, worker_confusions, gold_accuracy, default_accuracy)
        if matrix is not None:
            log_post += np.log(np.maximum(matrix[:, label], EPS))
    log_post -= log_post.max()
    post = np.exp(log_post)
    return post / post.sum()


def _matrix_for(
    worker: Hashable,
    k: int,
    confusions: Mapping[Hashable, npt.ArrayLike],
    gold_accuracy: Mapping[Hashable, float] | None,
    default_accuracy: float | None,
) -> FloatArray | None:
    if worker in confusions:
        matrix = np.asarray(confusions[worker], dtype=np.float64)
        if matrix.shape != (k, k):
            raise ValueError(f"confusion of {worker!r} is {matrix.shape}, expected {(k, k)}")
        return matrix
    if gold_accuracy is not None and worker in gold_accuracy:
        return one_coin_confusion(gold_accuracy[worker], k)
    if default_accuracy is not None:
        return one_coin_confusion(default_accuracy, k)
    return None
