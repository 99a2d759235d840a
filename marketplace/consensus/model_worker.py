"""A model version as one more worker, scored against the people: PURE (no Django).

Dawid-Skene fits every worker's confusion from agreement with the others. A model is a worker
unlike any person: it answers every item while people answer a few each, so fitted jointly it
becomes the consensus it is measured against (on a sparse crowd, a 55 % model came out 90 %
"accurate" and led the labels). Its matrix is therefore fitted *after* the people's run, against
their posteriors, which it does not touch: on gold items those are the known answer, elsewhere
what the people's judgments say.

The fit is EM over the model's own matrix, the people's posteriors fixed: an item's posterior is
people x model column, and the matrix is the posterior-weighted count of the model's answers,
plus MODEL_PRIOR_STRENGTH pseudo-answers per true label spread evenly over the labels (a model
with little evidence stays near chance: never trusted for its name). Only items with at least one
human judgment or a gold answer count. The people's matrices being fixed, the model's accuracy
is identified even where items have one person each (agreement with people of known accuracy).

`combine` then gives each item the posterior with the models' votes (conditionally independent
given the truth, like any two workers).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from marketplace.consensus.em import EPS
from marketplace.consensus.types import TIE_EPSILON, ConsensusResult, FloatArray, IntArray

MODEL_PRIOR_STRENGTH = 4.0  # pseudo-answers per true label, spread evenly (chance)
MODEL_ROUNDS = 100
MODEL_TOL = 1e-6


@dataclass(frozen=True)
class ModelFit:
    """A model's confusion (row = true label) and what it was measured on."""

    confusion: FloatArray
    accuracy: float  # expected share of its answers that are right, under the class priors
    items: int  # items it was measured on (with people's judgments or a gold answer)
    agreement: float  # share of those on which its answer is the people's label (NaN: none)


def chance_fit(n_labels: int) -> ModelFit:
    """What is known of a model before any evidence: chance, so its votes weigh nothing."""
    k = max(n_labels, 1)
    return ModelFit(np.full((k, k), 1.0 / k), 1.0 / k, 0, float("nan"))


def model_fit(
    people: npt.ArrayLike,
    answers: npt.ArrayLike,
    priors: npt.ArrayLike,
    *,
    strength: float = MODEL_PRIOR_STRENGTH,
    rounds: int = MODEL_ROUNDS,
) -> ModelFit:
    """Fit a model's confusion on items where people judged: `people[i]` is item i's posterior
    from the people alone (n x K), `answers[i]` the model's label code there."""
    post = np.asarray(people, dtype=np.float64)
    codes = np.asarray(answers, dtype=np.int64)
    prior = np.maximum(np.asarray(priors, dtype=np.float64), EPS)
    prior = prior / prior.sum()
    k = len(prior)
    if not len(codes):
        return chance_fit(k)
    onehot = np.zeros((len(codes), k))
    onehot[np.arange(len(codes)), codes] = 1.0
    pseudo = np.full((k, k), strength / k)
    weights = post
    confusion = np.full((k, k), 1.0 / k)
    for _ in range(rounds):
        counts = weights.T @ onehot + pseudo
        updated = counts / counts.sum(axis=1, keepdims=True)
        weights = _posterior(post, codes, updated)
        done = np.abs(updated - confusion).max() < MODEL_TOL
        confusion = updated
        if done:
            break
    agreement = float(np.mean(post.argmax(axis=1) == codes))
    return ModelFit(confusion, float(prior @ np.diag(confusion)), len(codes), agreement)


def _posterior(people: FloatArray, codes: IntArray, confusion: FloatArray) -> FloatArray:
    joint = people * np.maximum(confusion[:, codes].T, EPS)
    return joint / joint.sum(axis=1, keepdims=True)


def combine(people: npt.ArrayLike, answers: npt.ArrayLike, confusion: npt.ArrayLike) -> FloatArray:
    """Items' posteriors with one model's votes: `answers[i]` is its code for item i, or -1
    where it gave none (the people's posterior stays)."""
    post = np.asarray(people, dtype=np.float64)
    codes = np.asarray(answers, dtype=np.int64)
    matrix = np.asarray(confusion, dtype=np.float64)
    out = post.copy()
    has = codes >= 0
    if has.any():
        out[has] = _posterior(post[has], codes[has], matrix)
    return out


def trusted(fit: ModelFit, *, crowd_accuracy: float) -> bool:
    """Whether the model's vote may stand in for a person's towards an item's minimum overlap:
    only once measured at least as accurate as the typical worker."""
    return fit.items > 0 and fit.accuracy >= crowd_accuracy


def with_models(
    result: ConsensusResult,
    items: npt.ArrayLike,
    models: npt.ArrayLike,
    codes: npt.ArrayLike,
    *,
    gold: Mapping[Hashable, int] | None = None,
) -> tuple[ConsensusResult, dict[int, ModelFit]]:
    """The people's run `result` with the models' votes: prediction i says model `models[i]`
    gave item `items[i]` the label code `codes[i]` (in `result.labels` order).

    Each model is fitted on the items the run has (people judged them, or gold: there the
    run's posterior is the known answer) and on the gold items nobody judged (`gold`: item ->
    label code); then every model's votes are combined into the posteriors and the labels
    chosen again. Items only a model answered get no result: a model alone never labels an item.
    """
    item_ids = np.asarray(items)
    model_ids = np.asarray(models, dtype=np.int64)
    answers = np.asarray(codes, dtype=np.int64)
    k = len(result.labels)
    known = np.isin(item_ids, result.items)
    rows = np.searchsorted(result.items, item_ids[known])
    unjudged = {item: code for item, code in (gold or {}).items() if 0 <= code < k}
    extra = np.array([not known[i] and item_ids[i] in unjudged for i in range(len(item_ids))],
                     dtype=bool)
    fits: dict[int, ModelFit] = {}
    probabilities = result.probabilities
    unaided = result.gold_unaided  # gold items as if not gold: the models vote there too
    gold_rows = np.searchsorted(result.items, result.gold_items)
    for model in np.unique(model_ids).tolist():
        mine = model_ids[known] == model
        theirs = extra & (model_ids == model)
        known_gold = np.zeros((int(theirs.sum()), k))
        known_gold[np.arange(len(known_gold)), [unjudged[i] for i in item_ids[theirs].tolist()]] = 1
        fit = model_fit(
            np.vstack([result.worker_basis[rows[mine]], known_gold]),
            np.concatenate([answers[known][mine], answers[theirs]]),
            result.priors,
        )
        fits[int(model)] = fit
        column = np.full(len(result.items), -1, dtype=np.int64)
        column[rows[mine]] = answers[known][mine]
        probabilities = combine(probabilities, column, fit.confusion)
        unaided = combine(unaided, column[gold_rows], fit.confusion)
    if not fits:
        return result, fits
    shifted = probabilities - probabilities.max(axis=1, keepdims=True)
    label_index = np.argmax(shifted >= -TIE_EPSILON, axis=1).astype(np.int64)  # first of ties
    return replace(result, probabilities=probabilities, label_index=label_index, gold_unaided=unaided), fits
