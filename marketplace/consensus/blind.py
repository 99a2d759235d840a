"""A model measured on the blind judgments only: PURE (no Django).

In a job that shows pre-labels, people who saw the model's label copy it now and then, so the
people's posteriors lean towards the model and a model measured against them looks better than it
is. The control group's judgments (made without the suggestion: labeling/prelabels.py) are free of
that. Here each item's posterior is computed from those judgments alone, and the model is fitted
against those posteriors (`model_worker.model_fit`, the same EM and pseudo-answers as the run's
own measure). Each blind vote is weighed by a one-coin matrix at its worker's accuracy in the run,
not by the worker's fitted confusion: that matrix was learned against anchored posteriors, and it
learns exactly the wrong thing (a worker who says "cat" where copiers said "dog" looks like one
who says "cat" of dogs), so a blind vote against the model would count for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.consensus.em import EPS
from marketplace.consensus.model_worker import ModelFit, model_fit
from marketplace.consensus.types import ConsensusResult, FloatArray, IntArray


ONE_COIN_DEFAULT = 0.7  # a blind vote's accuracy when the run knows no worker
ONE_COIN_MAX = 0.99


@dataclass(frozen=True)
class BlindFit:
    fit: ModelFit  # its `items`: items with a blind judgment the model predicted
    judgments: int  # blind judgments on those items


def votes_posteriors(
    result: ConsensusResult, items: npt.ArrayLike, workers: npt.ArrayLike, codes: npt.ArrayLike
) -> tuple[IntArray, FloatArray, FloatArray]:
    """(item ids sorted, posteriors, class priors) from these votes alone, each vote one-coin at
    its worker's accuracy in `result` (a worker it does not know: their average)."""
    item_ids = np.asarray(items, dtype=np.int64)
    worker_ids = np.asarray(workers, dtype=np.int64)
    labels = np.asarray(codes, dtype=np.int64)
    k = len(result.labels)
    if not len(item_ids):
        return np.empty(0, dtype=np.int64), np.empty((0, k)), np.full(k, 1.0 / max(k, 1))
    known_workers = np.asarray(result.workers, dtype=np.int64)
    accuracy = np.asarray(result.worker_accuracy, dtype=np.float64)
    average = float(accuracy.mean()) if len(known_workers) else ONE_COIN_DEFAULT
    at = np.minimum(np.searchsorted(known_workers, worker_ids), max(len(known_workers) - 1, 0))
    known = (known_workers[at] == worker_ids) if len(known_workers) else np.zeros(len(worker_ids), bool)
    coin = np.where(known, accuracy[at] if len(known_workers) else average, average)
    coin = np.clip(coin, 1.0 / max(k, 1), ONE_COIN_MAX)  # never anti-evidence, never certainty
    # (votes, true label): P(the vote | truth) = coin on its own label, the rest spread evenly.
    evidence = np.repeat(((1.0 - coin) / max(k - 1, 1))[:, None], k, axis=1)
    evidence[np.arange(len(labels)), labels] = coin
    ids, row = np.unique(item_ids, return_inverse=True)
    log_votes = np.zeros((len(ids), k))
    np.add.at(log_votes, row, np.log(np.maximum(evidence, EPS)))
    # The class priors too are the blind votes' own (anchored labels lean to the model's
    # favourite class): uniform, then the share each class takes under it, smoothed.
    post = _normalized(log_votes)
    priors = (post.sum(axis=0) + 1.0) / (len(ids) + k)
    return ids, _normalized(log_votes + np.log(priors)), priors


def _normalized(log_post: FloatArray) -> FloatArray:
    shifted = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def blind_fit(
    result: ConsensusResult,
    votes: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    model_items: npt.ArrayLike,
    model_codes: npt.ArrayLike,
) -> BlindFit:
    """The model (its codes on `model_items`) fitted against the posteriors of the blind `votes`
    (items, workers, codes), on the items both cover."""
    ids, post, priors = votes_posteriors(result, *votes)
    predicted = np.asarray(model_items, dtype=np.int64)
    answers = np.asarray(model_codes, dtype=np.int64)
    both = np.isin(predicted, ids)
    rows = np.searchsorted(ids, predicted[both])
    vote_items = np.asarray(votes[0], dtype=np.int64)
    judgments = int(np.isin(vote_items, predicted[both]).sum())
    return BlindFit(model_fit(post[rows], answers[both], priors), judgments)
