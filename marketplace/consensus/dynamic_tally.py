"""What a dynamic-overlap replay collected, and its accuracy on the truth: PURE (no Django).

`dynamic_replay` streams the arrivals; this module holds what one stream took (the crowd's votes
and any judgments filled in for items the data ran out of) and scores it with the default
`aggregate`, as a job's completion run would label it, and fixed overlap's curve in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketplace.consensus.aggregate import aggregate
from marketplace.consensus.dynamic_crowd import Crowdset
from marketplace.consensus.model_worker import ModelFit, combine, model_fit
from marketplace.consensus.types import ConsensusResult, IntArray


@dataclass
class StreamRun:
    """What one stream took: crowd votes (indices), judgments filled in (item, code), items at
    the maximum, refits, items the data ran out of before they settled."""

    taken: list[int]
    extra: list[tuple[int, int]]
    at_max: int
    refits: int
    ran_out: int

    def crowd(self, crowd: Crowdset) -> tuple[Crowdset, IntArray]:
        """The crowd with the filled judgments appended (each a new worker), and the votes taken."""
        picked = np.asarray(self.taken, dtype=np.int64)
        if not self.extra:
            return crowd, picked
        n, first = len(self.extra), crowd.n_workers + 1  # crowd.n_workers is the model's code
        items, codes = (
            np.array(column, dtype=np.int64) for column in zip(*self.extra, strict=True)
        )
        grown = Crowdset(
            items=np.concatenate([crowd.items, items]),
            workers=np.concatenate([crowd.workers, np.arange(first, first + n)]),
            codes=np.concatenate([crowd.codes, codes]),
            truth=crowd.truth,
            labels=crowd.labels,
            n_workers=first + n,
        )
        return grown, np.concatenate([picked, np.arange(len(crowd.items), len(crowd.items) + n)])


def fit_model(crowd: Crowdset, model: IntArray, result: ConsensusResult) -> ModelFit:
    """The model's confusion against the people's run `result`, on the items it covers."""
    items = result.items.astype(np.int64)
    answers = model[items]
    has = answers >= 0
    return model_fit(result.worker_basis[has], answers[has], result.priors)


def accuracy_of(crowd: Crowdset, picked: IntArray, scored: np.ndarray) -> float:
    """Share of scored items whose default-consensus label over `picked` votes is the truth."""
    return scored_accuracy(crowd, picked, scored, None)[0]


def scored_accuracy(
    crowd: Crowdset, picked: IntArray, scored: np.ndarray, model: IntArray | None
) -> tuple[float, float | None]:
    """`accuracy_of` of the people's run over `picked` votes, combined with the model's votes when
    there is a model, and the model's accuracy as that run measured it."""
    if not len(picked):
        return float("nan"), None
    result = aggregate(crowd.subset(picked))
    labels, model_accuracy = result.label_index, None
    if model is not None:
        fitted = fit_model(crowd, model, result)
        answers = model[result.items.astype(np.int64)]
        labels = combine(result.probabilities, answers, fitted.confusion).argmax(axis=1)
        model_accuracy = fitted.accuracy
    judged = scored[result.items]
    truth = crowd.truth[result.items[judged]]
    accuracy = float(np.mean(labels[judged] == truth)) if judged.any() else np.nan
    return float(accuracy), model_accuracy


def fixed_curve(
    crowd: Crowdset, order: IntArray, scored: np.ndarray, n_items: int
) -> list[tuple[float, float]]:
    """(judgments per item, accuracy) of fixed overlap K = 1, 2, ... in the stream's order."""
    rank = np.empty(len(order), dtype=np.int64)
    stream_items = crowd.items[order]
    sort = np.argsort(stream_items, kind="stable")  # within an item, stream order is kept
    counts = np.bincount(stream_items, minlength=len(crowd.truth))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank[sort] = np.arange(len(order)) - starts[stream_items[sort]]
    curve = []
    for k in range(1, int(counts.max(initial=0)) + 1):
        picked = order[rank < k]
        curve.append((len(picked) / n_items, accuracy_of(crowd, picked, scored)))
    return curve
