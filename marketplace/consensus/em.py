"""Dawid-Skene EM in numpy, with a prior on the confusion matrices: the core of "quorum".

Why not crowd-kit's `DawidSkene` for the default method (it stays available as "ds"):

1. **No prior after the first round.** Its `initial_error` (strategy "addition") is added to the
   soft counts only in the initialising M-step; `fit()` calls `_m_step(data, probas)` without it
   in every later round, so it cannot smooth the confusion matrix of a worker seen five times.
   Fitted freely, such a matrix says the worker is perfect on whatever the posteriors currently
   say, which feeds back into the posteriors: on a crowd of 2,000 workers x 5 judgments plain
   DS lands well below majority vote. Here every M-step adds `prior_strength` pseudo-votes per
   true label (on average; rare true labels get proportionally fewer), spread like the pooled
   confusion of the whole crowd (re-estimated each round: an empirical-Bayes Dirichlet prior).
   A worker with five votes is then judged mostly by the crowd's average behaviour (close to
   majority vote), while one with hundreds of votes is judged by their own record, as in DS.
2. **Its stopping rule.** It stops when a per-judgment evidence lower bound improves by less
   than `tol`, which can happen after two rounds on real data (D_Duck: 0.889 instead of 0.898).
   Here EM stops when no posterior moved by more than `tol` in a round, or after `max_rounds`;
   the rounds run are reported.

Otherwise the algorithm is crowd-kit's, step for step (majority-vote start, gold clamped to
one-hot after every E-step, class priors = mean posterior, probabilities clipped at 1e-10), and
with `prior_strength=0` and the same number of rounds it reproduces crowd-kit's posteriors (a
test checks this). Arrays: (K, n) per-vote gathers and (K, pairs) counts, one column per
(worker, answered label) pair; nothing per judgment is a Python object, so a round over a million
judgments takes ~40 ms. (Driving crowd-kit's own `_e_step`/`_m_step` with a prior added would keep
its pandas joins: ~0.5 s a round there.)

A round never builds the (workers, K, K) confusion matrices: a vote only reads the cell of the
label it gave, and every other cell of a worker's row is the prior's share over the same total.
With 20,000 occasional workers and 50 labels the dense matrices are 400 MB, and building them
every round took "quorum" 110 s and 2.7 GB on 90,000 judgments (13 s and 1 GB now); they are
built once, at the end, for the results (`ConfusionModel.dense`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from marketplace.consensus.encode import Encoded
from marketplace.consensus.types import FloatArray, IntArray

#: Floor for confusion counts and class priors, so no log is of zero (crowd-kit's `_EPS`).
EPS = 1e-10

#: The pooled prior's centre must say, for every true label, "the right answer is the likeliest"
#: by at least this much (diagonal >= largest off-diagonal + margin). Without it the centre, fitted
#: jointly with the posteriors, can drift to "everyone answers class 0 whatever the truth" and take
#: every item with it: 2 judgments per item on a binary crowd labelled every item alike in 2 of 5
#: seeds. The margin only binds for such runaway rows; a real crowd's average worker is well above.
DOMINANCE_MARGIN = 0.1


@dataclass(frozen=True)
class EmFit:
    posteriors: FloatArray  # (items, labels)
    confusions: FloatArray  # (workers, true label, answered label)
    priors: FloatArray  # (labels,)
    rounds: int
    converged: bool
    last_change: float = 0.0  # largest posterior change in the last round


def majority_posteriors(enc: Encoded) -> FloatArray:
    """Share of each item's votes that went to each label (rows sum to 1)."""
    k = enc.n_labels
    counts = np.bincount(enc.item_idx * k + enc.codes, minlength=enc.n_items * k)
    counts = counts.reshape(enc.n_items, k).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def clamp_gold(enc: Encoded, posteriors: FloatArray) -> FloatArray:
    """Gold items are certain: their row becomes one-hot on the gold label (in place)."""
    if len(enc.gold_rows):
        posteriors[enc.gold_rows] = 0.0
        posteriors[enc.gold_rows, enc.gold_codes] = 1.0
    return posteriors


def soft_counts(enc: Encoded, posteriors: FloatArray) -> FloatArray:
    """counts[w, t, k] = sum over worker w's votes for label k of P(item's true label is t)."""
    k, w = enc.n_labels, enc.n_workers
    cells = enc.worker_label
    per_vote = posteriors.T[:, enc.item_idx]  # (K, n): one contiguous row per true label
    counts = np.empty((k, w * k))
    for t in range(k):
        counts[t] = np.bincount(cells, weights=per_vote[t], minlength=w * k)
    return counts.reshape(k, w, k).transpose(1, 0, 2)


def normalize_rows(counts: FloatArray) -> FloatArray:
    """Rows (true labels) of each confusion matrix to probabilities; empty rows become uniform."""
    totals = counts.sum(axis=-1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[-1])
    return np.divide(counts, totals, out=uniform, where=totals > 0)


def diagonal_dominant(matrix: FloatArray, margin: float) -> FloatArray:
    """Each row (true label) of a row-stochastic matrix, mixed with the right answer just enough
    that its diagonal exceeds every other cell of the row by `margin`; rows already so are kept."""
    k = matrix.shape[0]
    if k < 2:
        return matrix
    out = matrix.copy()
    diagonal = np.diag(out).copy()
    off = np.where(np.eye(k, dtype=bool), -np.inf, out).max(axis=1)
    # Mixing x of the one-hot row: x + (1-x)d >= (1-x)o + margin  =>  x >= (o + m - d)/(1 - d + o).
    need = np.clip((off + margin - diagonal) / np.maximum(1.0 - diagonal + off, EPS), 0.0, 1.0)
    out *= (1.0 - need)[:, np.newaxis]
    out[np.arange(k), np.arange(k)] += need
    return out


class ConfusionModel(Protocol):
    """What an M-step gives the next E-step: each vote's log-likelihood under each true label,
    and (once, for the results) the workers' full confusion matrices."""

    def vote_log(self, enc: Encoded) -> FloatArray:
        """(K, n): log P(the vote's answer | true label t) for every vote."""
        ...

    def dense(self) -> FloatArray:
        """(workers, true label, answered label)."""
        ...


@dataclass(frozen=True)
class Pairs:
    """The (worker, answered label) pairs that occur in the votes: the only confusion cells a
    vote ever reads."""

    of_vote: IntArray  # (n,) each vote's pair
    worker: IntArray  # (pairs,)
    label: IntArray  # (pairs,)

    @classmethod
    def of(cls, enc: Encoded) -> Pairs:
        cells, of_vote = np.unique(enc.worker_label, return_inverse=True)
        return cls(of_vote.astype(np.int64), cells // enc.n_labels, cells % enc.n_labels)


@dataclass(frozen=True)
class PairConfusions:
    """Dawid-Skene confusions held as the cells of the pairs that occur, plus what every other
    cell is: pseudo[t, a] / totals[t, w] (the prior's share; zero without a prior)."""

    pairs: Pairs
    values: FloatArray  # (K, pairs): P(answer a_p | true t) for worker w_p
    pseudo: FloatArray  # (K, K)
    totals: FloatArray  # (K, workers): each confusion row's total before normalising

    def vote_log(self, enc: Encoded) -> FloatArray:
        return np.log(self.values)[:, self.pairs.of_vote]

    def dense(self) -> FloatArray:
        matrices = self.pseudo[np.newaxis, :, :] / self.totals.T[:, :, np.newaxis]
        matrices[self.pairs.worker, :, self.pairs.label] = self.values.T
        return matrices


def pair_confusions(
    enc: Encoded, pairs: Pairs, posteriors: FloatArray, prior_strength: float, margin: float = DOMINANCE_MARGIN
) -> PairConfusions:
    """The workers' confusions from the posteriors' soft counts plus a prior: every worker gets the
    judgments of an average worker (the pooled confusion of the crowd), `prior_strength`
    pseudo-votes per true label on average, shared between true labels as the crowd's judgments
    are (a rare label gets fewer, so a worker's record on it still counts). The pooled confusion
    is made diagonal-dominant by `margin` first (see DOMINANCE_MARGIN). `prior_strength=0` is
    plain Dawid-Skene.

    As in crowd-kit, cells of labels the worker gave are floored at EPS and the others left at
    zero before normalising: with no prior, a worker who only ever answered "no" has
    P("no" | any truth) = 1, i.e. carries no evidence, rather than evidence for "yes".

    Computed over the pairs only, O(K x (votes + workers)) instead of O(workers x K x K);
    tests/consensus/test_em.py checks it cell for cell against the dense formulation."""
    k, n_pairs = enc.n_labels, len(pairs.worker)
    per_vote = posteriors.T[:, enc.item_idx]  # (K, n)
    counts = np.empty((k, n_pairs))
    for t in range(k):
        counts[t] = np.bincount(pairs.of_vote, weights=per_vote[t], minlength=n_pairs)
    np.maximum(counts, EPS, out=counts)  # every pair is a label the worker gave: floored
    pseudo = np.zeros((k, k))
    if prior_strength > 0:
        pooled = np.empty((k, k))
        for t in range(k):
            pooled[t] = np.bincount(pairs.label, weights=counts[t], minlength=k)
        per_label = pooled.sum(axis=1)
        share = per_label / max(per_label.sum(), EPS)
        centre = diagonal_dominant(normalize_rows(pooled), margin)
        pseudo = (prior_strength * len(share) * share)[:, np.newaxis] * centre
    totals = np.empty((k, enc.n_workers))
    for t in range(k):
        totals[t] = np.bincount(pairs.worker, weights=counts[t], minlength=enc.n_workers)
    totals += pseudo.sum(axis=1)[:, np.newaxis]  # every worker gave some label: totals > 0
    values = (counts + pseudo[:, pairs.label]) / totals[:, pairs.worker]
    return PairConfusions(pairs, values, pseudo, totals)


def e_step(enc: Encoded, model: ConfusionModel, priors: FloatArray) -> FloatArray:
    """P(true label | votes) per item: log prior + the sum of log P(vote | true label)."""
    per_vote = model.vote_log(enc)  # (K, n)
    log_post = np.add.reduceat(per_vote, enc.item_starts, axis=1).T
    log_post += np.log(np.maximum(priors, EPS))
    log_post -= log_post.max(axis=1, keepdims=True)
    np.exp(log_post, out=log_post)
    log_post /= log_post.sum(axis=1, keepdims=True)
    return log_post


def run_em(enc: Encoded, m_step: Callable[[FloatArray], ConfusionModel], *, max_rounds: int, tol: float) -> EmFit:
    """EM from majority vote until no posterior moves by `tol` or `max_rounds` pass; `m_step`
    turns posteriors into the workers' confusions. Class priors are the mean posterior."""
    posteriors = clamp_gold(enc, majority_posteriors(enc))
    priors = posteriors.mean(axis=0)
    model = m_step(posteriors)
    rounds, converged, change = 0, False, 0.0
    while rounds < max_rounds:
        updated = clamp_gold(enc, e_step(enc, model, priors))
        rounds += 1
        change = float(np.abs(updated - posteriors).max())
        posteriors = updated
        priors = posteriors.mean(axis=0)
        model = m_step(posteriors)
        if change < tol:
            converged = True
            break
    return EmFit(posteriors, model.dense(), priors, rounds, converged, change)


def dawid_skene(enc: Encoded, *, prior_strength: float, max_rounds: int, tol: float) -> EmFit:
    """Dawid-Skene EM with the pooled prior (`prior_strength=0`: plain Dawid-Skene)."""
    pairs = Pairs.of(enc)
    return run_em(
        enc,
        lambda posteriors: pair_confusions(enc, pairs, posteriors, prior_strength),
        max_rounds=max_rounds,
        tol=tol,
    )
