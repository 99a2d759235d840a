"""What an oracle knows of a replayed crowd, and the judgments a crowd runs out of: PURE (no Django).

The oracle is the bound a stopping rule can be held to: it knows each worker's true confusion,
measured against the truth on all of their answers in the data set (the ones being replayed
included), and the true class priors. `dynamic_replay` can stop items on the oracle's posterior,
serve workers by the oracle's accuracy, or both (`DynamicSettings.oracle`).

A replay can only give an item to the workers who labeled it in the data set; in the product an
item the served workers ran out of waits for new ones. `fill_label` draws such a judgment from the
average worker the job was served (their pooled true confusion), so the replay can charge it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketplace.consensus.dynamic_crowd import Crowdset
from marketplace.consensus.types import FloatArray, IntArray

#: What the oracle may stand in for: the stopping posterior, the serving rule, or both.
ORACLE_PARTS = ("stop", "serve", "both")


@dataclass(frozen=True)
class Oracle:
    """Each worker's true confusion (row = truth), their accuracy under the true priors."""

    confusions: FloatArray  # (workers, labels, labels)
    accuracy: FloatArray  # (workers,)
    priors: FloatArray  # (labels,)

    def stops(self, part: str) -> bool:
        return part in ("stop", "both")

    def serves(self, part: str) -> bool:
        return part in ("serve", "both")


def true_confusion(
    crowd: Crowdset, votes: IntArray | None = None, *, smoothing: float = 1.0
) -> FloatArray:
    """The pooled true confusion of `votes` (indices; default all) on items with a truth, each
    row smoothed by `smoothing` pseudo-votes spread evenly (no row is ever empty)."""
    k = len(crowd.labels)
    picked = np.arange(len(crowd.items)) if votes is None else np.asarray(votes, dtype=np.int64)
    truth = crowd.truth[crowd.items[picked]]
    known = truth >= 0
    counts = np.zeros((k, k))
    np.add.at(counts, (truth[known], crowd.codes[picked][known]), 1.0)
    counts += smoothing / k
    return counts / counts.sum(axis=1, keepdims=True)


def oracle_of(crowd: Crowdset, *, strength: float = 2.0) -> Oracle:
    """The oracle of `crowd`: each worker's confusion counted on their answers with a truth,
    each row pulled towards the crowd's pooled one by `strength` pseudo-votes (a worker seen
    once on a class is not taken for perfect on it)."""
    k = len(crowd.labels)
    known = crowd.truth[crowd.items] >= 0
    workers = crowd.workers[known]
    truth = crowd.truth[crowd.items[known]]
    counts = np.zeros((crowd.n_workers, k, k))
    np.add.at(counts, (workers, truth, crowd.codes[known]), 1.0)
    pooled = true_confusion(crowd)
    confusions = (counts + strength * pooled) / (counts.sum(axis=2, keepdims=True) + strength)
    priors = np.bincount(crowd.truth[crowd.truth >= 0], minlength=k).astype(np.float64) + 1.0
    priors /= priors.sum()
    accuracy = np.einsum("t,wtt->w", priors, confusions)
    return Oracle(confusions=confusions, accuracy=accuracy, priors=priors)


def fill_label(average: FloatArray, truth: int, rng: np.random.Generator) -> int:
    """A judgment of an item whose true label is `truth` by a worker who errs like `average`."""
    return int(rng.choice(len(average), p=average[truth]))
