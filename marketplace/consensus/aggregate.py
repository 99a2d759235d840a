"""`aggregate`: votes in, a `ConsensusResult` out, whatever the method."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np

from marketplace.consensus.em import clamp_gold, normalize_rows, soft_counts
from marketplace.consensus.encode import Encoded, encode
from marketplace.consensus.methods import DEFAULT_PRIOR_STRENGTH, MethodFit, Options, method_get
from marketplace.consensus.types import TIE_EPSILON, ConsensusResult, FloatArray, IntArray, Votes

DEFAULT_MAX_ROUNDS = 100
DEFAULT_TOL = 1e-5


def choose_labels(probabilities: FloatArray) -> IntArray:
    """Index of the most probable label per row; a tie (within TIE_EPSILON) goes to the label
    that comes first in the label set, so equal evidence always gives the same answer."""
    if not probabilities.size:
        return np.zeros(len(probabilities), dtype=np.int64)
    best = probabilities.max(axis=1, keepdims=True)
    return np.argmax(probabilities >= best - TIE_EPSILON, axis=1).astype(np.int64)


def aggregate(
    votes: Votes,
    *,
    method: str = "quorum",
    gold: Mapping[Hashable, str] | None = None,
    labels: Sequence[str] | None = None,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    tol: float = DEFAULT_TOL,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
) -> ConsensusResult:
    """Infer each item's label, and each worker's confusion matrix, from the votes.

    `gold` maps item id to its known label; gold on items without votes is ignored. `labels`
    is the full label set in order (it may name labels nobody chose and decides ties); by default
    the votes' label set. `max_rounds`/`tol` bound the iterative methods (for "quorum" `tol` is
    the largest change of any posterior in a round; crowd-kit methods apply it to their own loss).
    `prior_strength` is the pseudo-vote count of "quorum"'s pooled prior (0 = plain DS).
    Raises ValueError for an unknown method or a label outside `labels`.
    """
    chosen = method_get(method)
    if max_rounds < 0 or tol < 0 or prior_strength < 0:
        raise ValueError("max_rounds, tol and prior_strength must not be negative")
    started = time.perf_counter()
    enc = encode(votes, labels=labels, gold=gold)
    if not enc.n_votes:
        return _empty_result(method, enc, time.perf_counter() - started)
    if enc.n_labels == 1:  # one possible answer: nothing to infer (and GLAD divides by log 0)
        fit = MethodFit(np.ones((enc.n_items, 1)), 0, True, {"labels": "only one"})
    else:
        options = Options(max_rounds=max_rounds, tol=tol, prior_strength=prior_strength)
        fit = chosen.fit(enc, options)
    unaided = fit.posteriors[enc.gold_rows].copy()  # before clamping: see unaided_gold
    if chosen.uses_gold and enc.n_labels > 1 and len(enc.gold_rows):  # it learned those answers
        unaided = unaided_gold(enc, fit.refit or (lambda given: chosen.fit(given, options).posteriors))
    posteriors = clamp_gold(enc, fit.posteriors)  # no-op for methods that already clamp
    confusions = fit.confusions
    if confusions is None:
        confusions = normalize_rows(soft_counts(enc, posteriors))
    priors = fit.priors if fit.priors is not None else posteriors.mean(axis=0)
    worker_judgments = np.bincount(enc.worker_idx, minlength=enc.n_workers)
    # Expected share of a worker's votes that are right: mean P(item's label = their answer).
    fitted = None if fit.worker_posteriors is None else clamp_gold(enc, fit.worker_posteriors)
    right = (posteriors if fitted is None else fitted)[enc.item_idx, enc.codes]
    accuracy = np.bincount(enc.worker_idx, weights=right, minlength=enc.n_workers)
    parameters = dict(fit.parameters, gold_items=int(len(enc.gold_rows)))
    if len(enc.gold_rows) and not chosen.uses_gold:
        parameters["gold"] = "set on gold items after the fit"
    return ConsensusResult(
        method=method,
        labels=enc.labels,
        items=enc.items,
        probabilities=posteriors,
        label_index=choose_labels(posteriors),
        item_judgments=np.diff(np.append(enc.item_starts, enc.n_votes)),
        workers=enc.workers,
        confusions=confusions,
        worker_accuracy=accuracy / worker_judgments,
        worker_judgments=worker_judgments,
        priors=priors,
        rounds=fit.rounds,
        converged=fit.converged,
        seconds=time.perf_counter() - started,
        parameters=parameters,
        fitted_probabilities=fitted,
        gold_items=enc.items[enc.gold_rows],
        gold_unaided=unaided,
    )


#: Gold is split in this many folds for `unaided_gold`: each fold's items are labelled by a fit
#: given the other folds' answers. Two keeps the cost at two more fits of the chosen model.
GOLD_FOLDS = 2


def unaided_gold(enc: Encoded, refit: Callable[[Encoded], FloatArray], *, seed: int = 0) -> FloatArray:
    """(gold items, labels): each gold item's posterior from a fit that was not told its answer
    (`refit`: the method's chosen model, fitted again given only the other fold's gold), i.e.
    what consensus would have delivered had the item not been gold.

    Why refit rather than one E-step over the gold items with the run's own confusions: those
    confusions learned each gold answer, and on S_Rel (10 % gold, graded relevance, workers with
    few judgments each) that E-step put gold at 0.650/0.720 right against 0.617/0.659 for this
    held-out fit and 0.629/0.616 on the other items (seeds 0/1): it flattered by up to 10 points.
    A refit per gold item would cost thousands of fits; two folds cost two fits of the chosen
    model (no model selection: about 1 s each at a million judgments, see BENCHMARKS.md)."""
    unaided = np.empty((len(enc.gold_rows), enc.n_labels))
    fold = np.random.default_rng(seed).permutation(len(enc.gold_rows)) % GOLD_FOLDS
    for held in range(GOLD_FOLDS):
        out = fold == held
        if not out.any():
            continue
        given = dataclasses.replace(enc, gold_rows=enc.gold_rows[~out], gold_codes=enc.gold_codes[~out])
        unaided[out] = refit(given)[enc.gold_rows[out]]
    return unaided


def _empty_result(method: str, enc: Encoded, seconds: float) -> ConsensusResult:
    k = enc.n_labels
    none = np.empty(0, dtype=np.int64)
    return ConsensusResult(
        method=method,
        labels=enc.labels,
        items=enc.items,
        probabilities=np.empty((0, k)),
        label_index=none,
        item_judgments=none,
        workers=enc.workers,
        confusions=np.empty((0, k, k)),
        worker_accuracy=np.empty(0),
        worker_judgments=none,
        priors=np.full(k, 1.0 / k) if k else np.empty(0),
        rounds=0,
        converged=True,
        seconds=seconds,
        parameters={},
    )
