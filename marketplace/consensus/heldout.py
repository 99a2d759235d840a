"""Scoring a candidate model on data it was not fitted on (choose.py's module docstring says why
and how the scores are compared): the log-probability of held-out judgments, the share of gold
labelled right from the other fold's gold, item by item, and the subsets and samples they fit on."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from marketplace.consensus.em import EPS, EmFit
from marketplace.consensus.encode import Encoded
from marketplace.consensus.types import FloatArray, IntArray

Fitter = Callable[[Encoded], EmFit]


def heldout_loglik(enc: Encoded, fitter: Fitter, *, seed: int = 0, folds: int = 2) -> FloatArray:
    """Log-probability of each held-out judgment given its item's other held-out judgments, under
    the model fitted on the other fold's items (see the module docstring). The same seed gives
    every model the same judgments in the same order, so scores can be compared pairwise."""
    fold = np.random.default_rng(seed).integers(0, folds, enc.n_items)
    parts: list[FloatArray] = []
    for held in range(folds):
        train = fold[enc.item_idx] != held
        test = ~train
        if not train.any() or not test.any():
            continue
        sub = vote_subset(enc, train)
        fit = fitter(sub)
        per_vote = _held_out_vote_log(enc, sub, fit, test)  # (votes, true labels)
        items = enc.item_idx[test]
        per_item = np.zeros((enc.n_items, enc.n_labels))
        np.add.at(per_item, items, per_vote)
        others = np.bincount(items, minlength=enc.n_items)[items] >= 2  # predictable from peers
        log_post = per_item[items] - per_vote + np.log(np.maximum(fit.priors, EPS))
        log_post -= log_post.max(axis=1, keepdims=True)
        post = np.exp(log_post)
        post /= post.sum(axis=1, keepdims=True)
        predicted = (post * np.exp(per_vote)).sum(axis=1)
        parts.append(np.log(np.maximum(predicted[others], EPS)))
    return np.concatenate(parts) if parts else np.empty(0)


def gold_right(enc: Encoded, fitter: Fitter, *, seed: int = 0, folds: int = 2) -> npt.NDArray[np.bool_]:
    """Per gold item (in `enc.gold_rows` order): labelled right by a fit given the other fold's
    gold only. The same seed gives every model the same folds, so models compare item by item."""
    fold = np.random.default_rng(seed).permutation(len(enc.gold_rows)) % folds
    right = np.zeros(len(enc.gold_rows), dtype=bool)
    for held in range(folds):
        keep = fold != held
        given = dataclasses.replace(enc, gold_rows=enc.gold_rows[keep], gold_codes=enc.gold_codes[keep])
        fit = fitter(given)
        right[~keep] = fit.posteriors[enc.gold_rows[~keep]].argmax(axis=1) == enc.gold_codes[~keep]
    return right


def vote_subset(enc: Encoded, votes: np.ndarray, *, keep_gold: bool = False) -> Encoded:
    """The votes under the mask, re-indexed densely (items and workers with no vote dropped);
    the gold of the items kept when `keep_gold`, else none."""
    items, item_idx = np.unique(enc.item_idx[votes], return_inverse=True)
    workers, worker_idx = np.unique(enc.worker_idx[votes], return_inverse=True)
    item_idx = item_idx.astype(np.int64)
    starts = np.flatnonzero(np.r_[True, item_idx[1:] != item_idx[:-1]]).astype(np.int64)
    gold_rows: IntArray = np.empty(0, dtype=np.int64)
    gold_codes: IntArray = np.empty(0, dtype=np.int64)
    if keep_gold and len(enc.gold_rows):
        kept = np.isin(enc.gold_rows, items)
        gold_rows = np.searchsorted(items, enc.gold_rows[kept]).astype(np.int64)
        gold_codes = enc.gold_codes[kept]
    return Encoded(labels=enc.labels, items=enc.items[items], workers=workers, item_idx=item_idx,
                   worker_idx=worker_idx.astype(np.int64), codes=enc.codes[votes], item_starts=starts,
                   gold_rows=gold_rows, gold_codes=gold_codes)


def _held_out_vote_log(enc: Encoded, sub: Encoded, fit: EmFit, test: np.ndarray) -> FloatArray:
    """(held-out votes, true labels): log P(the vote's answer | true label) under the fit; a
    worker the fit never saw answers as the crowd's average. Only the cells the votes read are
    gathered: a (workers, K, K) copy per fold was 400 MB with 20,000 workers and 50 labels."""
    judged = np.bincount(sub.worker_idx, minlength=sub.n_workers).astype(np.float64)
    average = np.tensordot(judged, fit.confusions, axes=(0, 0)) / max(judged.sum(), 1.0)  # (K, K)
    position = np.full(enc.n_workers, -1, dtype=np.int64)
    position[sub.workers] = np.arange(sub.n_workers)  # sub.workers holds positions in enc's workers
    worker, answer = position[enc.worker_idx[test]], enc.codes[test]
    seen = worker >= 0
    cells = np.empty((len(worker), enc.n_labels))
    cells[seen] = fit.confusions[worker[seen], :, answer[seen]]
    cells[~seen] = average[:, answer[~seen]].T
    return np.log(np.maximum(cells, EPS))


def selection_sample(enc: Encoded, limit: int, seed: int = 0) -> Encoded:
    """All the votes, or those of a seeded random share of the items totalling about `limit`
    plus every gold item (gold is what the gold score is computed on), gold kept."""
    if enc.n_votes <= limit:
        return enc
    chosen = np.random.default_rng(seed).random(enc.n_items) < limit / enc.n_votes
    chosen[enc.gold_rows] = True
    return vote_subset(enc, chosen[enc.item_idx], keep_gold=True)
